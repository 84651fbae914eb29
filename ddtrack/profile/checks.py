"""Data checks on a profile: the same module as the public :mod:`ddtrack.checks`.

The implementation lives in ``ddtrack/checks.py`` so that DAG files declaring checks do
not import numpy when Airflow parses them (importing anything under ``ddtrack.profile``
loads the profiler); this name is kept for code that reads checks with the profile tools.
"""

from ddtrack.checks import (  # noqa: F401 - re-exported
    Check,
    CheckFailed,
    Evidence,
    Severity,
    columns,
    evaluate,
    failing,
    from_dict,
    min_max,
    null_pct_at_most,
    rows_between,
    to_dict,
    unique,
    values_in,
)
from ddtrack.checks import __all__ as __all__  # noqa: F401
