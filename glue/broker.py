"""RabbitMQ helpers (pika, one BlockingConnection per owner and thread).

- `EventPublisher`: lifecycle events on the topic exchange `spectrojobs.events`, routing key
  `job.<reason>` with the reason's `:` written as `.` (`job.Failed.ExitCode1`, `job.Completed`), so
  a consumer binds `job.#`, `job.Failed.#` or `job.Completed`. Publisher confirms, persistent
  messages, `message_id` = `<job_id>:<uid>:<reason>` (at-least-once: a consumer dedupes on it).
- `QueueProbe`: depth and consumers of named queues by passive declare (a missing queue is absent
  from the result).
- `list_queues_http`: every queue's name, depth and consumers from the management HTTP API, when
  that plugin is enabled. On the development machines it is not (nothing listens on 15672), so the
  monitor falls back to probing the queues it can name: those of the jobs, Services, PVCs and
  leases it sees, and of the jobs in its history of the last day.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

import pika
import pika.exceptions

from glue.errors import SpectrojobsError
from glue.labels import EVENTS_EXCHANGE
from glue.monitor.policies import QueueInfo

logger = logging.getLogger(__name__)


class BrokerError(SpectrojobsError):
    """RabbitMQ could not be reached or refused an operation."""


def connection_parameters(url: str, timeout: float = 5.0) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = timeout
    params.blocked_connection_timeout = timeout
    params.connection_attempts = 1
    return params


def routing_key(reason: str) -> str:
    return "job." + reason.replace(":", ".")


class _Connected:
    """Lazily (re)opened connection and channel, closed by `close()` or the context manager."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: pika.BlockingConnection | None = None
        self._channel: Any = None

    def channel(self) -> Any:
        if self._conn is None or self._conn.is_closed:
            try:
                self._conn = pika.BlockingConnection(connection_parameters(self.url))
            except pika.exceptions.AMQPError as exc:
                raise BrokerError(f"cannot connect to RabbitMQ: {exc!r}") from exc
            self._channel = None
        if self._channel is None or self._channel.is_closed:
            self._channel = self._conn.channel()
            self._on_channel(self._channel)
        return self._channel

    def _on_channel(self, channel: Any) -> None:
        """Set-up of a fresh channel (subclasses)."""

    def close(self) -> None:
        if self._conn is not None and self._conn.is_open:
            try:
                self._conn.close()
            except pika.exceptions.AMQPError:
                logger.debug("closing the broker connection failed", exc_info=True)
        self._conn = None
        self._channel = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventPublisher(_Connected):
    def _on_channel(self, channel: Any) -> None:
        channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
        channel.confirm_delivery()

    def publish(self, reason: str, event: dict[str, Any], message_id: str) -> None:
        body = json.dumps(event, sort_keys=True).encode()
        props = pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=message_id, type="job.lifecycle",
        )
        for attempt in (1, 2):  # one reconnect: a broker restart between passes is routine
            try:
                self.channel().basic_publish(EVENTS_EXCHANGE, routing_key(reason), body, props)
                return
            except pika.exceptions.AMQPError as exc:
                self.close()
                if attempt == 2:
                    raise BrokerError(f"publishing {reason} for {message_id} failed: {exc!r}") from exc


class QueueProbe(_Connected):
    def state(self, names: Iterable[str]) -> dict[str, QueueInfo]:
        found: dict[str, QueueInfo] = {}
        for name in sorted(set(names)):
            try:
                ok = self.channel().queue_declare(name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise BrokerError(f"queue {name}: {exc!r}") from exc
                self._channel = None  # a 404 closes the channel; the next name opens a new one
                continue
            except pika.exceptions.AMQPError as exc:
                self.close()
                raise BrokerError(f"queue {name}: {exc!r}") from exc
            found[name] = QueueInfo(name, ok.method.message_count, ok.method.consumer_count)
        return found


def list_queues_http(api_url: str, amqp_url: str, timeout: float = 2.0) -> dict[str, QueueInfo] | None:
    """Every queue of the vhost from the management API, or None when the API is not reachable."""
    if not api_url:
        return None
    parsed = urllib.parse.urlparse(amqp_url)
    vhost = urllib.parse.unquote(parsed.path[1:] or "/")
    creds = f"{urllib.parse.unquote(parsed.username or 'guest')}:{urllib.parse.unquote(parsed.password or 'guest')}"
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/api/queues/{urllib.parse.quote(vhost, safe='')}"
        "?columns=name,messages,consumers",
        headers={"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (URL from config)
            rows = json.load(response)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return {
        row["name"]: QueueInfo(row["name"], int(row.get("messages") or 0), int(row.get("consumers") or 0))
        for row in rows
    }
