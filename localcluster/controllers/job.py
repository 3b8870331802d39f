"""The Job controller: applies `plan_job` decisions through the API (contract §13)."""

from __future__ import annotations

import logging

from localcluster.controllers.base import ClusterAPI, Controller, Obj
from localcluster.controllers.jobs import TRACKING_FINALIZER, job_pod, plan_job
from localcluster.errors import ApiError
from localcluster.timefmt import CLOCK

log = logging.getLogger(__name__)
COMPONENT = "job-controller"


def controller_uid(obj: Obj) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return ref.get("uid")
    return None


class JobController(Controller):
    name = "job-controller"
    interested_in = frozenset({"jobs", "pods"})
    resync_seconds = 0.5

    def __init__(self, api: ClusterAPI, backoff_base: float = 10.0, backoff_max: float = 360.0) -> None:
        super().__init__(api)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max

    def sync(self) -> None:
        jobs = self.api.list("jobs")
        owned: dict[str, list[Obj]] = {}
        for pod in self.api.list("pods"):
            uid = controller_uid(pod)
            if uid:
                owned.setdefault(uid, []).append(pod)
        for job in jobs:
            try:
                self._sync_job(job, owned.get(job["metadata"]["uid"], []))
            except ApiError as e:
                if e.code != 404:
                    log.info("job %s/%s: %s (retrying)", job["metadata"]["namespace"], job["metadata"]["name"],
                             e.message)
                    self._wake.set()

    def _sync_job(self, job: Obj, pods: list[Obj]) -> None:
        meta = job["metadata"]
        plan = plan_job(job, pods, CLOCK.utcnow(), self.backoff_base, self.backoff_max)
        if meta.get("deletionTimestamp"):
            plan.create = []
        if plan.status != job.get("status"):
            job = self.api.update_status("jobs", {**job, "status": plan.status})
        for pod in plan.release:
            self.api.remove_finalizer("pods", meta["namespace"], pod["metadata"]["name"], TRACKING_FINALIZER)
        if plan.release:
            self._wake.set()  # count them on the next pass
        for pod in plan.delete:
            self.api.delete("pods", meta["namespace"], pod["metadata"]["name"], uid=pod["metadata"]["uid"])
            self.api.record_event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                  COMPONENT)
        for index in plan.create:
            try:
                created = self.api.create("pods", job_pod(job, index))
            except ApiError as e:
                self.api.record_event(job, "Warning", "FailedCreate", f"Error creating: {e.message}", COMPONENT)
                break
            self.api.record_event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                                  COMPONENT)
        for event_type, reason, message in plan.events:
            self.api.record_event(job, event_type, reason, message, COMPONENT)
