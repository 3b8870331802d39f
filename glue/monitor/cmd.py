"""`spectrojobs monitor`: flags whose defaults come from the environment.

Every setting has a flag and an environment variable (`SPECTROJOBS_MONITOR_<SETTING>`, except the
shared `SPECTROJOBS_NAMESPACE`, `SPECTROJOBS_AMQP_URL` and `SPECTROJOBS_HISTORY_URL`); a flag
wins over the environment, the environment over the default. Booleans read true/false, yes/no,
on/off or 1/0.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

from glue.errors import ConfigurationError, SpectrojobsError
from glue.monitor.config import IDLE_RULES, MonitorConfig

SHARED_ENV = {
    "namespace": "SPECTROJOBS_NAMESPACE",
    "amqp_url": "SPECTROJOBS_AMQP_URL",
    "history_url": "SPECTROJOBS_HISTORY_URL",
    "gpu_resource": "SPECTROJOBS_GPU_RESOURCE",
}
HELP = {
    "namespace": "namespace of the jobs",
    "interval": "seconds between two list-based reconciles",
    "watch": "watch Jobs and Pods to react faster (the periodic reconcile stays the truth)",
    "reaper": "clean up (off: decide and report only, keep the metrics)",
    "dry_run": "only report what would be cleaned",
    "idle_window": "seconds without a gRPC client before Idle/ClientGone",
    "pending_timeout": "seconds pending before PendingTimeout:<cause>",
    "max_age": "seconds running before DeadlineExceeded (0 = off)",
    "orphan_grace": "seconds a Service/PVC/lease/queue may live without its Job",
    "warn_before": "seconds between the warning Event and an Idle or max-age cleanup",
    "export_retention": "seconds a finished export job (and its output PVC) is kept",
    "idle_rule": "stream: GetStatus of the streamer; cpu: legacy PodMetrics rule",
    "cpu_idle_checks": "cpu rule: number of consecutive low checks",
    "cpu_idle_spacing": "cpu rule: seconds between checks",
    "cpu_idle_millicores": "cpu rule: threshold in mCPU",
    "gpu_resource": "extended resource name of the GPUs (allocation metrics)",
    "stream_host": "host of the node ports (default: the pod's hostIP)",
    "history_url": "sqlite:///path or postgresql://... (default: SQLite in $SPECTROJOBS_HOME)",
    "amqp_url": "RabbitMQ URL for events and queue checks ('' = none)",
    "rabbitmq_api": "RabbitMQ management API base URL, used to list queues when enabled",
    "metrics_port": "Prometheus port (0 = off)",
    "metrics_addr": "Prometheus bind address",
    "playbook_dir": "directory of cleanup.yml (default: the repository's playbooks/)",
    "inventory": "inventory for cleanup.yml (default: inventories/local)",
    "cleanup_timeout": "seconds one cleanup.yml run may take",
}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_name(name: str) -> str:
    return SHARED_ENV.get(name, f"SPECTROJOBS_MONITOR_{name.upper()}")


def env_value(name: str, kind: type, default: object, environ: dict) -> object:
    """The environment's value for a setting, converted; ConfigurationError names var, value, rule."""
    var = env_name(name)
    raw = environ.get(var)
    if raw is None:
        return default
    if kind is bool:
        if raw.lower() in TRUE + FALSE:
            return raw.lower() in TRUE
        raise ConfigurationError(f"{var}={raw!r}: must be one of {'/'.join(TRUE + FALSE)}")
    try:
        return kind(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{var}={raw!r}: must be a {kind.__name__}") from exc


def add_parser(subparsers: argparse._SubParsersAction, environ: dict | None = None) -> argparse.ArgumentParser:
    environ = os.environ if environ is None else environ
    parser = subparsers.add_parser(
        "monitor", help="reconcile jobs: clean up finished, failed, idle, stuck and orphaned ones",
        description=__doc__.splitlines()[0],
    )
    types = {"bool": bool, "int": int, "float": float, "str": str}
    for f in fields(MonitorConfig):
        kind = types[f.type] if isinstance(f.type, str) else f.type
        flag = "--" + f.name.replace("_", "-")
        try:
            default = env_value(f.name, kind, f.default, environ)
        except ConfigurationError as exc:
            parser.set_defaults(config_error=str(exc))
            default = f.default
        help_text = f"{HELP.get(f.name, f.name)} (env {env_name(f.name)}; default %(default)s)"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif f.name == "idle_rule":
            parser.add_argument(flag, choices=IDLE_RULES, default=default, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=default, help=help_text)
    parser.add_argument("--once", action="store_true", help="run one pass and exit (reap.yml, cron)")
    parser.add_argument("--json", action="store_true", help="with --once: print the pass report as JSON")
    parser.set_defaults(func=run)
    return parser


def config_from_args(args: argparse.Namespace) -> MonitorConfig:
    if getattr(args, "config_error", None):
        raise ConfigurationError(args.config_error)
    return MonitorConfig(**{f.name: getattr(args, f.name) for f in fields(MonitorConfig)})


def run(args: argparse.Namespace) -> int:
    from glue.monitor.main import main

    try:
        cfg = config_from_args(args)
    except ConfigurationError as exc:
        print(f"spectrojobs monitor: {exc}", file=sys.stderr)
        return 2
    try:
        return main(cfg, once=args.once, as_json=args.json)
    except SpectrojobsError as exc:  # the boundary of a one-shot pass (the loop has its own)
        print(f"spectrojobs monitor: {exc}", file=sys.stderr)
        return 1
