"""Typed errors of the streamer; the CLI and the gRPC servicer convert them once, at the boundary."""

from __future__ import annotations


class StreamerError(Exception):
    """Base class of every error the streamer raises on purpose."""


class ConfigError(StreamerError, ValueError):
    """A job parameter is invalid: names the field, the value and the rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        super().__init__(f"{field}={value!r}: {rule}")
        self.field = field
        self.value = value
        self.rule = rule


class SourceError(StreamerError):
    """A data source cannot deliver (no recordings for a range, missing queue, bad file)."""


class ChunkError(StreamerError, ValueError):
    """A live chunk is malformed; it is counted and dropped."""


class UsageError(StreamerError):
    """Bad command-line or environment input; `lines` holds one message per problem (exit code 2)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)
