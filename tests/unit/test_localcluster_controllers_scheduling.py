"""Scheduler decisions (contract §12): fit, reasons, the Unschedulable message."""

from __future__ import annotations

import pytest

from localcluster.controllers.quantity import parse_quantity, to_units
from localcluster.controllers.scheduler import wants_scheduling, with_condition
from localcluster.controllers.scheduling import (
    UNBOUND_CLAIMS,
    claim_problem,
    fit_failures,
    pod_requests,
    tolerates,
    unschedulable_message,
)


def node(gpu_shared="1", cpu="2", ready=True, **spec):
    return {"metadata": {"name": "localnode", "labels": {"kubernetes.io/hostname": "localnode", "disk": "ssd"}},
            "spec": spec,
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "3", "nvidia.com/gpu.shared": gpu_shared},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(uid="p1", requests=None, limits=None, phase="Pending", **spec):
    container = {"name": "c", "resources": {k: v for k, v in (("requests", requests), ("limits", limits)) if v}}
    return {"metadata": {"name": uid, "namespace": "ns", "uid": uid},
            "spec": {"containers": [container], **spec}, "status": {"phase": phase}}


@pytest.mark.parametrize("text,expected", [
    ("500m", parse_quantity("0.5")), ("1Gi", 2**30), ("1e3", 1000), ("2", 2), ("1.5k", 1500), (3, 3),
])
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


def test_parse_quantity_names_the_value():
    with pytest.raises(ValueError, match="'12x'"):
        parse_quantity("12x")


def test_units_cpu_in_millicores_and_round_up():
    assert to_units("cpu", "250m") == 250
    assert to_units("cpu", "1") == 1000
    assert to_units("memory", "1.5") == 2


def test_pod_requests_limits_default_requests_and_init_max():
    p = pod(requests={"cpu": "100m"}, limits={"cpu": "200m", "nvidia.com/gpu.shared": "1"})
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]
    assert pod_requests(p) == {"cpu": 1000, "nvidia.com/gpu.shared": 1, "pods": 1}


def test_fits_empty_node():
    assert fit_failures(pod(requests={"nvidia.com/gpu.shared": "1"}), node(), []) == []


def test_extended_resource_never_overcommitted():
    running = pod("other", requests={"nvidia.com/gpu.shared": "1"}, phase="Running")
    assert fit_failures(pod(requests={"nvidia.com/gpu.shared": "1"}), node(), [running]) == [
        "Insufficient nvidia.com/gpu.shared"]


def test_terminal_pods_free_their_requests():
    done = pod("other", requests={"nvidia.com/gpu.shared": "1"}, phase="Succeeded")
    assert fit_failures(pod(requests={"nvidia.com/gpu.shared": "1"}), node(), [done]) == []


def test_every_insufficient_resource_and_too_many_pods():
    others = [pod(f"o{i}", phase="Running") for i in range(3)]
    reasons = fit_failures(pod(requests={"cpu": "3", "nvidia.com/gpu": "1"}), node(), others)
    assert reasons == ["Too many pods", "Insufficient cpu", "Insufficient nvidia.com/gpu"]


def test_first_failing_filter_wins():
    assert fit_failures(pod(requests={"cpu": "9"}), node(unschedulable=True), []) == ["node(s) were unschedulable"]
    assert fit_failures(pod(), node(ready=False), []) == [
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]
    tainted = node(taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])
    assert fit_failures(pod(), tainted, []) == ["node(s) had untolerated taint {gpu: yes}"]
    assert fit_failures(pod(tolerations=[{"key": "gpu", "operator": "Exists"}]), tainted, []) == []
    assert fit_failures(pod(nodeSelector={"disk": "hdd"}), node(), []) == [
        "node(s) didn't match Pod's node affinity/selector"]


def test_required_node_affinity():
    term = {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    assert fit_failures(pod(affinity=affinity), node(), []) == []
    term["matchExpressions"][0]["operator"] = "NotIn"
    assert fit_failures(pod(affinity=affinity), node(), []) == ["node(s) didn't match Pod's node affinity/selector"]


def test_host_port_conflict():
    def with_port(p):
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        return p

    assert fit_failures(with_port(pod()), node(), [with_port(pod("o", phase="Running"))]) == [
        "node(s) didn't have free ports for the requested pod ports"]


@pytest.mark.parametrize("toleration,ok", [
    ({"operator": "Exists"}, True),
    ({"key": "k", "value": "v"}, True),
    ({"key": "k", "value": "w"}, False),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, False),
])
def test_tolerates(toleration, ok):
    assert tolerates([toleration], {"key": "k", "value": "v", "effect": "NoSchedule"}) is ok


def test_message_for_insufficient_gpu_is_the_real_format():
    message = unschedulable_message(1, {"localnode": ["Insufficient nvidia.com/gpu.shared"]})
    assert message == ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.shared. preemption: 0/1 nodes are "
                       "available: 1 No preemption victims found for incoming pod.")


def test_message_sorts_reasons_and_marks_unresolvable():
    message = unschedulable_message(1, {"n": ["Insufficient nvidia.com/gpu", "Insufficient cpu"]})
    assert message.startswith("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient nvidia.com/gpu. ")
    message = unschedulable_message(1, {"n": ["node(s) were unschedulable"]})
    assert message.endswith("preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")


def test_unbound_claim_is_a_prefilter_failure():
    p = pod(volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}])
    assert claim_problem(p, {}) == 'persistentvolumeclaim "data" not found'
    pending = {"metadata": {"name": "data"}, "status": {"phase": "Pending"}}
    assert claim_problem(p, {"data": pending}) == UNBOUND_CLAIMS
    assert claim_problem(p, {"data": {**pending, "status": {"phase": "Bound"}}}) is None
    assert unschedulable_message(1, {}, UNBOUND_CLAIMS) == (
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are "
        "available: 1 Preemption is not helpful for scheduling.")


def test_wants_scheduling_skips_bound_foreign_and_finished_pods():
    assert wants_scheduling(pod())
    assert not wants_scheduling(pod(nodeName="localnode"))
    assert not wants_scheduling(pod(schedulerName="other"))
    assert not wants_scheduling(pod(phase="Failed"))


def test_with_condition_keeps_transition_time_and_input():
    status = {"conditions": [{"type": "PodScheduled", "status": "False", "lastTransitionTime": "T1", "message": "a"}]}
    new = with_condition(status, {"type": "PodScheduled", "status": "False", "lastTransitionTime": "T2",
                                  "message": "b"})
    assert new["conditions"] == [{"type": "PodScheduled", "status": "False", "lastTransitionTime": "T1", "message": "b"}]
    assert status["conditions"][0]["message"] == "a"
