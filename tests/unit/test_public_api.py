"""The names users import: ``from ddtrack import track, log_output, log_input`` and ``ddtrack.profile``."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd


def test_profile_is_callable_and_json_able_outside_airflow():
    import ddtrack
    import ddtrack.profile as profile_pkg  # the package first: the call must still work

    result = ddtrack.profile(pd.DataFrame({"a": [1, 2, None]}))
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["rows"] == 3 and data["columns"][0]["nulls"] == 1
    assert profile_pkg.profile is not None


def test_importing_ddtrack_is_cheap():
    """The plugin is imported by every Airflow process; Dash and Polars must stay out."""
    code = "import sys, ddtrack, ddtrack.plugin; print(sorted(m for m in ('dash', 'plotly', 'polars') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_public_names():
    from ddtrack import __version__, log_input, log_output, track

    assert callable(track) and callable(log_output) and callable(log_input) and __version__
