"""History on the PostgreSQL server at 127.0.0.1, in a database created and dropped by the test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from glue.history import HistoryError, open_history
from tests.services import require_postgres

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url() -> Iterator[str]:
    import psycopg

    admin_url = require_postgres()
    name = f"spectrojobs_history_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_history_is_idempotent_and_readable_after_reopen(pg_url: str) -> None:
    with open_history(pg_url) as history:
        assert history.record("1-00001", what="created", who="api:alice", uid="u1", at=10.0)
        assert history.record_many([
            {"job_id": "1-00001", "what": "decided", "reason": "Failed:ExitCode1", "uid": "u1", "at": 20.0},
            {"job_id": "1-00001", "what": "cleaned", "reason": "Failed:ExitCode1", "uid": "u1", "at": 21.0},
        ]) == [True, True]
        assert not history.record("1-00001", what="cleaned", reason="Failed:ExitCode1", uid="u1", at=22.0)
        assert history.record("2-00002", what="decided", reason="Orphan", uid=None, at=30.0)
    with open_history(pg_url) as history:  # a new connection: the Job is long gone, the history is not
        events = history.events("1-00001")
        assert [(e["what"], e["reason"], e["who"]) for e in events] == [
            ("created", "", "api:alice"), ("decided", "Failed:ExitCode1", "monitor"),
            ("cleaned", "Failed:ExitCode1", "monitor")]
        assert events[2]["at"] == "1970-01-01T00:00:21Z"
        assert [e["job_id"] for e in history.open_intents(0.0)] == ["2-00002"]
        assert history.recent_job_ids(25.0) == ["2-00002"]
        assert history.sightings({"q"}, 5.0) == {"q": 5.0}
        assert history.sightings({"q"}, 9.0) == {"q": 5.0}


def test_unreachable_postgres_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="cannot connect to PostgreSQL"):
        open_history("postgresql://postgres@127.0.0.1:1/none")
