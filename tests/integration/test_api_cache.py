"""The watch-fed cache against the local cluster: list, watch, resume, relist after 410 Gone."""

from __future__ import annotations

import time

import pytest
from kubernetes import client as k8s

from glue.cache import ClusterCache
from glue.kube import load_api_client
from glue.labels import LABEL_JOB_ID, LABEL_MANAGED_BY, LABEL_WINDOW, MANAGED_BY
from localcluster.testing import running_cluster

pytestmark = pytest.mark.integration

NS = "cachetest"


def lease(window: int) -> dict:
    job_id = f"{window}-1234{window % 10}"
    return {"metadata": {"name": f"window-{window}", "labels": {
        LABEL_MANAGED_BY: MANAGED_BY, LABEL_JOB_ID: job_id, LABEL_WINDOW: str(window)}},
        "spec": {"holderIdentity": job_id, "leaseDurationSeconds": 60}}


@pytest.fixture
def small_window_cluster(tmp_path):
    # an event log of 5 entries: a watch resumed after more changes than that gets 410 Gone
    with running_cluster(tmp_path / "cluster", extra_args=("--event-window", "5")) as cluster:
        api = load_api_client(str(cluster.kubeconfig))
        k8s.CoreV1Api(api).create_namespace({"metadata": {"name": NS}})
        try:
            yield api
        finally:
            api.close()


def test_cache_follows_changes_and_relists_after_410(small_window_cluster):
    api = small_window_cluster
    coord = k8s.CoordinationV1Api(api)
    coord.create_namespaced_lease(NS, lease(0))
    unmanaged = {"metadata": {"name": "other"}, "spec": {"holderIdentity": "x"}}
    coord.create_namespaced_lease(NS, unmanaged)
    cache = ClusterCache(api, NS, watch_timeout_s=1).start()
    try:
        assert cache.wait_synced(20)
        assert cache.held_windows() == {0} and cache.relists == 4
        assert [o["metadata"]["name"] for o in cache.snapshot("leases")] == ["window-0"]  # selector applies

        for window in range(1, 12):  # far more events than the log keeps: other kinds' watches expire
            coord.create_namespaced_lease(NS, lease(window))
        assert cache.wait_for(lambda c: c.held_windows() == set(range(12)), 20)
        assert cache.wait_for(lambda c: c.expired > 0 and c.relists > 4, 20), "no relist after 410 Gone"
        assert cache.objects_of("3-12343")["leases"][0]["metadata"]["name"] == "window-3"
        assert "5-12345" in cache.job_ids()

        coord.delete_namespaced_lease("window-3", NS)
        assert cache.wait_for(lambda c: 3 not in c.held_windows(), 20)
        assert cache.synced()
    finally:
        cache.stop()
    assert all(not t.is_alive() for t in cache._threads)
    assert time.time() - cache.last_event_at < 60
