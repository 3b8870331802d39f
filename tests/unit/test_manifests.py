"""Every manifest the roles render validates against the Kubernetes schemas and carries the
contract of design §3 (labels, ownerReference, POD_IP bind, GPU 0 = no GPU resource, no shell)."""

from __future__ import annotations

import sys
from pathlib import Path

import kubernetes_validate
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from roles_render import render_all  # noqa: E402

from glue import labels  # noqa: E402

K8S_VERSION = "1.33.0"


def job(**overrides):
    base = {
        "job_id": "12-70788", "window": 12, "owner_hash": labels.owner_hash("alice"), "job_kind": "stream",
        "mode": "live", "source": "live", "view_type": 0, "nfft": 256, "channel_min": 1, "channel_max": 600,
        "freq_min": 0.0, "freq_max": 500.0, "display_time_axis_duration": 30.0, "display_height": 768,
        "start_time": None, "end_time": None,
    }
    return {**base, **overrides}


EXPORT = job(job_kind="export", mode="historic", source="recording", start_time=1.7e9, end_time=1.7e9 + 60)
HISTORIC = job(mode="historic", source="recording", start_time=1.7e9, end_time=1.7e9 + 60)
WATERFALL = job(view_type=2, nfft=1, freq_min=None, freq_max=None, display_time_axis_duration=None)


def manifests(spec, **overrides):
    variables = {"job_resources_job": spec, **overrides}
    docs = render_all("job_resources", "job.yml.j2", variables)
    if spec["job_kind"] == "export":
        docs = render_all("job_resources", "pvcs.yml.j2", variables) + docs
    else:
        docs += render_all("job_resources", "service.yml.j2", variables)
    return docs


