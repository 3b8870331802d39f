"""Job history: every lifecycle transition (who, what, reason, when), readable after the Job is gone.

`open_history(url)` → a `History`:
- `""` → SQLite at `$SPECTROJOBS_HOME/history.sqlite3` (default `~/.spectrojobs`);
- `sqlite:///relative/or//absolute/path.sqlite3`, `sqlite:///:memory:`;
- `postgresql://user@host:port/db` (psycopg 3; the table is created on first use).

Recording is idempotent per (job_id, uid, what, reason): a monitor killed mid-pass and restarted
records each transition once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glue.errors import ConfigurationError, SpectrojobsError

COLUMNS = ("job_id", "uid", "what", "reason", "who", "at", "detail")

_DDL = (
    """CREATE TABLE IF NOT EXISTS job_events (
        id {serial} PRIMARY KEY,
        job_id TEXT NOT NULL,
        uid TEXT NOT NULL DEFAULT '',
        what TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        who TEXT NOT NULL DEFAULT '',
        at DOUBLE PRECISION NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        UNIQUE (job_id, uid, what, reason)
    )""",
    "CREATE INDEX IF NOT EXISTS job_events_job_id ON job_events (job_id)",
    "CREATE INDEX IF NOT EXISTS job_events_at ON job_events (at)",
    """CREATE TABLE IF NOT EXISTS monitor_sightings (
        key TEXT PRIMARY KEY,
        first_seen DOUBLE PRECISION NOT NULL
    )""",
)


class HistoryError(SpectrojobsError):
    """The history store could not be read or written."""


def default_sqlite_path() -> Path:
    home = Path(os.environ.get("SPECTROJOBS_HOME") or Path.home() / ".spectrojobs")
    return home / "history.sqlite3"


def open_history(url: str = "") -> History:
    if not url:
        path = default_sqlite_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return History(sqlite3.connect(path, check_same_thread=False), "?", "INTEGER")
    if url.startswith("sqlite:///"):
        target = url[len("sqlite:///"):]
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        return History(sqlite3.connect(target, check_same_thread=False), "?", "INTEGER")
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise HistoryError(f"history_url: cannot connect to PostgreSQL: {exc}") from exc
        return History(conn, "%s", "BIGSERIAL")
    raise ConfigurationError(
        f"history_url={url!r}: must be empty, sqlite:///<path> or postgresql://<host>/<db>"
    )


class History:
    def __init__(self, conn: Any, placeholder: str, serial: str) -> None:
        self._conn = conn
        self._ph = placeholder
        self._lock = threading.Lock()
        with self._lock:
            for ddl in _DDL:
                self._execute(ddl.format(serial=serial))
            self._commit()

    def record(
        self, job_id: str, *, what: str, reason: str = "", who: str = "monitor", uid: str | None = "",
        at: float | None = None, detail: str = "",
    ) -> bool:
        """Store one transition; False when the same (job_id, uid, what, reason) is already there."""
        entry = {"job_id": job_id, "what": what, "reason": reason, "who": who, "uid": uid, "at": at,
                 "detail": detail}
        return self.record_many([entry])[0]

    def record_many(self, entries: list[dict[str, Any]]) -> list[bool]:
        """`record` for many transitions in one transaction (dicts with record's arguments)."""
        marks = ", ".join([self._ph] * len(COLUMNS))
        sql = (
            f"INSERT INTO job_events ({', '.join(COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (job_id, uid, what, reason) DO NOTHING"
        )
        now = time.time()
        added = []
        with self._lock:
            for e in entries:
                values = (e["job_id"], e.get("uid") or "", e["what"], e.get("reason", ""),
                          e.get("who", "monitor"), now if e.get("at") is None else e["at"], e.get("detail", ""))
                added.append(self._execute(sql, values).rowcount == 1)
            self._commit()
        return added

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """Every transition of one job, oldest first."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM job_events WHERE job_id = {self._ph} ORDER BY at, id"
        with self._lock:
            rows = self._execute(sql, (job_id,)).fetchall()
        return [_row_dict(row) for row in rows]

    def open_intents(self, since: float, opened: str = "decided", closed: str = "cleaned") -> list[dict[str, Any]]:
        """`opened` transitions since `since` without the matching `closed` one (same job, uid, reason)."""
        sql = (
            f"SELECT {', '.join('d.' + c for c in COLUMNS)} FROM job_events d WHERE d.what = {self._ph} "
            f"AND d.at >= {self._ph} AND NOT EXISTS (SELECT 1 FROM job_events c WHERE c.what = {self._ph} "
            "AND c.job_id = d.job_id AND c.uid = d.uid AND c.reason = d.reason) ORDER BY d.at, d.id"
        )
        with self._lock:
            rows = self._execute(sql, (opened, since, closed)).fetchall()
        return [_row_dict(row) for row in rows]

    def recent_job_ids(self, since: float) -> list[str]:
        """Job ids with a transition at or after `since` (epoch seconds)."""
        sql = f"SELECT DISTINCT job_id FROM job_events WHERE at >= {self._ph} ORDER BY job_id"
        with self._lock:
            return [row[0] for row in self._execute(sql, (since,)).fetchall()]

    def sightings(self, keys: set[str], now: float) -> dict[str, float]:
        """First time each key was seen in an unbroken run of sightings; keys not seen now are forgotten.

        The monitor keeps here when it first saw a queue without a consumer, so the orphan grace
        also holds across one-shot runs (`reap.yml`, cron)."""
        with self._lock:
            rows = self._execute("SELECT key, first_seen FROM monitor_sightings").fetchall()
            known = {key: first for key, first in rows}
            for key in known.keys() - keys:
                self._execute(f"DELETE FROM monitor_sightings WHERE key = {self._ph}", (key,))
            for key in keys - known.keys():
                self._execute(
                    f"INSERT INTO monitor_sightings (key, first_seen) VALUES ({self._ph}, {self._ph}) "
                    "ON CONFLICT (key) DO NOTHING", (key, now),
                )
            self._commit()
        return {key: known.get(key, now) for key in keys}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str, params: tuple = ()) -> Any:
        try:
            return self._conn.execute(sql, params)
        except Exception as exc:  # sqlite3.Error or psycopg.Error: both become HistoryError
            raise HistoryError(f"history: {exc}") from exc

    def _commit(self) -> None:
        if isinstance(self._conn, sqlite3.Connection):
            self._conn.commit()


def _row_dict(row: tuple) -> dict[str, Any]:
    data = dict(zip(COLUMNS, row, strict=True))
    data["at_unix"] = data["at"]
    data["at"] = datetime.fromtimestamp(data["at"], UTC).isoformat().replace("+00:00", "Z")
    return data
