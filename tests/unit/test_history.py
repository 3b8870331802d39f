"""History on SQLite: idempotent records, ordered reads, the CLI, bad URLs."""

from __future__ import annotations

import json

import pytest

from glue.cli import main as cli_main
from glue.errors import ConfigurationError
from glue.history import open_history


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/h/history.sqlite3"


def test_records_are_idempotent_per_job_uid_what_reason(url: str) -> None:
    with open_history(url) as history:
        assert history.record("1-00001", what="cleaned", reason="Completed", uid="u1", at=20.0)
        assert not history.record("1-00001", what="cleaned", reason="Completed", uid="u1", at=21.0)
        assert history.record("1-00001", what="cleaned", reason="Completed", uid="u2", at=30.0)  # recreated job
        assert history.record("1-00001", what="created", who="api:alice", uid="u1", at=10.0)
        events = history.events("1-00001")
    assert [(e["what"], e["reason"], e["uid"], e["who"]) for e in events] == [
        ("created", "", "u1", "api:alice"), ("cleaned", "Completed", "u1", "monitor"),
        ("cleaned", "Completed", "u2", "monitor")]
    assert events[0]["at"] == "1970-01-01T00:00:10Z" and events[0]["at_unix"] == 10.0


def test_history_survives_reopen_and_lists_recent_ids(url: str) -> None:
    with open_history(url) as history:
        history.record("1-00001", what="cleaned", reason="Orphan", uid=None, at=100.0)
        history.record("2-00002", what="warned", reason="Idle", at=200.0)
    with open_history(url) as history:
        assert [e["reason"] for e in history.events("1-00001")] == ["Orphan"]
        assert history.recent_job_ids(150.0) == ["2-00002"]
        assert history.events("9-99999") == []


def test_bad_url_names_the_value_and_rule() -> None:
    with pytest.raises(ConfigurationError, match=r"history_url='mysql://x': must be empty, sqlite:///"):
        open_history("mysql://x")


def test_history_cli(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open_history(url) as history:
        history.record("1-00001", what="cleaned", reason="Failed:ExitCode1", uid="u1", at=5.0, detail="exit 1")
    assert cli_main(["history", "1-00001", "--history-url", url, "--json"]) == 0
    [event] = json.loads(capsys.readouterr().out)
    assert (event["reason"], event["detail"]) == ("Failed:ExitCode1", "exit 1")
    assert cli_main(["history", "1-00001", "--history-url", url]) == 0
    assert "cleaned    Failed:ExitCode1  exit 1" in capsys.readouterr().out
    assert cli_main(["history", "1-00002", "--history-url", url]) == 1
    assert cli_main(["history", "bad id", "--history-url", url]) == 2
    assert "job_id 'bad id' must look like" in capsys.readouterr().err


def test_sightings_keep_the_first_time_of_an_unbroken_run(url: str) -> None:
    with open_history(url) as history:
        assert history.sightings({"q1", "q2"}, 10.0) == {"q1": 10.0, "q2": 10.0}
        assert history.sightings({"q1"}, 20.0) == {"q1": 10.0}
    with open_history(url) as history:  # survives a restart (one-shot runs)
        assert history.sightings({"q1", "q2"}, 30.0) == {"q1": 10.0, "q2": 30.0}
        assert history.sightings(set(), 40.0) == {}


def test_open_intents_are_decisions_without_their_cleanup(url: str) -> None:
    with open_history(url) as history:
        history.record("1-00001", what="decided", reason="Completed", uid="u1", at=10.0)
        history.record("2-00002", what="decided", reason="Orphan", uid=None, at=11.0)
        history.record("2-00002", what="cleaned", reason="Orphan", uid=None, at=12.0)
        history.record("3-00003", what="decided", reason="Idle", uid="u3", at=1.0)
        assert [e["job_id"] for e in history.open_intents(5.0)] == ["1-00001"]
        history.record("1-00001", what="cleaned", reason="Completed", uid="u1", at=13.0)
        assert history.open_intents(5.0) == []