def validate(doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def container(docs):
    (job_doc,) = [d for d in docs if d["kind"] == "Job"]
    return job_doc["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("spec", [job(), HISTORIC, EXPORT, WATERFALL], ids=["live", "historic", "export", "waterfall"])
def test_job_manifests_validate_against_the_kubernetes_schemas(spec):
    for doc in manifests(spec):
        validate(doc)


@pytest.mark.parametrize("spec", [job(), EXPORT], ids=["stream", "export"])
def test_every_object_carries_every_label_of_design_section_3(spec):
    expected = labels.job_labels(spec["job_id"], spec["window"], "alice", spec["job_kind"], spec["mode"])
    for doc in manifests(spec):
        assert doc["metadata"]["labels"] == expected, doc["kind"]
        if doc["kind"] == "Job":
            assert doc["spec"]["template"]["metadata"]["labels"] == expected


def test_job_lifecycle_fields_and_security_context():
    (job_doc,) = [d for d in manifests(job()) if d["kind"] == "Job"]
    spec = job_doc["spec"]
    assert job_doc["metadata"]["name"] == labels.job_name("12-70788")
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 120 and spec["activeDeadlineSeconds"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]


def test_the_streamer_binds_the_pod_ip_from_the_downward_api_without_a_shell():
    c = container(manifests(job()))
    assert c["command"] == ["streamer"]
    assert c["args"][0] == "serve"
    assert c["args"][c["args"].index("--bind") + 1] == "$(POD_IP)"
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert not {"sh", "bash", "/bin/sh", "-c"} & set(c["command"] + c["args"])
    assert c["ports"] == [{"name": "grpc", "containerPort": 5000, "protocol": "TCP"}]


def test_live_jobs_read_their_queue_and_historic_jobs_the_recordings_read_only():
    live = container(manifests(job()))
    assert live["args"][live["args"].index("--queue") + 1] == labels.queue_name("12-70788")
    historic = container(manifests(HISTORIC))
    assert "--queue" not in historic["args"]
    mounts = {m["name"]: m for m in historic["volumeMounts"]}
    assert mounts["recordings"]["readOnly"] is True
    assert historic["args"][historic["args"].index("--recordings-dir") + 1] == mounts["recordings"]["mountPath"]


def test_waterfall_has_no_frequency_range_or_duration_flags():
    args = container(manifests(WATERFALL))["args"]
    assert "--freq-min" not in args and "--display-duration" not in args
    assert args[args.index("--nfft") + 1] == "1"


@pytest.mark.parametrize("count", [1, 2])
def test_gpu_resource_name_and_count_are_variables(count):
    c = container(manifests(job(), job_resources_gpu_count=count, job_resources_gpu_resource_name="nvidia.com/gpu"))
    assert c["resources"]["requests"]["nvidia.com/gpu"] == str(count)
    assert c["resources"]["limits"]["nvidia.com/gpu"] == str(count)


def test_gpu_count_zero_is_a_cpu_job_without_any_gpu_resource():
    c = container(manifests(job(), job_resources_gpu_count=0))
    assert not [k for k in {**c["resources"]["requests"], **c["resources"]["limits"]} if "gpu" in k]


def test_service_is_a_nodeport_owned_by_the_job_on_base_port_plus_window():
    (svc,) = [d for d in manifests(job()) if d["kind"] == "Service"]
    assert svc["metadata"]["name"] == labels.service_name("12-70788")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["port"] == labels.SERVICE_BASE_PORT + 12
    assert svc["spec"]["ports"][0]["targetPort"] == labels.STREAM_CONTAINER_PORT
    (owner,) = svc["metadata"]["ownerReferences"]
    assert owner["kind"] == "Job" and owner["name"] == labels.job_name("12-70788") and owner["apiVersion"] == "batch/v1"
    assert owner["uid"] == ""  # filled with the Job's uid by spectrojobs_apply in the same call
    assert svc["spec"]["selector"] == {labels.LABEL_APP: labels.job_name("12-70788")}


def test_export_jobs_write_to_the_output_pvc_and_keep_a_data_pvc():
    docs = manifests(EXPORT)
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"] == list(
        labels.pvc_names("12-70788"))
    assert not [d for d in docs if d["kind"] == "Service"]
    c = container(docs)
    assert c["args"][:5] == ["export", "--source", "recording", "--out", "/output"]
    (job_doc,) = [d for d in docs if d["kind"] == "Job"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in job_doc["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v}
    assert claims == set(labels.pvc_names("12-70788"))


def test_a_named_secret_keeps_the_amqp_url_out_of_the_manifest():
    url = "amqps://user:s3cret@broker:5671/das"
    c = container(manifests(job(), job_resources_amqp_url=url, job_resources_amqp_secret_name="broker"))
    env = {e["name"]: e for e in c["env"]}
    assert env["STREAMER_AMQP_URL"]["valueFrom"]["secretKeyRef"] == {"name": "broker", "key": "amqp-url"}
    assert "s3cret" not in str(manifests(job(), job_resources_amqp_url=url, job_resources_amqp_secret_name="broker"))


PLATFORM_VARS = {
    "platform_amqp_url": "amqp://u:p@broker/", "platform_api_tokens": [{"identity": "ops", "token": "t", "admin": True}],
    "platform_webhooks": {"reap": {"secret": "x" * 32, "playbook": "reap.yml"}},
}


def test_platform_manifests_validate_against_the_kubernetes_schemas():
    docs = render_all("platform", "platform.yml.j2", PLATFORM_VARS)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("ServiceAccount") == 2 and kinds.count("Role") == 2 and kinds.count("Deployment") == 2
    for doc in docs:
        validate(doc)


def test_the_monitor_role_may_only_read_and_delete():
    docs = render_all("platform", "platform.yml.j2", PLATFORM_VARS)
    (role,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "spectrojobs-monitor"]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs <= {"get", "list", "watch", "delete"}
    assert all(d["metadata"].get("namespace") == "spectrojobs" for d in docs if d["kind"] != "Namespace")


def test_verify_probes_validate():
    for doc in render_all("cluster_verify", "probes.yml.j2", {}):
        validate(doc)
