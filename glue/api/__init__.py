"""The trigger API: a Flask app factory.

Settings: the DEFAULTS below, then every `GLUE_<KEY>` environment variable (values parsed as
JSON when they are JSON, e.g. `GLUE_OPEN_MODE=true`, `GLUE_MAX_WINDOWS=6`), then `test_config`.
The app refuses to start without bearer tokens unless `OPEN_MODE` is set. With
`START_SERVICES` (default) it connects to the cluster (watch-fed cache), starts the playbook
runner and opens the event history (`HISTORY_URL`, shared with the monitor); `shutdown(app)` stops them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from glue.api import auth, errors, focus, health, jobs, openapi, webhooks
from glue.api.metrics import ApiMetrics
from glue.api.service import JobService
from glue.errors import ConfigurationError
from glue.runner import REPO_ROOT, Runner

logger = logging.getLogger(__name__)


def spectrojobs_home() -> Path:
    return Path(os.environ.get("SPECTROJOBS_HOME") or Path.home() / ".spectrojobs")


def default_config() -> dict[str, Any]:
    home = spectrojobs_home()
    return {
        "NAMESPACE": os.environ.get("SPECTROJOBS_NAMESPACE") or "spectrojobs",
        "KUBECONFIG": None,  # None: K8S_AUTH_KUBECONFIG / KUBECONFIG / ~/.kube/config, or in-cluster
        "RUNS_DIR": str(home / "runs"),
        "EVIDENCE_DIR": os.environ.get("SPECTROJOBS_EVIDENCE_DIR") or str(home / "evidence"),
        "PROJECT_DIR": str(REPO_ROOT / "playbooks"),
        "INVENTORY": str(REPO_ROOT / "inventories" / "local"),
        "RUNNER_WORKERS": 4,
        "RUNNER_QUEUE": 128,
        "KEEP_RUNS": 200,
        "CREATE_TIMEOUT_S": 300,
        "CLEANUP_TIMEOUT_S": 300,
        "MAX_WINDOWS": 30,
        "RETRY_AFTER_S": 30,
        "STREAM_HOST": "127.0.0.1",
        "CREATE_EXTRAVARS": {},  # merged into every create.yml run (e.g. spectrojobs_gpu_count)
        "TOKENS_FILE": None,
        "TOKENS": None,
        "OPEN_MODE": False,
        "WEBHOOKS": {},
        "WEBHOOKS_FILE": None,
        "HISTORY_URL": os.environ.get("SPECTROJOBS_HISTORY_URL", ""),  # "": SQLite in the home
        "RECORDINGS_DIR": os.environ.get("SPECTROJOBS_RECORDINGS_DIR") or str(home / "recordings"),
        "LIVE_METADATA": {  # the synthetic interrogator's defaults (streamer.sources.synthetic)
            "prr": 2000.0, "dx": 1.0, "num_samples_per_trace": 100, "dtype": "float32",
            "fiber_start_meters": 0.0, "fiber_length_meters": 512.0, "sw_version": "spectrojobs-0.1.0",
            "number_of_channels": 512, "fiber_description": "synthetic interrogator",
        },
        "START_SERVICES": True,
        "CACHE_WATCH_TIMEOUT_S": 60,
    }


def _check(config: dict) -> None:
    for key in ("MAX_WINDOWS", "RUNNER_WORKERS", "RUNNER_QUEUE", "CREATE_TIMEOUT_S", "CLEANUP_TIMEOUT_S"):
        value = config.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"setting {key}={value!r} must be a number >= 1")
    if not isinstance(config.get("LIVE_METADATA"), dict):
        raise ConfigurationError(f"setting LIVE_METADATA={config.get('LIVE_METADATA')!r} must be a mapping")


def _start_services(app: Flask, metrics: ApiMetrics) -> None:
    from glue.cache import ClusterCache
    from glue.kube import kubeconfig_path, load_api_client

    config = app.config
    api_client = load_api_client(config["KUBECONFIG"])
    cache = ClusterCache(api_client, config["NAMESPACE"],
                         watch_timeout_s=int(config["CACHE_WATCH_TIMEOUT_S"])).start()
    # the playbooks read these (inventories/local): the API and its runs must agree on them
    envvars = {"SPECTROJOBS_NAMESPACE": config["NAMESPACE"], "SPECTROJOBS_RECORDINGS_DIR": config["RECORDINGS_DIR"],
               "SPECTROJOBS_EVIDENCE_DIR": config["EVIDENCE_DIR"]}
    if config["KUBECONFIG"] or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        envvars["K8S_AUTH_KUBECONFIG"] = str(kubeconfig_path(config["KUBECONFIG"]))
    runner = Runner(
        config["RUNS_DIR"], config["PROJECT_DIR"], config["INVENTORY"],
        workers=int(config["RUNNER_WORKERS"]), queue_size=int(config["RUNNER_QUEUE"]),
        keep_runs=int(config["KEEP_RUNS"]), envvars=envvars,
        on_finish=lambda r: metrics.runs.labels(r.playbook, r.status).inc(),
    )
    from glue.history import open_history

    history = open_history(config["HISTORY_URL"] or "")
    service = JobService(config, runner, cache, history)
    metrics.bind(runner.queue_depth, runner.running, lambda: len(service.windows_in_use()))
    app.extensions.update({"spectrojobs.cache": cache, "spectrojobs.runner": runner,
                           "spectrojobs.service": service, "spectrojobs.api_client": api_client,
                           "spectrojobs.history": history})


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(default_config())
    app.config.from_prefixed_env("GLUE")
    if test_config:
        app.config.from_mapping(test_config)
    _check(app.config)
    app.json.sort_keys = False
    app.extensions["spectrojobs.tokens"] = auth.load_tokens(app.config)
    app.extensions["spectrojobs.webhooks"] = webhooks.load_webhooks(app.config)
    metrics = ApiMetrics()
    metrics.init_app(app)
    app.extensions["spectrojobs.metrics"] = metrics
    errors.init_app(app)
    for blueprint in (jobs.bp, focus.bp, webhooks.bp, health.bp, openapi.bp):
        app.register_blueprint(blueprint)
    if app.config["START_SERVICES"]:
        _start_services(app, metrics)
    logger.info("API configured: namespace=%s max_windows=%s open_mode=%s tokens=%d webhooks=%s",
                app.config["NAMESPACE"], app.config["MAX_WINDOWS"], bool(app.config["OPEN_MODE"]),
                len(app.extensions["spectrojobs.tokens"]), sorted(app.extensions["spectrojobs.webhooks"]))
    return app


def shutdown(app: Flask, cancel_runs: bool = False) -> None:
    """Stop what create_app started: the runner (waiting for runs unless `cancel_runs`), the cache."""
    runner = app.extensions.pop("spectrojobs.runner", None)
    if runner is not None:
        runner.shutdown(cancel=cancel_runs, wait_s=600 if not cancel_runs else 30)
    cache = app.extensions.pop("spectrojobs.cache", None)
    if cache is not None:
        cache.stop()
    api_client = app.extensions.pop("spectrojobs.api_client", None)
    if api_client is not None:
        api_client.close()
    history = app.extensions.pop("spectrojobs.history", None)
    if history is not None:
        history.close()
    app.extensions.pop("spectrojobs.service", None)
