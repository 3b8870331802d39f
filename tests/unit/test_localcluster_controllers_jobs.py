"""Job controller decisions (contract §13): counts, conditions, back-off, deadline, TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcluster.controllers.jobs import (
    TRACKING_FINALIZER,
    backoff_seconds,
    format_indexes,
    job_pod,
    parse_indexes,
    plan_job,
)
from localcluster.controllers.ttl import ttl_expires_at
from localcluster.timefmt import format_time

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def job(status=None, **spec):
    return {"metadata": {"name": "j", "namespace": "ns", "uid": "ju"},
            "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6,
                     "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c"}]}},
                     **spec},
            "status": status or {}}


def pod(uid, phase="Running", finalizer=True, deleting=False, finished=None, ready=False):
    meta = {"name": f"j-{uid}", "namespace": "ns", "uid": uid}
    if finalizer:
        meta["finalizers"] = [TRACKING_FINALIZER]
    if deleting:
        meta["deletionTimestamp"] = format_time(NOW)
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if finished:
        status["containerStatuses"] = [{"state": {"terminated": {"finishedAt": format_time(finished)}}}]
    return {"metadata": meta, "status": status}


def test_new_job_starts_and_creates_one_pod():
    plan = plan_job(job(), [], NOW)
    assert plan.create == [None]
    assert plan.status == {"startTime": format_time(NOW), "active": 1, "ready": 0, "terminating": 0,
                           "uncountedTerminatedPods": {}}


def test_running_pod_is_active_and_ready():
    plan = plan_job(job({"startTime": "2026-01-02T03:04:00Z"}), [pod("a", ready=True)], NOW)
    assert plan.create == [] and plan.status["active"] == 1 and plan.status["ready"] == 1


def test_success_goes_through_uncounted_then_finalizer_then_count():
    first = plan_job(job({"startTime": "2026-01-02T03:04:00Z"}), [pod("a", "Succeeded")], NOW)
    assert first.status["uncountedTerminatedPods"] == {"succeeded": ["a"]}
    assert first.release == []  # not persisted yet
    assert [c["type"] for c in first.status["conditions"]] == ["SuccessCriteriaMet"]
    second = plan_job(job(first.status), [pod("a", "Succeeded")], NOW)
    assert [p["metadata"]["uid"] for p in second.release] == ["a"]
    assert "completionTime" not in second.status
    third = plan_job(job(second.status), [pod("a", "Succeeded", finalizer=False)], NOW)
    assert third.status["succeeded"] == 1 and third.status["uncountedTerminatedPods"] == {}
    assert third.status["completionTime"] == format_time(NOW)
    complete = next(c for c in third.status["conditions"] if c["type"] == "Complete")
    assert complete == {"type": "Complete", "status": "True", "lastProbeTime": format_time(NOW),
                        "lastTransitionTime": format_time(NOW), "reason": "CompletionsReached",
                        "message": "Reached expected number of succeeded pods"}
    assert third.events == [("Normal", "Completed", "Job completed")]


def test_backoff_limit_zero_fails_after_one_failure():
    plan = plan_job(job({"startTime": "2026-01-02T03:04:00Z"}, backoffLimit=0), [pod("a", "Failed")], NOW)
    target = ("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert [(c["type"], c["reason"], c["message"]) for c in plan.status["conditions"]] == [target]
    assert plan.create == [] and plan.events == []
    counted = plan_job(job(plan.status, backoffLimit=0), [pod("a", "Failed", finalizer=False)], NOW)
    assert [(c["type"], c["reason"], c["message"]) for c in counted.status["conditions"]] == [
        target, ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]
    assert counted.status["failed"] == 1 and "completionTime" not in counted.status
    assert counted.events == [("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]


def test_failure_is_retried_after_back_off():
    failed = pod("a", "Failed", finished=NOW - timedelta(seconds=5))
    waiting = plan_job(job({"startTime": "2026-01-02T03:04:00Z"}), [failed], NOW, backoff_base=10)
    assert waiting.create == [] and waiting.requeue_after == pytest.approx(5)
    later = plan_job(job({"startTime": "2026-01-02T03:04:00Z"}), [failed], NOW + timedelta(seconds=6),
                     backoff_base=10)
    assert later.create == [None]


@pytest.mark.parametrize("failures,expected", [(0, 0), (1, 10), (2, 20), (3, 40), (10, 360)])
def test_backoff_doubles_up_to_the_cap(failures, expected):
    assert backoff_seconds(failures, 10, 360) == expected


def test_deadline_deletes_active_pods_then_fails():
    status = {"startTime": format_time(NOW - timedelta(seconds=10))}
    running = pod("a")
    plan = plan_job(job(status, activeDeadlineSeconds=5), [running], NOW)
    assert plan.delete == [running]
    assert [c["type"] for c in plan.status["conditions"]] == ["FailureTarget"]
    assert plan.status["conditions"][0]["reason"] == "DeadlineExceeded"
    assert plan.status["conditions"][0]["message"] == "Job was active longer than specified deadline"
    assert plan.events == [] and plan.status["terminating"] == 1 and "active" not in plan.status
    # the pod is terminating, then dead: the job fails
    again = plan_job(job(plan.status, activeDeadlineSeconds=5), [pod("a", deleting=True)], NOW)
    assert [c["type"] for c in again.status["conditions"]] == ["FailureTarget"]
    done = plan_job(job(again.status, activeDeadlineSeconds=5), [pod("a", "Failed", deleting=True)], NOW)
    assert [c["type"] for c in done.status["conditions"]] == ["FailureTarget"]  # the pod is not counted yet
    done = plan_job(job(done.status, activeDeadlineSeconds=5), [pod("a", "Failed", False, True)], NOW)
    assert [c["type"] for c in done.status["conditions"]] == ["FailureTarget", "Failed"]
    assert done.events == [("Warning", "DeadlineExceeded", "Job was active longer than specified deadline")]


def test_deadline_takes_precedence_over_backoff_limit():
    status = {"startTime": format_time(NOW - timedelta(seconds=10))}
    plan = plan_job(job(status, activeDeadlineSeconds=5, backoffLimit=0), [pod("a", "Failed")], NOW)
    assert plan.status["conditions"][0]["reason"] == "DeadlineExceeded"


def test_parallel_completions():
    plan = plan_job(job(parallelism=2, completions=3), [], NOW)
    assert plan.create == [None, None]
    plan = plan_job(job({"startTime": "x", "succeeded": 2}, parallelism=2, completions=3), [], NOW)
    assert plan.create == [None]


def test_indexed_creates_missing_indexes():
    status = {"startTime": "2026-01-02T03:04:00Z", "completedIndexes": "0"}
    running = pod("b")
    running["metadata"]["annotations"] = {"batch.kubernetes.io/job-completion-index": "1"}
    plan = plan_job(job(status, parallelism=3, completions=4, completionMode="Indexed"), [running], NOW)
    assert plan.create == [2, 3]
    created = job_pod(job(completionMode="Indexed"), 2)
    assert created["metadata"]["generateName"] == "j-2-"
    assert created["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"


def test_indexes_round_trip():
    assert parse_indexes("0-2,4") == {0, 1, 2, 4}
    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"


def test_suspend_and_resume():
    running = pod("a")
    plan = plan_job(job({"startTime": "2026-01-02T03:00:00Z"}, suspend=True), [running], NOW)
    assert plan.create == [] and plan.delete == [running]
    assert [(c["type"], c["status"], c["reason"]) for c in plan.status["conditions"]] == [
        ("Suspended", "True", "JobSuspended")]
    assert plan.events == [("Normal", "Suspended", "Job suspended")]
    resumed = plan_job(job(plan.status), [], NOW + timedelta(seconds=60))
    assert [(c["type"], c["status"], c["reason"]) for c in resumed.status["conditions"]] == [
        ("Suspended", "False", "JobResumed")]
    assert resumed.status["startTime"] == format_time(NOW + timedelta(seconds=60))
    assert resumed.events == [("Normal", "Resumed", "Job resumed")] and resumed.create == [None]


def test_on_failure_restarts_count_against_the_backoff_limit():
    restarting = pod("a")
    restarting["status"]["containerStatuses"] = [{"restartCount": 2}]
    spec = {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure"}}}
    plan = plan_job(job({"startTime": "2026-01-02T03:00:00Z"}, **spec), [restarting], NOW)
    assert plan.status["conditions"][0]["reason"] == "BackoffLimitExceeded"
    assert plan.delete == [restarting]
    restarting["status"]["containerStatuses"] = [{"restartCount": 1}]
    assert "conditions" not in plan_job(job({"startTime": "x"}, **spec), [restarting], NOW).status


def test_job_pod_shape_and_no_mutation():
    j = job()
    created = job_pod(j, None)
    assert created["metadata"]["generateName"] == "j-"
    assert created["metadata"]["finalizers"] == [TRACKING_FINALIZER]
    assert created["metadata"]["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
                                                       "uid": "ju", "controller": True, "blockOwnerDeletion": True}]
    assert created["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == "ju"
    assert created["metadata"]["labels"]["app"] == "x"
    created["spec"]["containers"].append({})
    assert len(j["spec"]["template"]["spec"]["containers"]) == 1
    assert "batch.kubernetes.io/job-name" not in j["spec"]["template"]["metadata"]["labels"]


def test_ttl_expiry():
    finished = {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z"}]}
    assert ttl_expires_at(job(finished, ttlSecondsAfterFinished=30)) == NOW + timedelta(seconds=30)
    assert ttl_expires_at(job(finished)) is None
    assert ttl_expires_at(job({}, ttlSecondsAfterFinished=30)) is None
