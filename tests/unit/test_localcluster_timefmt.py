from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcluster import timefmt


def test_format_time_is_second_precision_with_z():
    dt = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert timefmt.format_time(dt) == "2026-01-02T03:04:05Z"


def test_format_microtime_has_six_digits():
    assert timefmt.format_microtime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert timefmt.format_microtime(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)) == "2026-01-02T03:04:05.000007Z"


def test_format_converts_offsets_and_naive_to_utc():
    dt = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert timefmt.format_time(dt) == "2026-01-02T03:04:05Z"
    assert timefmt.format_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize("text, expected", [
    ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05.123456Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ("2026-01-02T03:04:05.123456789Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ("2026-01-02T03:04:05.5Z", datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
    ("2026-01-02T03:04:05+00:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T05:04:05.000001+02:00", datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)),
    ("2026-01-02T01:34:05-0130", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
])
def test_parse_time_accepts_rfc3339_variants(text, expected):
    assert timefmt.parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-02T03:04:05Z", "2026-01-02", 5, None])
def test_parse_time_rejects_bad_input_naming_the_value(text):
    with pytest.raises(ValueError, match="time"):
        timefmt.parse_time(text)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)))
def test_microtime_round_trips(dt):
    assert timefmt.parse_time(timefmt.format_microtime(dt)) == dt
    assert timefmt.parse_time(timefmt.format_time(dt)) == dt.replace(microsecond=0)


def test_clock_seam_drives_now(monkeypatch):
    fixed = datetime(2030, 6, 7, 8, 9, 10, 11, tzinfo=UTC)
    monkeypatch.setattr(timefmt.CLOCK, "utcnow", lambda: fixed)
    assert timefmt.now_time() == "2030-06-07T08:09:10Z"
    assert timefmt.now_microtime() == "2030-06-07T08:09:10.000011Z"


def test_real_clock_is_aware_utc():
    now = timefmt.Clock().utcnow()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_normalize_helpers():
    assert timefmt.normalize_time("2026-01-02T03:04:05.9+00:00") == "2026-01-02T03:04:05Z"
    assert timefmt.normalize_microtime("2026-01-02T03:04:05Z") == "2026-01-02T03:04:05.000000Z"
