"""The API's own logic without a cluster: settings, identities, errors, webhooks, Focus endpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glue.api import create_app
from glue.api.auth import Identity, identify, parse_tokens
from glue.api.openapi import DOCUMENT
from glue.api.webhooks import SIGNATURE_HEADER, signature
from glue.errors import ConfigurationError
from streamer.sources.recording import RecordingWriter

ALICE = "alice-token-0123456789"
ADMIN = "admin-token-0123456789"
SECRET = "webhook-secret-0123456789"
TOKENS = [{"identity": "alice", "token": ALICE}, {"identity": "root", "token": ADMIN, "admin": True}]


def make_app(tmp_path, **overrides):
    config = {"START_SERVICES": False, "TOKENS": TOKENS, "RECORDINGS_DIR": str(tmp_path / "rec"),
              "WEBHOOKS": {"reap": {"playbook": "reap.yml", "secret": SECRET,
                                    "variables": {"reap_dry_run": "bool", "note": "text"}}}}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path).test_client()


def auth(token=ALICE):
    return {"Authorization": f"Bearer {token}"}


def test_refuses_to_start_without_tokens_unless_open_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("GLUE_TOKENS", raising=False)
    with pytest.raises(ConfigurationError, match="GLUE_OPEN_MODE"):
        make_app(tmp_path, TOKENS=None)
    app = make_app(tmp_path, TOKENS=None, OPEN_MODE=True)
    assert app.test_client().get("/channels").status_code == 200


def test_settings_come_from_glue_environment_then_test_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GLUE_MAX_WINDOWS", "6")
    monkeypatch.setenv("GLUE_RETRY_AFTER_S", "7")
    app = make_app(tmp_path, RETRY_AFTER_S=9)
    assert app.config["MAX_WINDOWS"] == 6 and app.config["RETRY_AFTER_S"] == 9


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="MAX_WINDOWS"):
        make_app(tmp_path, MAX_WINDOWS=0)


@pytest.mark.parametrize("entries, message", [
    ([{"identity": "a b", "token": ALICE}], "identity"),
    ([{"identity": "bob", "token": "short"}], "16 characters"),
    ([{"identity": "bob", "token": ALICE, "admin": "yes"}], "admin"),
    ({"not": "a list"}, "list"),
])
def test_token_entries_are_validated(entries, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_tokens(entries, "TOKENS")


def test_identify_is_constant_time_lookup_with_open_mode_fallback():
    table = parse_tokens(TOKENS, "TOKENS")
    assert identify(table, False, f"Bearer {ALICE}") == Identity("alice", False)
    assert identify(table, False, f"Bearer {ADMIN}") == Identity("root", True)
    assert identify(table, False, "Bearer nope") is None
    assert identify(table, False, None) is None
    assert identify(table, True, None) == Identity("local", True)
    assert identify(table, True, "Bearer nope") is None  # a wrong token is never anonymous


def test_tokens_file_is_read(tmp_path):
    path = tmp_path / "tokens.yml"
    path.write_text(json.dumps({"tokens": TOKENS}))
    client = make_app(tmp_path, TOKENS=None, TOKENS_FILE=str(path)).test_client()
    assert client.get("/channels", headers=auth(ADMIN)).status_code == 200


def test_requests_without_a_valid_token_get_401_as_json(client):
    for response in (client.get("/jobs"), client.get("/job/1-12345", headers=auth("wrong")),
                     client.post("/configure", json={}), client.delete("/job/1-12345")):
        assert response.status_code == 401
        assert response.json["error"] == "Unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_open_endpoints_need_no_token(client):
    for path in ("/healthz", "/ack", "/openapi.json", "/metrics"):
        assert client.get(path).status_code == 200
    assert client.get("/readyz").status_code == 503  # no cluster cache in this app


def test_configure_lists_every_offending_field(client):
    response = client.post("/configure", headers=auth(), json={
        "view_type": 0, "nfftSelection": 1000, "channels": {"min": 0, "max": 5},
        "displayInfo": {"height": 0}, "frequencyRange": {"min": 0, "max": 2000},
        "displayTimeAxisDuration": 10})
    assert response.status_code == 422
    errors = {e["field"]: e for e in response.json["errors"]}
    assert set(errors) == {"nfftSelection", "channels.min", "displayInfo.height", "frequencyRange.max"}
    assert errors["nfftSelection"] == {"field": "nfftSelection", "value": 1000, "rule": "must be a power of two"}


def test_configure_with_a_non_json_body_is_a_422(client):
    response = client.post("/configure", headers=auth(), data="view_type=0")
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "body"


def test_a_malformed_job_id_is_a_404(client):
    for job_id in ("abc", "99-12345", "1-1234", "1-12345;rm"):
        assert client.get(f"/job/{job_id}", headers=auth()).status_code == 404


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/nope").json["error"] == "NotFound"
    assert client.put("/jobs", headers=auth()).status_code == 405


def test_webhook_signature_is_required_and_checked(client):
    body = json.dumps({"reap_dry_run": True}).encode()
    assert client.post("/webhooks/reap", data=body).status_code == 401
    wrong = signature("another-secret-0123456789", body)
    assert client.post("/webhooks/reap", data=body, headers={SIGNATURE_HEADER: wrong}).status_code == 401
    tampered = signature(SECRET, body)
    assert client.post("/webhooks/reap", data=body + b" ", headers={SIGNATURE_HEADER: tampered}).status_code == 401
    assert client.post("/webhooks/other", data=body, headers={SIGNATURE_HEADER: tampered}).status_code == 404


def signed(client, payload):
    body = json.dumps(payload).encode()
    return client.post("/webhooks/reap", data=body, headers={SIGNATURE_HEADER: signature(SECRET, body),
                                                             "Content-Type": "application/json"})


def test_webhook_refuses_unknown_and_unsafe_variables(client):
    response = signed(client, {"reap_dry_run": True, "reap_extra": 1})
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "reap_extra"
    response = signed(client, {"note": "{{ lookup('pipe', 'id') }}", "reap_dry_run": "yes"})
    assert {e["field"] for e in response.json["errors"]} == {"note", "reap_dry_run"}
    assert signed(client, ["not", "a", "mapping"]).status_code == 422


def test_a_correctly_signed_webhook_needs_the_runner(client):
    assert signed(client, {"reap_dry_run": True, "note": "nightly run"}).status_code == 503


@pytest.mark.parametrize("hooks, message", [
    ({"x": {"playbook": "create.yml", "secret": SECRET}}, "not one of"),
    ({"x": {"playbook": "reap.yml", "secret": "short"}}, "secret"),
    ({"x": {"playbook": "reap.yml", "secret": SECRET, "variables": {"v": "dict"}}}, "variables"),
])
def test_webhook_settings_are_validated(tmp_path, hooks, message):
    with pytest.raises(ConfigurationError, match=message):
        make_app(tmp_path, WEBHOOKS=hooks)


def test_focus_endpoints(client, tmp_path):
    assert client.get("/channels", headers=auth()).json["highest_channel"] == 512
    assert client.get("/live_metadata", headers=auth()).json["prr"] == 2000.0
    assert client.get("/ack").json == {"ack": True}
    t0 = 1_700_000_000
    with RecordingWriter(tmp_path / "rec", sample_rate_hz=500.0, file_seconds=1.0) as writer:
        writer.append(np.zeros((1000, 4), dtype=np.float32), t0 * 10**9)
    spans = client.post("/recordings_in_time_range", headers=auth(),
                        json={"start_time": t0 - 10, "end_time": t0 + 10}).json
    assert len(spans) == 1 and spans[0][0] == pytest.approx(t0) and spans[0][1] == pytest.approx(t0 + 2, abs=0.01)
    bad = client.post("/recordings_in_time_range", headers=auth(), json={"start_time": 5, "end_time": 1})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "end_time"
    huge = client.post("/recordings_in_time_range", headers=auth(), json={"start_time": 0, "end_time": 1e300})
    assert huge.status_code == 422 and huge.json["errors"][0]["field"] == "end_time"


def test_metrics_expose_latency_histograms_and_runner_gauges(client):
    client.get("/healthz")
    text = client.get("/metrics").data.decode()
    assert 'spectrojobs_api_request_seconds_bucket{endpoint="/healthz"' in text
    for name in ("spectrojobs_api_runner_queue_depth", "spectrojobs_api_windows_in_use",
                 "spectrojobs_api_runs"):
        assert name in text


def test_openapi_document_lists_every_route(client):
    app_rules = {r.rule.replace("<", "{").replace(">", "}") for r in client.application.url_map.iter_rules()}
    app_rules.discard("/static/{path:filename}")
    assert set(DOCUMENT["paths"]) == app_rules - {"/openapi.json"}
    assert client.get("/openapi.json").json["openapi"].startswith("3.")
