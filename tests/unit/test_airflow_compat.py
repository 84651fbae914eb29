"""The one place that knows Airflow's releases apart: which ones ddtrack refuses and why,
and the plugin loading that differs between 3.1 and 3.2+ (on the installed Airflow)."""

from __future__ import annotations

import pytest
from dev_tools import airflow_versions
from starlette.testclient import TestClient

from ddtrack.integrations import airflow_compat
from ddtrack.views.asgi import refusal_app


@pytest.mark.parametrize(
    ("version", "supported"),
    [("3.0.6", False), ("3.1.0", False), ("3.1.1", True), ("3.1.8", True), ("3.2.2", True), ("3.3.2", True),
     ("3.4.0.dev0", True), ("not a version", False)],
)
def test_the_oldest_supported_airflow_is_3_1_1(version, supported):
    assert airflow_compat.is_supported(version) is supported
    reason = airflow_compat.unsupported_reason(version)
    assert (reason is None) is supported
    if reason:
        assert f"Airflow {version} is not supported" in reason and "3.1.1 or later" in reason


def test_the_installed_airflow_is_supported():
    import airflow

    assert airflow_compat.airflow_version() == airflow.__version__
    assert airflow_compat.unsupported_reason() is None


def test_pages_on_an_unsupported_airflow_say_why():
    reason = airflow_compat.unsupported_reason("3.1.0") + " <b>not markup</b>"
    resp = TestClient(refusal_app(reason)).get("/ddtrack/run?dag_id=x")
    assert resp.status_code == 501
    assert "Airflow 3.1.0 is not supported" in resp.text and "&lt;b&gt;not markup&lt;/b&gt;" in resp.text


def test_airflow_loads_the_ddtrack_plugin_again_after_forgetting():
    plugins, _ = airflow_compat.loaded_plugins()
    assert "ddtrack" in [p.name for p in plugins]
    airflow_versions.forget_loaded_plugins()
    plugins, errors = airflow_compat.loaded_plugins()
    assert [p.name for p in plugins].count("ddtrack") == 1
    assert not [e for e in errors.values() if "ddtrack" in e and "already registered" not in e]


def test_users_have_teams_where_airflow_has_them():
    user = airflow_versions.simple_auth_user("sam", "viewer")
    assert (user.get_name(), user.role) == ("sam", "viewer")
    if airflow_versions.teams_supported():
        assert airflow_versions.simple_auth_user("sam", "viewer", ["secret"]).teams == ["secret"]
    else:
        with pytest.raises(ValueError, match="has no teams"):
            airflow_versions.simple_auth_user("sam", "viewer", ["secret"])


@pytest.mark.parametrize(
    ("airflow", "pandas", "flagged"),
    [("3.1.8", "3.0.1", True), ("3.2.2", "3.1.1", True), ("3.3.0", "3.0.0", False), ("3.1.8", "2.3.3", False)],
)
def test_pandas_3_is_flagged_where_airflow_cannot_serialise_it(airflow, pandas, flagged):
    problem = airflow_compat.pandas_problem(airflow, pandas)
    assert (problem is not None) is flagged
    if problem:
        assert f"Airflow {airflow} cannot serialise a pandas {pandas} DataFrame" in problem and "pandas<3" in problem
