"""Durations written the way people write them: "30m", "12h", "1d", "2w".

Shared by the worker (``@track(fresh_within=...)``), configuration (``[ddtrack]
default_fresh_within``) and the CLI (``ddtrack cleanup --older-than``), so a window means
the same everywhere; and the one clock the store and the queries compare stored times
with (:func:`utcnow`). Pure: no Airflow, no database.
"""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_seconds(value: str | int | dt.timedelta, *, what: str = "duration") -> int:
    """Whole seconds of ``value``: "45s", "30m", "12h", "1d", "2w", a number of seconds or a
    timedelta. Anything else, or a window that is not positive, raises ValueError naming
    the value and ``what`` it was meant to be."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    else:
        raise ValueError(f"{what} must be like 30m, 12h, 1d, 2w or a number of seconds, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"{what} must be longer than zero, got {value!r}")
    return int(seconds)


def format_seconds(seconds: int | None) -> str:
    """A window as :func:`parse_seconds` reads it, in its largest whole unit ("1d", "90m",
    "45s"); "–" for none. The pages and the CLI show a window the way it was written."""
    if not seconds:
        return "–"
    for unit in ("w", "d", "h", "m"):
        if seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"


def utcnow() -> dt.datetime:
    """Now in UTC without a timezone: how ddtrack's tables store times (naive UTC)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
