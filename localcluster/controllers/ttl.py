"""TTL-after-finished: delete a finished Job `ttlSecondsAfterFinished` after its Complete/Failed
condition's lastTransitionTime, with Foreground propagation and a uid precondition."""

from __future__ import annotations

from datetime import datetime, timedelta

from localcluster.controllers.base import Controller, Obj
from localcluster.controllers.jobs import job_finished
from localcluster.errors import ApiError
from localcluster.timefmt import CLOCK, parse_time


def ttl_expires_at(job: Obj) -> datetime | None:
    ttl = job.get("spec", {}).get("ttlSecondsAfterFinished")
    finished = job_finished(job)
    if ttl is None or finished is None or job["metadata"].get("deletionTimestamp"):
        return None
    since = finished.get("lastTransitionTime") or job.get("status", {}).get("completionTime")
    if not since:
        return None
    return parse_time(since) + timedelta(seconds=int(ttl))


class TTLController(Controller):
    name = "ttl-after-finished-controller"
    interested_in = frozenset({"jobs"})
    resync_seconds = 0.5

    def sync(self) -> None:
        now = CLOCK.utcnow()
        for job in self.api.list("jobs"):
            due = ttl_expires_at(job)
            if due is None or now < due:
                continue
            meta = job["metadata"]
            try:
                self.api.delete("jobs", meta["namespace"], meta["name"], propagation="Foreground", uid=meta["uid"])
            except ApiError as e:
                if e.code != 409:  # 409: a newer Job reuses the name — not ours to delete
                    raise
