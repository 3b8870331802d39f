"""Watch streams (contract §9) as generators of event dicts, independent of HTTP.

Start point: no resourceVersion (or "0") → a synthetic ADDED per matching object; N → replay of
the logged events after N (410 Expired when N is older than the log's window). Selectors apply
to transitions: an update that makes an object stop matching is sent as DELETED, one that makes
it start matching as ADDED. Bookmarks carry the last revision this stream has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from localcluster.objects import Obj, meta
from localcluster.resources import ResourceType
from localcluster.store import Event, Store, Subscription

DEFAULT_TIMEOUT_SECONDS = 1800.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_POLL = 1.0  # how often an idle stream checks that its client and the server are still there


@dataclass(frozen=True)
class WatchRequest:
    rtype: ResourceType
    namespace: str | None
    match: Callable[[Obj], bool]
    since: int | None  # None: start with the current state
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    bookmarks: bool = False
    send_initial_events: bool = False
    bookmark_interval: float = 60.0


def parse_since(resource_version: str | None, send_initial_events: bool | None) -> int | None:
    """The revision to resume after, or None for 'the current state first'."""
    if send_initial_events:
        return None
    if resource_version in (None, "", "0"):
        return None
    return int(resource_version)


def transform(event: Event, match: Callable[[Obj], bool]) -> dict[str, Any] | None:
    """The event as this watcher sees it through its selectors (None: not for it)."""
    now = match(event.obj)
    if event.type == "MODIFIED" and event.old is not None:
        was = match(event.old)
        if now and was:
            kind = "MODIFIED"
        elif now:
            kind = "ADDED"
        elif was:
            kind = "DELETED"
        else:
            return None
        return {"type": kind, "object": event.obj}
    return {"type": event.type, "object": event.obj} if now else None


def bookmark(rtype: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"type": "BOOKMARK",
            "object": {"kind": rtype.kind, "apiVersion": rtype.group_version, "metadata": metadata}}


def stream(store: Store, request: WatchRequest, alive: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """Subscribe now (raising the 410 ApiError at once when `request.since` is too old), then
    return the events until the timeout, or until `alive()` turns false."""
    initial, sub, last_rv = store.subscribe(request.rtype.plural, request.namespace, request.since)
    return WatchStream(store, sub, _events(store, request, alive, initial, sub, last_rv))


class WatchStream:
    """An iterator of events whose close() always ends the subscription, started or not."""

    def __init__(self, store: Store, sub: Subscription, events: Iterator[dict[str, Any]]) -> None:
        self._store, self._sub, self._events = store, sub, events

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._events

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._store.unsubscribe(self._sub)


def _events(store: Store, request: WatchRequest, alive: Callable[[], bool], initial: list[Event],
            sub: Subscription, last_rv: int) -> Iterator[dict[str, Any]]:
    try:
        for event in initial:
            out = transform(event, request.match)
            if out is not None:
                yield out
        if request.send_initial_events:
            yield bookmark(request.rtype, last_rv, initial_end=True)
        start = time.monotonic()
        deadline = start + request.timeout_seconds
        next_bookmark = start + request.bookmark_interval
        while alive():
            now = time.monotonic()
            if now >= deadline:
                if request.bookmarks:
                    yield bookmark(request.rtype, last_rv)
                return
            if request.bookmarks and now >= next_bookmark:
                yield bookmark(request.rtype, last_rv)
                next_bookmark = now + request.bookmark_interval
                continue
            until = min(deadline, next_bookmark) if request.bookmarks else deadline
            event = sub.next(min(until - now, _POLL))
            if event is None:
                continue
            last_rv = max(last_rv, event.rv)
            out = transform(event, request.match)
            if out is not None:
                yield out
    finally:
        store.unsubscribe(sub)


def object_matcher(label: Any, field: Any) -> Callable[[Obj], bool]:
    """A predicate from parsed selectors (either may be None)."""
    def match(obj: Obj) -> bool:
        if label is not None and not label.matches(meta(obj).get("labels") or {}):
            return False
        return field is None or field.matches(obj)

    return match
