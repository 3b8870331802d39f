"""The job service behind the HTTP routes: admission, create and cleanup runs, job views.

Admission. The API picks the window itself: a window is free when no Lease of the cluster
(watch-fed cache) holds it and no create in flight in this process reserved it. It then runs
`create.yml` with the fixed `job_id` `<window>-<unique>`, so the playbook's Lease creation stays
the cluster-wide atomic step (another creator holding the slot → `NoWindowFree` → 429), while
this process answers a request it cannot admit at once, without queueing a doomed playbook run.
A refused or failed create leaves nothing: the playbook rolls back what it made.

Reads (`view`, `views`) come from the cache plus the creates in flight and the outcome of
recent failed creates; never from a playbook run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from glue.api.errors import ApiError, not_found
from glue.api.views import job_view
from glue.cache import ClusterCache
from glue.ids import make_job_id, parse_job_id
from glue.labels import owner_hash
from glue.runner import RunHandle, Runner, RunResult

logger = logging.getLogger(__name__)

RECENT_FAILURES = 256
STATUS_BY_REASON = {"NoWindowFree": 429, "Unschedulable": 503, "ImagePullError": 502,
                    "PVCUnbound": 503, "ReadinessTimeout": 504, "Invalid": 422}


@dataclass
class PendingCreate:
    job_id: str
    window: int
    owner: str
    handle: RunHandle
    mode: str
    who: str
    fields: dict[str, Any] = field(default_factory=dict)
    settled: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.time)


def status_for_failure(result: RunResult) -> int:
    """HTTP status for a failed create run: by the playbook's reason, else by the run status."""
    reason = result.reason or ""
    code = STATUS_BY_REASON.get(reason.split(":", 1)[0])
    if code:
        return code
    return 504 if result.status == "timeout" else 502


def failure_body(result: RunResult) -> dict[str, Any]:
    return {"run_id": result.ident, "run_status": result.status, "reason": result.reason,
            "failures": list(result.failures[-3:]), **({"detail": result.error} if result.error else {})}


