"""`spectrojobs history <job_id>`: the lifecycle transitions of a job, also after it is gone."""

from __future__ import annotations

import argparse
import json
import os
import sys

from glue.errors import SpectrojobsError
from glue.history import open_history
from glue.ids import parse_job_id


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("history", help="lifecycle transitions of a job (who, what, reason, when)")
    parser.add_argument("job_id", help="job id, e.g. 12-70788")
    parser.add_argument(
        "--history-url",
        default=os.environ.get("SPECTROJOBS_HISTORY_URL", ""),
        help="sqlite:///path or postgresql://... (env SPECTROJOBS_HISTORY_URL; default: SQLite in $SPECTROJOBS_HOME)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        parse_job_id(args.job_id, max_windows=10_000)
        with open_history(args.history_url) as history:
            events = history.events(args.job_id)
    except SpectrojobsError as exc:
        print(f"spectrojobs history: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(events, indent=2))
        return 0
    if not events:
        print(f"no history for job {args.job_id}")
        return 1
    for ev in events:
        line = f"{ev['at']}  {ev['who']:<10} {ev['what']:<10} {ev['reason']}"
        print(f"{line}  {ev['detail']}".rstrip())
    return 0
