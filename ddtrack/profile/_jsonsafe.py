"""Turn arbitrary Python / numpy / pandas values into plain JSON-safe values.

Profiles are stored as JSON and shown in a browser, so nothing in a profile may be
NaN, an infinite float, a numpy scalar or an unbounded string.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from typing import Any

import numpy as np

MAX_STR = 200


class Cut:
    """State one ``profile()`` call shares with every column: whether any value was
    shortened (so the profile can say ``truncated``), whether a column that fails to
    profile raises (``strict``) instead of being recorded as an error column, and the
    distinct values the caller asked to keep (``keep``: column names; ``kept``: what the
    column profilers found, by name), the columns whose distinct values must be counted
    exactly (``exact``), and whether Arrow dictionaries of strings are only an encoding
    (``encoded_strings``)."""

    def __init__(
        self, *, strict: bool = False, keep: frozenset[str] = frozenset(), exact: frozenset[str] = frozenset(),
        encoded_strings: bool = False,
    ) -> None:
        self.any = False
        self.strict = strict
        self.keep = keep
        self.exact = exact
        self.encoded_strings = encoded_strings
        self.kept: dict[str, Any] = {}

    def text(self, value: str, limit: int = MAX_STR) -> str:
        """Cut ``value`` to ``limit`` characters, remembering that something was left out."""
        if len(value) > limit:
            self.any = True
            return value[:limit]
        return value


def safe_repr(obj: Any) -> str:
    """``repr`` that never raises: user objects may have broken ``__repr__``."""
    try:
        return repr(obj)
    except Exception:  # noqa: BLE001 - any user error must not break profiling
        try:
            return f"<{type(obj).__qualname__} object>"
        except Exception:  # noqa: BLE001
            return "<object>"


def safe_str(obj: Any) -> str:
    """``str`` that never raises (falls back to :func:`safe_repr`)."""
    try:
        return str(obj)
    except Exception:  # noqa: BLE001
        return safe_repr(obj)


def float_value(x: Any) -> float | str | None:
    """A float as JSON: NaN -> None, +-inf -> "inf"/"-inf", otherwise a Python float."""
    try:
        f = float(x)
    except Exception:  # noqa: BLE001
        return None
    if math.isnan(f):
        return None
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f


def iso(value: Any) -> str | None:
    """ISO-8601 text of a date/datetime-like value (pandas Timestamp, numpy datetime64, ...)."""
    try:
        import pandas as pd

        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            return None
        return ts.isoformat()
    except Exception:  # noqa: BLE001
        try:
            return value.isoformat()
        except Exception:  # noqa: BLE001
            return None


def json_value(value: Any, cut: Cut | None = None, depth: int = 0) -> Any:
    """Convert one cell / statistic to a JSON-safe value.

    Numbers stay numbers, datetimes become ISO strings, strings are cut to 200 characters,
    containers are kept (JSON-safe, recursively, at most 3 levels and 50 items) and anything
    else becomes its ``str`` cut to 200 characters.
    """
    cut = cut or Cut()
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float_value(value)
    if isinstance(value, str):
        return cut.text(value)
    if isinstance(value, decimal.Decimal):
        return float_value(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time | np.datetime64):
        if isinstance(value, _dt.time):
            return value.isoformat()
        return iso(value)
    if isinstance(value, _dt.timedelta | np.timedelta64):
        try:
            import pandas as pd

            td = pd.Timedelta(value)
            return None if td is pd.NaT else td.total_seconds()
        except Exception:  # noqa: BLE001
            return cut.text(safe_str(value))
    if _is_missing(value):
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return cut.text(safe_repr(bytes(value)))
    if depth < 3 and isinstance(value, dict):
        items = list(value.items())
        if len(items) > 50:
            cut.any = True
        return {cut.text(safe_str(k)): json_value(v, cut, depth + 1) for k, v in items[:50]}
    if depth < 3 and isinstance(value, list | tuple | set | frozenset | np.ndarray):
        seq = list(value) if not isinstance(value, np.ndarray) else value.ravel().tolist()
        if len(seq) > 50:
            cut.any = True
        return [json_value(v, cut, depth + 1) for v in seq[:50]]
    return cut.text(safe_str(value))


def _is_missing(value: Any) -> bool:
    """True for pandas' missing-value singletons (pd.NA, pd.NaT) without importing pandas eagerly."""
    name = type(value).__name__
    return name in ("NAType", "NaTType")
