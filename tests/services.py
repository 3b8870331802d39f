"""Service availability for tests: skip with a reason when a service is absent, fail under CI=true.

Usage: `require_tcp("RabbitMQ", "127.0.0.1", 5672)` at the top of a fixture or test.
"""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str, why: str) -> None:
    """Skip (locally) or fail (CI=true) because `what` is unavailable."""
    message = f"{what} unavailable: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_tcp(what: str, host: str, port: int) -> None:
    if not tcp_open(host, port):
        missing(what, f"nothing listens on {host}:{port}")


AMQP_URL = os.environ.get("SPECTROJOBS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
POSTGRES_URL = os.environ.get("SPECTROJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def require_rabbitmq() -> str:
    require_tcp("RabbitMQ", "127.0.0.1", 5672)
    return AMQP_URL


def require_postgres() -> str:
    require_tcp("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL
