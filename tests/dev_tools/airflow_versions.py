"""Airflow helpers only the tests need, for each Airflow release the tests run on (3.1 to 3.3).

Nothing in the package needs them, so they live with the tests.
"""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from ddtrack.integrations.airflow_compat import airflow_version


def forget_loaded_plugins() -> None:
    """Make Airflow load its plugins again in this process (tests that change plugins)."""
    from airflow import plugins_manager

    for cached in ("_get_plugins", "get_fastapi_plugins", "_get_ui_plugins"):
        fn = getattr(plugins_manager, cached, None)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()
    if not hasattr(plugins_manager, "_get_plugins"):  # 3.1: module globals, None until loaded
        for name in ("plugins", "fastapi_apps", "fastapi_root_middlewares", "external_views", "react_apps"):
            setattr(plugins_manager, name, None)
        plugins_manager.loaded_plugins.clear()
        plugins_manager.import_errors.clear()


def dag_bag(dag_folder: str, **kwargs: Any) -> Any:
    """Airflow's DagBag of ``dag_folder`` (it moved to ``airflow.dag_processing`` in 3.2)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # 3.1
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder, **kwargs)


def simple_auth_user(username: str, role: str | None, teams: list[str] | None = None) -> Any:
    """A SimpleAuthManager user; teams (Airflow's multi-team model) exist from 3.2 on."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    if teams_supported():
        return SimpleAuthManagerUser(username=username, role=role, teams=teams)
    if teams:
        raise ValueError(f"Airflow {airflow_version()} has no teams: cannot make a user of {teams}")
    return SimpleAuthManagerUser(username=username, role=role)


def teams_supported() -> bool:
    """Does this Airflow's SimpleAuthManager know teams (multi-team, 3.2 and later)?"""
    return Version(airflow_version()) >= Version("3.2")