class JobService:
    def __init__(self, config: dict, runner: Runner, cache: ClusterCache, history: Any = None) -> None:
        self.config = config
        self.history = history
        self.runner = runner
        self.cache = cache
        self.max_windows = int(config["MAX_WINDOWS"])
        self.retry_after_s = int(config["RETRY_AFTER_S"])
        self._lock = threading.Lock()
        self._pending: dict[str, PendingCreate] = {}
        self._failed: OrderedDict[str, dict] = OrderedDict()
        self._metadata: dict[str, dict] = {}

    # -- admission -----------------------------------------------------------------------------
    def windows_in_use(self) -> set[int]:
        with self._lock:
            reserved = {p.window for p in self._pending.values()}
        return self.cache.held_windows() | reserved

    def _reserve(self, owner: str, mode: str, extravars: dict[str, Any], fields: dict[str, Any]) -> PendingCreate:
        if not self.cache.synced():  # admission needs the cluster's leases: refuse rather than guess
            raise ApiError(503, "NotReady", "the cluster cache is not synced yet; retry shortly",
                           headers={"Retry-After": "2"})
        with self._lock:
            held = self.cache.held_windows() | {p.window for p in self._pending.values()}
            free = [w for w in range(self.max_windows) if w not in held]
            if not free:
                raise ApiError(429, "NoWindowFree",
                               f"all {self.max_windows} windows are in use; retry later",
                               headers={"Retry-After": str(self.retry_after_s)})
            job_id = make_job_id(free[0])
            extravars = {**extravars, "job_id": job_id}
            handle = self.runner.submit("create.yml", extravars, timeout_s=self.config["CREATE_TIMEOUT_S"])
            pending = PendingCreate(job_id, free[0], owner_hash(owner), handle, mode, owner, fields)
            self._pending[job_id] = pending
        threading.Thread(target=self._settle, args=(pending,), daemon=True).start()
        return pending

    def _settle(self, pending: PendingCreate) -> None:
        """Wait for a create run; on success the cache must show the Job before the reservation ends."""
        result = pending.handle.wait()
        assert result is not None
        try:
            if result.ok:
                self._created(pending, result)
            else:
                self._create_failed(pending, result)
        finally:
            with self._lock:
                self._pending.pop(pending.job_id, None)
            pending.settled.set()

    def _created(self, pending: PendingCreate, result: RunResult) -> None:
        stats = result.stats
        self.remember_metadata(pending.job_id, {
            **pending.fields, "job_id": pending.job_id, "mode": pending.mode,
            "stream_url": stats.get("stream_host") or self.config["STREAM_HOST"],
            "stream_port": int(stats["stream_port"]) if stats.get("stream_port") else None,
        })
        self._record(pending.job_id, "Created", "", pending.who, stats.get("job_uid"))
        self.cache.wait_for(lambda c: bool(c.objects_of(pending.job_id)["jobs"]), 10.0)

    def _create_failed(self, pending: PendingCreate, result: RunResult) -> None:
        with self._lock:
            self._failed[pending.job_id] = {
                "job_id": pending.job_id, "phase": "Failed", "owner": pending.owner,
                "reason": result.reason or f"create run {result.status}", "window": pending.window,
                **failure_body(result),
            }
            while len(self._failed) > RECENT_FAILURES:
                self._failed.popitem(last=False)

    # -- configure -----------------------------------------------------------------------------
    def configure(self, identity: str, extravars: dict[str, Any], mode: str, fields: dict[str, Any],
                  respond_async: bool) -> tuple[PendingCreate, RunResult | None]:
        """Admit and start a create; wait for it unless async. Raises ApiError on failure.

        `fields` are the view's response fields, kept as the job's metadata once it runs."""
        pending = self._reserve(identity, mode, {**extravars, "job_owner": identity}, fields)
        if respond_async:
            return pending, None
        result = pending.handle.wait()
        pending.settled.wait(30)  # metadata kept, history written, the Job visible in the cache
        assert result is not None
        if not result.ok:
            code = status_for_failure(result)
            headers = {"Retry-After": str(self.retry_after_s)} if code == 429 else {}
            raise ApiError(code, result.reason.split(":", 1)[0] if result.reason else "CreateFailed",
                           f"create of {pending.job_id} failed: {result.reason or result.status}",
                           headers=headers, job_id=pending.job_id, **failure_body(result))
        return pending, result

    def _record(self, job_id: str, what: str, reason: str, who: str, uid: str | None) -> None:
        if self.history is None:
            return
        try:
            self.history.record(job_id, what=what, reason=reason, who=who, uid=uid or "")
        except Exception:  # history is evidence, not control: a failed write must not fail the call
            logger.exception("could not record %s of %s in the history", what, job_id)

    # -- reads ---------------------------------------------------------------------------------
    def view(self, job_id: str) -> dict[str, Any]:
        parse_job_id(job_id, max_windows=self.max_windows)
        with self._lock:
            pending = self._pending.get(job_id)
            failed = self._failed.get(job_id)
        current = job_view(job_id, self.cache.objects_of(job_id), self.config["STREAM_HOST"])
        if pending is not None:  # until the create run ends, the stream is not known to be ready
            return {**(current or {}), "job_id": job_id, "phase": "Creating", "reason": None,
                    "window": pending.window, "owner": pending.owner, "mode": pending.mode,
                    "run_id": pending.handle.ident}
        if current is not None:
            return current
        if failed is not None:
            return dict(failed)
        raise not_found("job", job_id)

    def views(self) -> list[dict[str, Any]]:
        with self._lock:
            ids = set(self._pending)
        ids |= self.cache.job_ids()
        out = []
        for job_id in sorted(ids, key=lambda j: (int(j.split("-")[0]), j)):
            try:
                out.append(self.view(job_id))
            except ApiError:  # vanished between the two reads
                continue
        return out

    def remember_metadata(self, job_id: str, metadata: dict) -> None:
        with self._lock:
            self._metadata[job_id] = metadata

    def metadata(self, job_id: str) -> dict | None:
        with self._lock:
            return self._metadata.get(job_id)

    # -- delete --------------------------------------------------------------------------------
    def delete(self, identity_name: str, admin: bool, job_id: str, respond_async: bool) -> dict[str, Any]:
        """Owner or admin only. A create in flight is cancelled (its process tree killed) first,
        then cleanup.yml removes whatever exists. Async: answered at once, done in the background."""
        view = self.view(job_id)
        if not admin and view.get("owner") != owner_hash(identity_name):
            raise ApiError(403, "Forbidden", f"job {job_id!r} belongs to another client; only its "
                           "owner or an admin may delete it")
        with self._lock:
            pending = self._pending.get(job_id)
        if pending is not None:
            pending.handle.cancel()
        if respond_async:
            threading.Thread(target=self._cleanup_logged, args=(identity_name, job_id, view, pending),
                             daemon=True).start()
            return {"job_id": job_id, "status": "Deleting"}
        result = self._cleanup(identity_name, job_id, view, pending)
        return {"job_id": job_id, "status": "Deleted", "run_id": result.ident, "result": result.stats}

    def _cleanup_logged(self, identity_name: str, job_id: str, view: dict, pending: PendingCreate | None) -> None:
        try:
            self._cleanup(identity_name, job_id, view, pending)
        except Exception:  # a background thread's boundary: the job stays visible, the monitor retries
            logger.exception("background cleanup of %s failed", job_id)

    def _cleanup(self, identity_name: str, job_id: str, view: dict, pending: PendingCreate | None) -> RunResult:
        if pending is not None:  # wait until the cancelled create has ended and been accounted for
            pending.settled.wait(self.config["CREATE_TIMEOUT_S"] + 120)
        extravars: dict[str, Any] = {"job_ids": [job_id], "cleanup_reason": "UserCancel"}
        if view.get("uid"):
            extravars["job_uids"] = {job_id: view["uid"]}
        result = self.runner.submit("cleanup.yml", extravars, timeout_s=self.config["CLEANUP_TIMEOUT_S"]).wait()
        assert result is not None
        if not result.ok:
            raise ApiError(502, "CleanupFailed", f"cleanup of {job_id} failed: {result.status}",
                           job_id=job_id, **failure_body(result))
        with self._lock:
            self._metadata.pop(job_id, None)
            self._failed.pop(job_id, None)
        self._record(job_id, "Deleted", "UserCancel", identity_name, view.get("uid"))
        return result
