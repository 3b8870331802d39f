"""The `spectrojobs` command: one parser, sub-commands contributed by their own modules.

Each module listed in SUBCOMMAND_MODULES exposes `add_parser(subparsers)`, which adds its
sub-command(s) and sets `func` (taking the parsed args, returning an exit code) as a default.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

SUBCOMMAND_MODULES = (
    "localcluster.cli",  # cluster up|down|status
    "glue.commands",  # up, down, create, status, delete, watch, demo
    "glue.monitor.cmd",  # monitor
    "glue.history_cli",  # history
    "glue.api.cmd",  # api
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectrojobs",
        description="Run spectrogram-streaming jobs for fibre-optic (DAS) monitoring on Kubernetes.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module: surface it
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
