"""Prometheus metrics of the API, in a registry of the app's own (several apps may share a process)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "spectrojobs_api_request_seconds", "API request latency",
            ["method", "endpoint", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.runs = Counter(
            "spectrojobs_api_runs", "Playbook runs finished, by playbook and terminal status",
            ["playbook", "status"], registry=self.registry,
        )
        self.queue_depth = Gauge(
            "spectrojobs_api_runner_queue_depth", "Playbook runs waiting for a worker", registry=self.registry,
        )
        self.running = Gauge(
            "spectrojobs_api_runner_running", "Playbook runs executing now", registry=self.registry,
        )
        self.windows_in_use = Gauge(
            "spectrojobs_api_windows_in_use", "Windows held by a lease or reserved by a create in flight",
            registry=self.registry,
        )
        self.rejected = Counter(
            "spectrojobs_api_admission_rejected", "Configure requests refused for lack of a window",
            registry=self.registry,
        )

    def bind(self, queue_depth: Callable[[], float], running: Callable[[], float],
             windows: Callable[[], float]) -> None:
        self.queue_depth.set_function(queue_depth)
        self.running.set_function(running)
        self.windows_in_use.set_function(windows)

    def init_app(self, app: Flask) -> None:
        @app.before_request
        def _start_timer():
            g.started = time.perf_counter()

        @app.after_request
        def _observe(response):
            started = g.get("started")
            if started is not None:
                endpoint = request.url_rule.rule if request.url_rule else "unmatched"
                self.latency.labels(request.method, endpoint, str(response.status_code)).observe(
                    time.perf_counter() - started
                )
            return response
