import random
import threading

import pytest

from localcluster.allocators import (
    ClusterIPAllocator,
    NodePortAllocator,
    assign_service_allocations,
    release_service_allocations,
)
from localcluster.errors import ApiError


def _service(name="svc", type_="NodePort", ports=None, cluster_ip=None):
    spec = {"type": type_, "ports": ports if ports is not None else [{"port": 5000, "protocol": "TCP"}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def test_cluster_ips_skip_network_and_dot_one_and_are_unique():
    alloc = ClusterIPAllocator()
    first = [alloc.allocate() for _ in range(3)]
    assert first == ["10.96.0.2", "10.96.0.3", "10.96.0.4"]
    alloc.release("10.96.0.3")
    assert alloc.allocate() == "10.96.0.5"
    assert alloc.allocate("10.96.0.3") == "10.96.0.3"


def test_cluster_ip_explicit_errors():
    alloc = ClusterIPAllocator()
    alloc.mark_used("10.96.0.10")
    for requested, why in (("10.96.0.10", "already allocated"), ("192.168.0.1", "not in the valid range"),
                           ("nope", "valid IP address")):
        with pytest.raises(ApiError) as e:
            alloc.allocate(requested)
        assert e.value.code == 422 and why in e.value.message


def test_cluster_ip_range_full_is_500_and_wraps():
    alloc = ClusterIPAllocator("10.0.0.0/29")  # usable: .2 .. .6
    got = [alloc.allocate() for _ in range(5)]
    assert got == [f"10.0.0.{i}" for i in range(2, 7)]
    with pytest.raises(ApiError) as e:
        alloc.allocate()
    assert e.value.code == 500 and e.value.message == "failed to allocate a serviceIP: range is full"
    alloc.release("10.0.0.3")
    assert alloc.allocate() == "10.0.0.3"


def test_node_port_bands():
    alloc = NodePortAllocator(rand=random.Random(7))
    assert alloc.static_size == 85 + 1 and alloc.static_band == range(30000, 30086)
    ports = [alloc.allocate() for _ in range(200)]
    assert len(set(ports)) == 200
    assert all(30086 <= p <= 32767 for p in ports)


def test_node_port_upper_band_first_then_static():
    alloc = NodePortAllocator(30000, 30099, rand=random.Random(3))  # size 100 → static band of 16
    assert alloc.static_band == range(30000, 30016)
    dynamic = [alloc.allocate() for _ in range(84)]
    assert sorted(dynamic) == list(range(30016, 30100))
    static = [alloc.allocate() for _ in range(16)]
    assert sorted(static) == list(range(30000, 30016))
    with pytest.raises(ApiError) as e:
        alloc.allocate()
    assert e.value.code == 500 and e.value.message == "failed to allocate a nodePort: range is full"


def test_node_port_explicit_errors():
    alloc = NodePortAllocator()
    assert alloc.allocate(30080) == 30080
    with pytest.raises(ApiError) as e:
        alloc.allocate(30080)
    assert e.value.code == 422 and "provided port is already allocated" in e.value.message
    with pytest.raises(ApiError) as e:
        alloc.allocate(8080)
    assert e.value.code == 422
    assert "provided port is not in the valid range. The range of valid ports is 30000-32767" in e.value.message
    alloc.release(30080)
    assert not alloc.in_use(30080)
    alloc.mark_used(30081)
    assert alloc.in_use(30081)


def test_allocators_are_thread_safe():
    ports, ips = NodePortAllocator(), ClusterIPAllocator()
    got_ports, got_ips = [], []

    def work():
        for _ in range(100):
            got_ports.append(ports.allocate())
            got_ips.append(ips.allocate())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got_ports)) == 800 and len(set(got_ips)) == 800


def test_assign_whole_service_and_the_exact_taken_port_error():
    ports, ips = NodePortAllocator(), ClusterIPAllocator()
    first = assign_service_allocations(_service(ports=[{"port": 5000, "nodePort": 30080}]), None, ports, ips)
    assert first["spec"]["clusterIP"] == "10.96.0.2" and first["spec"]["clusterIPs"] == ["10.96.0.2"]
    assert first["spec"]["ports"][0]["nodePort"] == 30080
    second = _service("s", ports=[{"port": 1, "name": "a"}, {"port": 2, "name": "b", "nodePort": 30080}])
    with pytest.raises(ApiError) as e:
        assign_service_allocations(second, None, ports, ips)
    assert e.value.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 422, "reason": "Invalid",
        "message": 'Service "s" is invalid: spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated',
        "details": {"name": "s", "kind": "Service", "causes": [{
            "reason": "FieldValueInvalid", "field": "spec.ports[1].nodePort",
            "message": "Invalid value: 30080: provided port is already allocated"}]}}
    # nothing leaked from the failed attempt
    assert not ips.in_use("10.96.0.3")
    assert len([p for p in range(30000, 32768) if ports.in_use(p)]) == 1


def test_assign_forbids_node_port_on_cluster_ip_and_skips_headless():
    ports, ips = NodePortAllocator(), ClusterIPAllocator()
    with pytest.raises(ApiError) as e:
        assign_service_allocations(_service(type_="ClusterIP", ports=[{"port": 1, "nodePort": 30001}]), None, ports, ips)
    assert e.value.details["causes"][0]["reason"] == "FieldValueForbidden"
    assert not ips.in_use("10.96.0.2")
    headless = assign_service_allocations(_service(type_="ClusterIP", cluster_ip="None"), None, ports, ips)
    assert headless["spec"]["clusterIP"] == "None" and "nodePort" not in headless["spec"]["ports"][0]


def test_update_keeps_held_values_and_release_frees():
    ports, ips = NodePortAllocator(), ClusterIPAllocator()
    old = assign_service_allocations(_service(), None, ports, ips)
    same = assign_service_allocations(old, old, ports, ips)
    assert same == old
    two = _service(ports=[{"port": 5000, "name": "a", "nodePort": old["spec"]["ports"][0]["nodePort"]},
                          {"port": 6000, "name": "b"}], cluster_ip=old["spec"]["clusterIP"])
    grown = assign_service_allocations(two, old, ports, ips)
    held = [p["nodePort"] for p in grown["spec"]["ports"]]
    assert held[0] == old["spec"]["ports"][0]["nodePort"] and all(ports.in_use(p) for p in held)
    as_cluster_ip = assign_service_allocations(
        _service(type_="ClusterIP", ports=[{"port": 5000}], cluster_ip=grown["spec"]["clusterIP"]), grown, ports, ips)
    assert not any(ports.in_use(p) for p in held)
    release_service_allocations(as_cluster_ip, ports, ips)
    assert not ips.in_use(old["spec"]["clusterIP"])


def test_mark_used_rebuilds_state_after_restart():
    ports, ips = NodePortAllocator(), ClusterIPAllocator()
    ports.mark_used(31000)
    ips.mark_used("10.96.0.2")
    assert ips.allocate() == "10.96.0.3"
    with pytest.raises(ApiError):
        ports.allocate(31000)
