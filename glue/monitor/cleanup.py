"""The cleaner of the monitor: one `cleanup.yml` run per pass through the project's runner."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from glue.errors import SpectrojobsError
from glue.monitor.policies import Decision

logger = logging.getLogger(__name__)


class CleanupFailed(SpectrojobsError):
    """cleanup.yml did not run to a result (error, timeout, cancel)."""


def cleanup_extravars(decisions: Sequence[Decision], reason: str) -> dict[str, Any]:
    """`job_ids`, `job_uids` ({job_id: uid} → uid preconditions on the Job deletes), `cleanup_reason`."""
    return {
        "job_ids": [d.job_id for d in decisions],
        "job_uids": {d.job_id: d.uid for d in decisions if d.uid},
        "cleanup_reason": reason,
    }


def cleaned_ids(stats: Mapping[str, Any], ok: bool, job_ids: Sequence[str]) -> set[str]:
    """The job ids the run cleaned, from the `spectrojobs.jobs` set_stats entries.

    cleanup.yml reports `result: deleted|absent|skipped` per job; `skipped` means the uid
    precondition did not match (a newer job reuses the name): the stale decision cleaned nothing,
    and the next pass decides again on fresh state. `failed`/`error`/`cleaned: false` count as not
    cleaned. Without per-job entries a successful run cleaned them all.
    """
    entries = stats.get("jobs")
    if isinstance(entries, Mapping):
        entries = [{"job_id": k, **(v if isinstance(v, Mapping) else {"status": v})} for k, v in entries.items()]
    if not isinstance(entries, list) or not entries:
        return set(job_ids) if ok else set()
    gone = set()
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("job_id") not in job_ids:
            continue
        status = str(entry.get("status") or entry.get("result") or "").lower()
        if entry.get("cleaned") is False or status in ("failed", "error", "skipped"):
            continue
        gone.add(entry["job_id"])
    return gone


class PlaybookCleaner:
    """Runs cleanup.yml through glue.runner.Runner (one run for the whole batch)."""

    def __init__(self, runner: Any, timeout_s: float, namespace: str) -> None:
        self.runner = runner
        self.timeout_s = timeout_s
        self.namespace = namespace

    def __call__(self, decisions: Sequence[Decision], reason: str) -> set[str]:
        extravars = {**cleanup_extravars(decisions, reason), "spectrojobs_namespace": self.namespace}
        result = self.runner.run("cleanup.yml", extravars, timeout_s=self.timeout_s)
        if result.status not in ("successful", "failed"):
            raise CleanupFailed(f"cleanup.yml {result.status}: {result.error or ''} ({result.artifact_dir})")
        if not result.ok:
            logger.warning("cleanup.yml failed (%s): %s", result.artifact_dir, "; ".join(result.failures[:3]))
        return cleaned_ids(result.stats, result.ok, extravars["job_ids"])
