"""What a pod's process gets: env, argv, volumes, pod IPs, status (contract §13, docs/contracts.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcluster.controllers.podenv import (
    PodConfigError,
    PodContext,
    container_argv,
    container_env,
    container_mounts,
    expand,
    image_pull_error,
    parse_image,
    prepare_volumes,
    rewrite_path,
    volume_dirs,
    working_dir,
)
from localcluster.controllers.podip import PodIPAllocator, PodIPExhausted
from localcluster.controllers.podstatus import exit_code, pod_conditions, pod_phase, qos_class

POD = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "a"},
                 "annotations": {"batch.kubernetes.io/job-completion-index": "3"}},
    "spec": {"nodeName": "localnode", "volumes": [
        {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": "/srv/x"}},
        {"name": "cfg", "configMap": {"name": "c"}},
    ]},
}


def ctx(**kw):
    return PodContext(POD, "127.64.0.7", api_port=7000, python_dir="/venv/bin",
                      base_env={"PATH": "/usr/bin", "HOME": "/home/u"}, **kw)


def mounts():
    dirs = volume_dirs(POD, Path("/state"), Path("/state/pods/u1"))
    return container_mounts({"volumeMounts": [{"name": "data", "mountPath": "/data"},
                                              {"name": "scratch", "mountPath": "/data/tmp"},
                                              {"name": "host", "mountPath": "/in", "subPath": "sub"}]}, dirs)


def test_volume_mapping():
    assert mounts() == {"/data": "/state/volumes/ns/claim", "/data/tmp": "/state/pods/u1/volumes/scratch",
                        "/in": "/srv/x/sub"}


def test_unsupported_or_unknown_mounted_volume_is_an_error():
    dirs = volume_dirs(POD, Path("/s"), Path("/s/p"))
    with pytest.raises(PodConfigError, match='volume "cfg"'):
        container_mounts({"volumeMounts": [{"name": "cfg", "mountPath": "/etc/c"}]}, dirs)
    with pytest.raises(PodConfigError, match='"nope"'):
        container_mounts({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, dirs)


@pytest.mark.parametrize("value,expected", [
    ("/data/out.npy", "/state/volumes/ns/claim/out.npy"),
    ("/data", "/state/volumes/ns/claim"),
    ("/data/tmp/x", "/state/pods/u1/volumes/scratch/x"),  # the longest mount path wins
    ("/database", "/database"),
    ("--out=/data/o", "--out=/state/volumes/ns/claim/o"),
    ("relative/data", "relative/data"),
])
def test_rewrite_path(value, expected):
    assert rewrite_path(value, mounts()) == expected


def test_expand():
    assert expand("$(A)-$(B)-$$(A)", {"A": "1"}) == "1-$(B)-$(A)"


def test_env_has_kubelet_variables_field_refs_and_rewritten_paths():
    container = {"name": "c", "env": [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "OUT", "value": "/data/$(NAME)"},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
    ], "resources": {"limits": {"memory": "64Mi"}}}
    env = container_env(ctx(gpu_devices=(1,)), container, mounts())
    assert env["PATH"] == "/venv/bin:/usr/bin"
    assert env["HOME"] == "/home/u"
    assert env["HOSTNAME"] == "p"
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "7000")
    assert env["POD_IP"] == "127.64.0.7" and env["APP"] == "a"
    assert env["OUT"] == "/state/volumes/ns/claim/p"
    assert env["MEM"] == "64"
    assert env["CUDA_VISIBLE_DEVICES"] == env["NVIDIA_VISIBLE_DEVICES"] == "1"
    assert env["JOB_COMPLETION_INDEX"] == "3"
    assert env["LOCALCLUSTER_POD_UID"] == "u1"
    assert json.loads(env["LOCALCLUSTER_VOLUMES"])["/data"] == "/state/volumes/ns/claim"


def test_no_gpu_means_no_visible_device():
    env = container_env(ctx(), {"name": "c"}, {})
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["NVIDIA_VISIBLE_DEVICES"] == "void"


def test_config_map_refs_are_refused_unless_optional():
    ref = {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
    with pytest.raises(PodConfigError, match="configMapKeyRef"):
        container_env(ctx(), {"name": "c", "env": [ref]}, {})
    ref["valueFrom"]["configMapKeyRef"]["optional"] = True
    assert "X" not in container_env(ctx(), {"name": "c", "env": [ref]}, {})


def test_unsupported_field_path_names_it():
    with pytest.raises(PodConfigError, match="spec.bogus"):
        container_env(ctx(), {"name": "c", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]},
                      {})


def test_argv_expands_and_rewrites_without_a_shell():
    env = {"POD_IP": "127.64.0.7"}
    container = {"command": ["python", "-m", "http.server"], "args": ["--bind", "$(POD_IP)", "--directory", "/data"]}
    assert container_argv(container, env, mounts()) == [
        "python", "-m", "http.server", "--bind", "127.64.0.7", "--directory", "/state/volumes/ns/claim"]


def test_argv_needs_a_command():
    with pytest.raises(PodConfigError, match="needs a `command`"):
        container_argv({"name": "c", "args": ["x"]}, {}, {})


def test_working_dir():
    assert working_dir({"workingDir": "/data/w"}, {}, mounts(), Path("/d")) == Path("/state/volumes/ns/claim/w")
    assert working_dir({}, {}, mounts(), Path("/d")) == Path("/d")


def test_pod_ips_are_distinct_loopback_addresses_and_reused_last():
    ips = PodIPAllocator("127.64.0.0/30", start=0)
    a, b = ips.allocate(), ips.allocate()
    assert (a, b) == ("127.64.0.1", "127.64.0.2")
    with pytest.raises(PodIPExhausted):
        ips.allocate()
    ips.release(a)
    assert ips.allocate() == a


def test_pod_ip_network_must_be_loopback():
    with pytest.raises(ValueError, match="loopback"):
        PodIPAllocator("10.0.0.0/16")


def test_reserved_ips_are_skipped():
    assert PodIPAllocator("127.64.0.0/16", ["127.64.0.1"], start=0).allocate() == "127.64.0.2"


def test_pod_ips_start_at_a_random_place_by_default():
    firsts = {PodIPAllocator("127.64.0.0/16").allocate() for _ in range(5)}
    assert len(firsts) > 1 and all(ip.startswith("127.64.") for ip in firsts)


RUN = {"running": {"startedAt": "t"}}
OK = {"terminated": {"exitCode": 0}}
BAD = {"terminated": {"exitCode": 1}}


@pytest.mark.parametrize("policy,states,stopping,phase", [
    ("Never", [{"waiting": {"reason": "ContainerCreating"}}], False, "Pending"),
    ("Never", [RUN], False, "Running"),
    ("Never", [OK], False, "Succeeded"),
    ("Never", [OK, BAD], False, "Failed"),
    ("OnFailure", [BAD], False, "Running"),
    ("OnFailure", [OK], False, "Succeeded"),
    ("Always", [OK], False, "Running"),
    ("Always", [OK], True, "Succeeded"),
    ("Always", [{"terminated": {"exitCode": 143}}], True, "Failed"),
    ("Always", [{"waiting": {"reason": "CrashLoopBackOff"}}], False, "Running"),
])
def test_pod_phase(policy, states, stopping, phase):
    assert pod_phase(policy, states, stopping) == phase


def test_exit_code_of_signals():
    assert exit_code(-15) == 143 and exit_code(-9) == 137 and exit_code(3) == 3


def test_conditions_keep_transition_times_and_report_completion():
    previous = [{"type": "Ready", "status": "False", "lastTransitionTime": "T0"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "TS"}]
    conds = {c["type"]: c for c in pod_conditions("Succeeded", [{"name": "c", "ready": False}], True, previous, "T1")}
    assert conds["Ready"]["lastTransitionTime"] == "T0" and conds["Ready"]["reason"] == "PodCompleted"
    assert conds["PodScheduled"]["lastTransitionTime"] == "TS"
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    running = {c["type"]: c for c in pod_conditions("Running", [{"name": "c", "ready": True}], True, [], "T1")}
    assert running["Ready"]["status"] == running["ContainersReady"]["status"] == "True"
    failed = {c["type"]: c for c in pod_conditions("Failed", [{"name": "c", "ready": False}], True, [], "T1")}
    assert failed["Ready"]["reason"] == "PodFailed"


def test_qos_class():
    assert qos_class({"spec": {"containers": [{"name": "c"}]}}) == "BestEffort"
    limits = {"cpu": "1", "memory": "1Gi"}
    assert qos_class({"spec": {"containers": [{"resources": {"limits": limits}}]}}) == "Guaranteed"
    assert qos_class({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}) == "Burstable"


def test_prepare_volumes_creates_claims_and_checks_host_paths(tmp_path: Path):
    pod = {"spec": {"volumes": [
        {"name": "claim", "persistentVolumeClaim": {"claimName": "c"}},
        {"name": "made", "hostPath": {"path": str(tmp_path / "made"), "type": "DirectoryOrCreate"}},
        {"name": "file", "hostPath": {"path": str(tmp_path / "f.txt"), "type": "FileOrCreate"}},
    ]}}
    dirs = {"claim": tmp_path / "vol", "made": tmp_path / "made", "file": tmp_path / "f.txt"}
    prepare_volumes(pod, dirs)
    assert dirs["claim"].is_dir() and dirs["made"].is_dir() and dirs["file"].is_file()
    missing = {"spec": {"volumes": [{"name": "m", "hostPath": {"path": str(tmp_path / "no"), "type": "Directory"}}]}}
    with pytest.raises(PodConfigError, match="is not a directory"):
        prepare_volumes(missing, {"m": tmp_path / "no"})


@pytest.mark.parametrize("image,parsed", [
    ("python:3.11", ("", "python")),
    ("ghcr.io/org/spectrojobs-streamer:0.1.0", ("ghcr.io", "org/spectrojobs-streamer")),
    ("localhost:5000/streamer", ("localhost:5000", "streamer")),
    ("x@sha256:" + "a" * 64, ("", "x")),
    ("Upper/Case", None),
    ("bad tag:", None),
    ("", None),
])
def test_parse_image(image, parsed):
    assert parse_image(image) == parsed


def test_image_pull_errors_are_the_invalid_domain_hook_and_bad_references():
    assert image_pull_error("python:3.11") is None
    reason, message = image_pull_error("registry.invalid/streamer:1")
    assert reason == "ErrImagePull" and "no such host" in message and "registry.invalid" in message
    reason, message = image_pull_error("Bad Image")
    assert reason == "InvalidImageName" and "invalid reference format" in message


def test_fallback_to_logs_on_error_message(tmp_path: Path):
    from localcluster.controllers.podrun import log_tail_message

    log = tmp_path / "c.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    message = log_tail_message(log)
    assert message.startswith("line 20\n") and message.endswith("line 99\n")
    assert len(log_tail_message(log, max_bytes=10)) == 10
    assert log_tail_message(tmp_path / "missing.log") == ""
