"""The monitor's process: wiring, the loop with one exception boundary, graceful shutdown."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack, redirect_stdout
from pathlib import Path

from glue.monitor.config import MonitorConfig
from glue.monitor.metrics import MonitorMetrics
from glue.monitor.reconcile import EventRecorder, PassReport, Reconciler

logger = logging.getLogger(__name__)

HISTORY_LOOKBACK_S = 86400.0  # queues of jobs seen in the last day are probed (no management API)


class GracefulShutdown:
    """SIGTERM/SIGINT end the loop after the current pass."""

    def __init__(self, wake: threading.Event) -> None:
        self.stop = False
        self.wake = wake

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.handle)
            signal.signal(signal.SIGINT, self.handle)

    def handle(self, signum: int, frame: object) -> None:
        logger.info("signal %d: stopping after the current pass", signum)
        self.stop = True
        self.wake.set()


def runs_dir() -> Path:
    home = Path(os.environ.get("SPECTROJOBS_HOME") or Path.home() / ".spectrojobs")
    return home / "monitor-runs"


def build(cfg: MonitorConfig, stack: ExitStack, metrics: MonitorMetrics, api_client=None) -> Reconciler:
    """Every component of the monitor; what needs closing goes on `stack`."""
    from glue.broker import EventPublisher, QueueProbe
    from glue.history import open_history
    from glue.kube import load_api_client
    from glue.monitor.cleanup import PlaybookCleaner
    from glue.monitor.snapshot import ClusterReader, Snapshotter
    from glue.runner import REPO_ROOT, Runner

    api_client = api_client or stack.enter_context(load_api_client())
    history = stack.enter_context(open_history(cfg.history_url))
    publisher = stack.enter_context(EventPublisher(cfg.amqp_url)) if cfg.amqp_url else None
    probe = stack.enter_context(QueueProbe(cfg.amqp_url)) if cfg.amqp_url else None
    snapshotter = Snapshotter(
        cfg, ClusterReader(api_client, cfg.namespace), probe,
        known_job_ids=lambda: set(history.recent_job_ids(time.time() - HISTORY_LOOKBACK_S)),
        sightings=history.sightings,
    )
    runner = Runner(
        runs_dir(),
        project_dir=cfg.playbook_dir or REPO_ROOT / "playbooks",
        inventory=cfg.inventory or REPO_ROOT / "inventories" / "local",
        workers=1, queue_size=2, default_timeout_s=cfg.cleanup_timeout,
        # the local inventory reads these; the URL stays out of the run's extravars file
        envvars={"SPECTROJOBS_NAMESPACE": cfg.namespace, "SPECTROJOBS_AMQP_URL": cfg.amqp_url},
    )
    stack.callback(runner.shutdown)
    return Reconciler(
        cfg, snapshotter.take, PlaybookCleaner(runner, cfg.cleanup_timeout, cfg.namespace), publisher, history,
        EventRecorder(api_client, cfg.namespace, time.time), metrics,
    )


def run_once(cfg: MonitorConfig, as_json: bool) -> int:
    """One pass (`--once`): the report on stdout (JSON for reap.yml), logs on stderr."""
    with ExitStack() as stack:
        with redirect_stdout(sys.stderr):  # nothing but the report may reach stdout
            reconciler = build(cfg, stack, MonitorMetrics())
            report = reconciler.run_once()
    print(json.dumps(report.to_json()) if as_json else _text(report))
    return 0


def _text(report: PassReport) -> str:
    lines = [f"{'DRY-RUN ' if report.dry_run else ''}decisions: {len(report.decisions)}"]
    lines += [f"  {d.job_id} {d.reason} {d.detail}" for d in report.decisions]
    lines += [f"cleaned: {', '.join(report.cleaned) or '-'}"]
    return "\n".join(lines)


def run_forever(cfg: MonitorConfig) -> int:
    from glue.kube import load_api_client
    from glue.monitor.watch import Watcher

    wake = threading.Event()
    shutdown = GracefulShutdown(wake)
    shutdown.install()
    metrics = MonitorMetrics()
    with ExitStack() as stack:
        api_client = stack.enter_context(load_api_client())
        reconciler = build(cfg, stack, metrics, api_client)
        if cfg.metrics_port:
            serve_metrics(metrics, cfg, stack)
        if cfg.watch:
            watcher = Watcher(stack.enter_context(load_api_client()), cfg.namespace, wake, metrics)
            watcher.start()
            stack.callback(watcher.stop)
        while not shutdown.stop:
            wake.clear()
            try:
                reconciler.run_once()
            except Exception:  # the loop's one boundary: a failed pass must not end the monitor
                logger.exception("reconcile pass failed")
                metrics.errors.inc()
            wake.wait(cfg.interval)
            if wake.is_set() and not shutdown.stop:
                time.sleep(0.1)  # let a burst of watch events settle into one pass
    logger.info("monitor stopped")
    return 0


def serve_metrics(metrics: MonitorMetrics, cfg: MonitorConfig, stack: ExitStack) -> None:
    """The metrics endpoint; a busy port costs the metrics, not the cleanups (logged as an error)."""
    try:
        server, _thread = metrics.serve(cfg.metrics_port, cfg.metrics_addr)
    except OSError as exc:
        logger.error("no metrics endpoint on %s:%d: %s", cfg.metrics_addr, cfg.metrics_port, exc)
        return
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    logger.info("metrics on http://%s:%d/metrics", cfg.metrics_addr, cfg.metrics_port)


def main(cfg: MonitorConfig, once: bool = False, as_json: bool = False) -> int:
    logging.getLogger("pika").setLevel(logging.ERROR)  # INFO: every connection step; WARNING: expected 404s
    logger.info("monitor config: %s", cfg.loggable())
    if cfg.dry_run:
        logger.warning("**DRY-RUN**: no job will be cleaned up, decisions are only reported")
    if not cfg.reaper:
        logger.warning("reaper off: decisions are only reported")
    return run_once(cfg, as_json) if once else run_forever(cfg)
