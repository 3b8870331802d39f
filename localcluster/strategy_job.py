"""batch/v1 Jobs: API defaults, the generated selector, validation and immutability (§6, §13).

Follows `pkg/apis/batch/v1/defaults.go` (`SetDefaults_Job`) and `pkg/registry/batch/job/
strategy.go` (`generateSelector`, `validateGeneratedSelector`). Pure: returns new objects.
"""

from __future__ import annotations

import copy
from typing import Any

from localcluster.errors import ApiError
from localcluster.selectors import label_selector_from_spec
from localcluster.strategy_common import FieldErrors, check_labels, get_in
from localcluster.strategy_pod import default_pod_spec, validate_pod_spec

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
JOB_RESTART_POLICIES = ("OnFailure", "Never")
COMPLETION_MODES = ("NonIndexed", "Indexed")
_NON_NEGATIVE = ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished")


def default_job(job: dict[str, Any]) -> dict[str, Any]:
    """`SetDefaults_Job` plus the template's pod-spec defaults and the generated selector.

    Runs on every write: with the stored uid, re-running it on a defaulted Job is a no-op.
    """
    out = copy.deepcopy(job)
    metadata = out.setdefault("metadata", {})
    spec = out.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("manualSelector", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            template["spec"] = default_pod_spec(template["spec"])
        if not spec.get("manualSelector"):
            _generate_selector(spec, template, metadata.get("uid") or "", metadata.get("name") or "")
        if not metadata.get("labels") and template["metadata"].get("labels"):
            metadata["labels"] = dict(template["metadata"]["labels"])
    return out


def _generate_selector(spec: dict[str, Any], template: dict[str, Any], uid: str, name: str) -> None:
    labels = template["metadata"].setdefault("labels", {})
    if not isinstance(labels, dict):
        return
    for key, value in ((CONTROLLER_UID, uid), (JOB_NAME, name),
                       (LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name)):
        labels.setdefault(key, value)
    selector = spec.get("selector")
    if selector is None:
        selector = spec["selector"] = {}
    if isinstance(selector, dict):
        match_labels = selector.setdefault("matchLabels", {})
        if isinstance(match_labels, dict):
            match_labels.setdefault(CONTROLLER_UID, uid)


def initial_status() -> dict[str, Any]:
    return {}


def validate_job(errs: FieldErrors, job: dict[str, Any]) -> None:
    name = get_in(job, "metadata", "name")
    if isinstance(name, str) and 63 < len(name) <= 253:
        errs.invalid("metadata.name", name, "must be no more than 63 characters")
    spec = job.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    for field in _NON_NEGATIVE:
        value = spec.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errs.invalid(f"spec.{field}", value, "must be greater than or equal to 0")
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or isinstance(deadline, bool) or deadline <= 0):
        errs.invalid("spec.activeDeadlineSeconds", deadline, "must be greater than 0")
    mode = spec.get("completionMode")
    if mode not in COMPLETION_MODES:
        errs.not_supported("spec.completionMode", mode, COMPLETION_MODES)
    elif mode == "Indexed" and spec.get("completions") is None:
        errs.required("spec.completions", "when completion mode is Indexed")
    template = spec.get("template")
    if not isinstance(template, dict) or not template:
        errs.required("spec.template")
        return
    check_labels(errs, get_in(template, "metadata", "labels"), "spec.template.metadata.labels")
    template_spec = template.get("spec")
    validate_pod_spec(errs, template_spec, "spec.template.spec")
    if isinstance(template_spec, dict):
        policy = template_spec.get("restartPolicy")
        if policy in ("Always",):
            errs.not_supported("spec.template.spec.restartPolicy", policy, JOB_RESTART_POLICIES)
    _validate_selector(errs, job, spec, template)


def _validate_selector(errs: FieldErrors, job: dict[str, Any], spec: dict[str, Any],
                       template: dict[str, Any]) -> None:
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errs.required("spec.selector")
        return
    uid = get_in(job, "metadata", "uid")
    if not spec.get("manualSelector") and uid is not None:
        expected = {"matchLabels": {CONTROLLER_UID: uid}}
        if selector != expected:
            errs.invalid("spec.selector", selector, "`selector` not auto-generated")
            return
    try:
        matches = label_selector_from_spec(selector).matches(get_in(template, "metadata", "labels") or {})
    except ApiError:  # a bad operator: the selector itself is invalid
        errs.invalid("spec.selector", selector, "invalid label selector")
        return
    if not matches:
        errs.invalid("spec.template.metadata.labels", get_in(template, "metadata", "labels") or {},
                     "`selector` does not match template `labels`")


def validate_job_update(errs: FieldErrors, old: dict[str, Any], new: dict[str, Any]) -> None:
    """`spec.template`, `selector`, `completionMode` and (NonIndexed) `completions` are immutable."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    for field in ("selector", "template", "completionMode", "completions"):
        if field == "completions" and new_spec.get("completionMode") == "Indexed" \
                and new_spec.get("completions") == new_spec.get("parallelism"):
            continue  # elastic Indexed Jobs may scale completions together with parallelism
        if old_spec.get(field) != new_spec.get(field):
            errs.invalid(f"spec.{field}", new_spec.get(field), "field is immutable")
