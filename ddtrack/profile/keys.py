"""Order keys of profile statistics: how a stored min, max or quantile compares with another.

Public because the profile's readers need the same order the merge uses: ``merge_profiles``
takes the min of mins with it, and ``ddtrack.checks`` compares a datetime column's min/max
with a check's bound with it, so a naive and an aware instant compare alike everywhere.
"""

from __future__ import annotations

from typing import Any

NUMERIC_KINDS = ("integer", "float", "timedelta")


def order_key(value: Any, kind: str) -> Any:
    """Sort key of a profile statistic of a column kind, or None if it cannot be read.

    Datetimes (ISO-8601 text) compare as UTC nanoseconds, naive ones read as UTC; the
    numeric kinds' "inf"/"-inf" as floats; anything else as itself.
    """
    if value is None:
        return None
    if kind == "datetime":
        import pandas as pd

        try:
            ts = pd.Timestamp(value)
            return ts.tz_convert("UTC").value if ts.tzinfo else ts.value
        except Exception:  # noqa: BLE001 - unreadable text has no key
            return None
    if isinstance(value, str) and value in ("inf", "-inf") and kind in NUMERIC_KINDS:
        return float(value)
    return value
