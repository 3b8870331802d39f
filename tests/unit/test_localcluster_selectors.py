import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcluster.errors import ApiError
from localcluster.selectors import (
    label_selector_from_match_labels,
    label_selector_from_spec,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "streamer", "tier": "gpu", "spectrojobs.io/owner": "alice", "n": "5"}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("app=streamer", True),
    ("app==streamer", True),
    ("app = streamer", True),
    ("app=other", False),
    ("app!=other", True),
    ("app!=streamer", False),
    ("missing!=x", True),
    ("app in (streamer, other)", True),
    ("app in (a,b)", False),
    ("app notin (a,b)", True),
    ("app notin (streamer)", False),
    ("missing notin (a)", True),
    ("missing in (a)", False),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("app=streamer,tier=gpu", True),
    ("app=streamer,tier=cpu", False),
    ("spectrojobs.io/owner=alice,!missing,tier in (gpu)", True),
    ("n>4", True),
    ("n<4", False),
    ("app>4", False),
    ("missing>1", False),
    ("app in (streamer,)", True),
    ("empty=", False),
])
def test_label_selector_matches(text, expected):
    assert parse_label_selector(text).matches(LABELS) is expected


def test_empty_value_matches_empty_label_and_none_labels():
    assert parse_label_selector("empty=").matches({"empty": ""})
    assert parse_label_selector("a!=b").matches(None)
    assert not parse_label_selector("a").matches(None)
    assert parse_label_selector("").matches(None)


@pytest.mark.parametrize("text", [
    "app=a=b", "app in a,b", "app in (a", "in (a)", "=x", "app=streamer,", ",app",
    "app notin ()", "bad key=1", "app=bad value!", "-app=1", "x/y/z=1", "n>abc",
    "app=" + "v" * 64,
])
def test_label_selector_parse_errors_are_400(text):
    with pytest.raises(ApiError) as e:
        parse_label_selector(text)
    assert e.value.code == 400
    assert e.value.reason == "BadRequest"
    assert "unable to parse requirement" in e.value.message


def test_match_labels_helper_is_sorted_and_parses_back():
    text = label_selector_from_match_labels({"job-name": "j1", "batch.kubernetes.io/controller-uid": "u-1"})
    assert text == "batch.kubernetes.io/controller-uid=u-1,job-name=j1"
    assert parse_label_selector(text).matches({"job-name": "j1", "batch.kubernetes.io/controller-uid": "u-1"})
    assert label_selector_from_match_labels(None) == ""


def test_selector_from_spec_with_expressions():
    sel = label_selector_from_spec({
        "matchLabels": {"app": "streamer"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["gpu", "cpu"]},
                             {"key": "gone", "operator": "DoesNotExist"}],
    })
    assert sel.matches(LABELS)
    assert not sel.matches({"app": "streamer", "tier": "tpu"})
    assert label_selector_from_spec(None).matches({})
    with pytest.raises(ApiError) as e:
        label_selector_from_spec({"matchExpressions": [{"key": "a", "operator": "Near"}]})
    assert e.value.code == 400 and "Near" in e.value.message


_names = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,8}[a-z0-9])?", fullmatch=True)
_values = st.one_of(st.just(""), _names)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_names, _values, max_size=5), st.dictionaries(_names, _values, max_size=5))
def test_match_labels_round_trip(wanted, other):
    sel = parse_label_selector(label_selector_from_match_labels(wanted))
    assert sel.matches({**other, **wanted})
    expected = all(other.get(k) == v for k, v in wanted.items())
    assert sel.matches(other) is expected


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_names, st.sampled_from(["=", "!=", "in", "notin", "exists", "!"]),
                          st.lists(_names, min_size=1, max_size=3)), max_size=4),
       st.dictionaries(_names, _names, max_size=5))
def test_str_round_trips_and_keeps_meaning(reqs, labels):
    parts = []
    for key, op, values in reqs:
        if op == "exists":
            parts.append(key)
        elif op == "!":
            parts.append("!" + key)
        elif op in ("in", "notin"):
            parts.append(f"{key} {op} ({','.join(values)})")
        else:
            parts.append(f"{key}{op}{values[0]}")
    sel = parse_label_selector(",".join(parts))
    again = parse_label_selector(str(sel))
    assert again.matches(labels) == sel.matches(labels)
    assert str(again) == str(sel)


POD = {
    "metadata": {"name": "p1", "namespace": "ns1"},
    "spec": {"nodeName": "node-1", "restartPolicy": "Never", "schedulerName": "default-scheduler"},
    "status": {"phase": "Running", "podIP": "127.0.0.1"},
}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("metadata.name=p1", True),
    ("metadata.name==p1", True),
    ("metadata.name!=p1", False),
    ("metadata.namespace=ns1,status.phase=Running", True),
    ("status.phase!=Succeeded,status.phase!=Failed", True),
    ("spec.nodeName=", False),
    ("spec.hostNetwork=false", True),
    ("spec.serviceAccountName=", True),
    ("status.nominatedNodeName=x", False),
])
def test_pod_field_selector(text, expected):
    assert parse_field_selector(text, "pods").matches(POD) is expected


def test_unscheduled_pod_matches_empty_node_name():
    assert parse_field_selector("spec.nodeName=", "pods").matches({"metadata": {"name": "x"}, "spec": {}})


def test_job_node_and_event_fields():
    assert parse_field_selector("status.successful=0", "jobs").matches({"status": {}})
    assert parse_field_selector("status.successful=2", "jobs").matches({"status": {"succeeded": 2}})
    assert parse_field_selector("spec.unschedulable=false", "nodes").matches({"spec": {}})
    assert parse_field_selector("spec.unschedulable=true", "nodes").matches({"spec": {"unschedulable": True}})
    event = {"involvedObject": {"kind": "Pod", "name": "p1", "uid": "u1"}, "reason": "FailedScheduling",
             "type": "Warning", "source": {"component": "default-scheduler"}}
    sel = parse_field_selector("involvedObject.kind=Pod,involvedObject.name=p1,reason=FailedScheduling,"
                               "type=Warning,source=default-scheduler", "events")
    assert sel.matches(event)
    assert not parse_field_selector("involvedObject.uid=u2", "events").matches(event)


def test_escaped_values():
    obj = {"metadata": {"name": "a,b=c\\d"}}
    assert parse_field_selector(r"metadata.name=a\,b\=c\\d", "pods").matches(obj)


@pytest.mark.parametrize("text, plural, field", [
    ("spec.foo=1", "pods", "spec.foo"),
    ("status.phase=Running", "jobs", "status.phase"),
    ("spec.nodeName=x", "services", "spec.nodeName"),
    ("reason=x", "pods", "reason"),
])
def test_unsupported_field_is_400(text, plural, field):
    with pytest.raises(ApiError) as e:
        parse_field_selector(text, plural)
    assert e.value.code == 400
    assert e.value.message == f"field label not supported: {field}"


@pytest.mark.parametrize("text", ["metadata.name", "=x", "metadata.name~x"])
def test_field_selector_syntax_errors_are_400(text):
    with pytest.raises(ApiError) as e:
        parse_field_selector(text, "pods")
    assert e.value.code == 400 and text in e.value.message
