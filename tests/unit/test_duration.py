"""Windows written as "30m", "12h", "1d", "2w": parsed the same by @track, log_output and
``[ddtrack] default_fresh_within``; a bad value is a clear error where it was written."""

from __future__ import annotations

import datetime as dt

import pytest

from ddtrack import conf, log_output, track
from ddtrack.duration import format_seconds, parse_seconds


@pytest.mark.parametrize(
    "value,seconds",
    [("45s", 45), ("30m", 1800), ("12h", 43200), ("1d", 86400), (" 2w ", 1209600), (90, 90), (dt.timedelta(hours=1), 3600)],
)
def test_windows_in_seconds(value, seconds):
    assert parse_seconds(value) == seconds


@pytest.mark.parametrize("value", ["1y", "", "soon", "1.5d", 1.5, True, None, "0d", 0, -5, dt.timedelta(0)])
def test_bad_windows_name_the_value(value):
    with pytest.raises(ValueError, match="fresh_within") as err:
        parse_seconds(value, what="fresh_within")
    assert repr(value) in str(err.value)


def test_track_refuses_a_bad_window_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match=r"fresh_within must be like 30m, 12h, 1d, 2w .* got '1 day'"):
        track(fresh_within="1 day")
    assert callable(track(fresh_within="1d", pii_free=True)(lambda: 1))


def test_log_output_refuses_a_bad_window():
    with pytest.raises(ValueError, match="got 'weekly'"):
        log_output([1, 2], name="x", fresh_within="weekly")


def test_default_window_from_configuration(monkeypatch):
    monkeypatch.delenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", raising=False)
    assert conf.default_fresh_within() is None
    monkeypatch.setenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", "1d")
    assert conf.default_fresh_within() == 86400
    monkeypatch.setenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", "3600")
    assert conf.default_fresh_within() == 3600
    monkeypatch.setenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", "daily")
    with pytest.raises(ValueError, match=r"\[ddtrack\] default_fresh_within .* got 'daily'"):
        conf.default_fresh_within()


@pytest.mark.parametrize("seconds,text", [(86400, "1d"), (5400, "90m"), (45, "45s"), (1209600, "2w"), (7200, "2h"), (None, "–"), (0, "–")])
def test_windows_are_shown_as_written(seconds, text):
    assert format_seconds(seconds) == text
    if seconds:
        assert parse_seconds(text) == seconds  # what is shown reads back as the same window
