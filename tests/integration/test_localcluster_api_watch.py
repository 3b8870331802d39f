"""Watch conformance (contract §9) with the real `kubernetes.watch.Watch` and raw HTTP: initial
state, resume from a resourceVersion, 410 Expired, bookmarks, sendInitialEvents, selector
transitions, timeoutSeconds, and a server that survives clients hanging up."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from localcluster.server import LocalApiServer

pytestmark = pytest.mark.integration
NS = "default"


@pytest.fixture
def small_server() -> Iterator[LocalApiServer]:
    """An in-process server with a 5-event window and 0.3 s bookmarks."""
    server = LocalApiServer(port=0, bookmark_interval=0.3, event_window=5)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(small_server: LocalApiServer) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    configuration.host = small_server.url
    with client.ApiClient(configuration) as api_client:
        yield api_client


def lease(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"holderIdentity": "a"}}


def test_initial_state_then_live_events_and_deleted_carries_its_revision(api):
    leases = client.CoordinationV1Api(api)
    leases.create_namespaced_lease(NS, lease("before"))

    def change() -> None:
        leases.create_namespaced_lease(NS, lease("after"))
        leases.patch_namespaced_lease("after", NS, {"spec": {"holderIdentity": "b"}})
        leases.delete_namespaced_lease("after", NS)

    seen = []
    w = watch.Watch()
    for event in w.stream(leases.list_namespaced_lease, NS, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name, event["object"].metadata.resource_version))
        if len(seen) == 1:
            threading.Thread(target=change).start()
        if event["type"] == "DELETED":
            w.stop()
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "before"), ("ADDED", "after"), ("MODIFIED", "after"),
                                            ("DELETED", "after")]
    revisions = [int(rv) for _, _, rv in seen[1:]]
    assert revisions == sorted(revisions) and len(set(revisions)) == 3


def test_resume_from_resource_version_replays_exactly_the_later_events(api):
    leases = client.CoordinationV1Api(api)
    start = leases.list_namespaced_lease(NS).metadata.resource_version
    leases.create_namespaced_lease(NS, lease("r1"))
    leases.create_namespaced_lease(NS, lease("r2"))
    events = [(e["type"], e["object"].metadata.name)
              for e in watch.Watch().stream(leases.list_namespaced_lease, NS, resource_version=start,
                                            timeout_seconds=1)]
    assert events == [("ADDED", "r1"), ("ADDED", "r2")]


def test_too_old_resource_version_gives_410_with_and_without_client_retry(api):
    leases = client.CoordinationV1Api(api)
    start = leases.list_namespaced_lease(NS).metadata.resource_version
    for i in range(8):
        leases.create_namespaced_lease(NS, lease(f"old{i}"))
    with pytest.raises(ApiException) as with_timeout:
        list(watch.Watch().stream(leases.list_namespaced_lease, NS, resource_version=start, timeout_seconds=2))
    assert with_timeout.value.status == 410 and "too old resource version" in with_timeout.value.reason
    with pytest.raises(ApiException) as retried:  # no timeout: the client retries once, then raises
        list(watch.Watch().stream(leases.list_namespaced_lease, NS, resource_version=start))
    assert retried.value.status == 410


def test_bookmarks_carry_the_revision_and_close_the_stream(api):
    leases = client.CoordinationV1Api(api)
    leases.create_namespaced_lease(NS, lease("bm"))
    current = leases.list_namespaced_lease(NS).metadata.resource_version
    events = list(watch.Watch().stream(leases.list_namespaced_lease, NS, resource_version=current,
                                       allow_watch_bookmarks=True, timeout_seconds=2))
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2  # periodic (every 0.3 s) plus one before closing on the timeout
    assert events[-1]["type"] == "BOOKMARK"
    assert all(b["raw_object"]["metadata"]["resourceVersion"] == current for b in bookmarks)
    assert bookmarks[0]["raw_object"]["kind"] == "Lease"


def test_send_initial_events_ends_with_the_annotated_bookmark(small_server, api):
    client.CoordinationV1Api(api).create_namespaced_lease(NS, lease("init"))
    conn = http.client.HTTPConnection("127.0.0.1", small_server.port, timeout=10)
    try:
        conn.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases?watch=true&sendInitialEvents=true"
                            "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1")
        response = conn.getresponse()
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    finally:
        conn.close()
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    assert lines[0]["type"] == "ADDED" and lines[0]["object"]["metadata"]["name"] == "init"
    assert lines[1]["type"] == "BOOKMARK"
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_label_selector_transitions_become_added_and_deleted(api):
    leases = client.CoordinationV1Api(api)
    name = f"sel-{uuid.uuid4().hex[:6]}"
    start = leases.list_namespaced_lease(NS).metadata.resource_version
    leases.create_namespaced_lease(NS, lease(name, {"pick": "yes"}))
    leases.patch_namespaced_lease(name, NS, {"metadata": {"labels": {"pick": "no"}}})
    leases.patch_namespaced_lease(name, NS, {"spec": {"holderIdentity": "unseen"}})
    leases.patch_namespaced_lease(name, NS, {"metadata": {"labels": {"pick": "yes"}}})
    events = [e["type"] for e in watch.Watch().stream(leases.list_namespaced_lease, NS, label_selector="pick=yes",
                                                      resource_version=start, timeout_seconds=1)]
    assert events == ["ADDED", "DELETED", "ADDED"]


def test_server_survives_clients_hanging_up_mid_watch(small_server, api):
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", small_server.port))
        sock.sendall(f"GET /api/v1/namespaces/{NS}/pods?watch=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
        sock.close()
    w = watch.Watch()
    for _ in w.stream(client.CoreV1Api(api).list_namespace):
        w.stop()  # shuts the socket down under the server
    leases = client.CoordinationV1Api(api)
    leases.create_namespaced_lease(NS, lease("alive"))
    assert leases.read_namespaced_lease("alive", NS).spec.holder_identity == "a"


def test_session_cluster_watch_on_jobs_in_every_namespace(k8s_api):
    batch = client.BatchV1Api(k8s_api)
    start = batch.list_job_for_all_namespaces().metadata.resource_version
    name = f"watched-{uuid.uuid4().hex[:6]}"
    batch.create_namespaced_job("spectrojobs", {"metadata": {"name": name}, "spec": {"suspend": True, "template": {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}})
    w = watch.Watch()
    seen = []
    for event in w.stream(batch.list_job_for_all_namespaces, resource_version=start, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.namespace, event["object"].metadata.name))
        if event["object"].metadata.name == name:
            w.stop()
    assert ("ADDED", "spectrojobs", name) in seen
    batch.delete_namespaced_job(name, "spectrojobs", propagation_policy="Background")


def test_concurrent_writers_lose_nothing_and_watch_sees_every_revision_in_order():
    writers, rounds = 6, 15
    big = LocalApiServer(port=0, event_window=10000)
    big.start()
    configuration = client.Configuration()
    configuration.host = big.url
    try:
        with client.ApiClient(configuration) as api_client:
            leases = client.CoordinationV1Api(api_client)
            start = leases.list_namespaced_lease(NS).metadata.resource_version
            errors_seen: list[BaseException] = []

            def writer(w: int) -> None:
                try:
                    with client.ApiClient(configuration) as own:
                        mine = client.CoordinationV1Api(own)
                        mine.create_namespaced_lease(NS, lease(f"c{w}"))
                        for i in range(rounds):
                            mine.patch_namespaced_lease(f"c{w}", NS, {"spec": {"leaseTransitions": i + 1}})
                except BaseException as e:  # reported by the assertion below
                    errors_seen.append(e)

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert errors_seen == []
            for w in range(writers):
                assert leases.read_namespaced_lease(f"c{w}", NS).spec.lease_transitions == rounds
            revisions = [int(e["object"].metadata.resource_version) for e in watch.Watch().stream(
                leases.list_namespaced_lease, NS, resource_version=start, timeout_seconds=1)]
            assert len(revisions) == writers * (rounds + 1)
            assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
    finally:
        big.stop()
