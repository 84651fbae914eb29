"""What differs between the Airflow releases ddtrack runs on (3.1.1 to 3.3), in one place.

Every other module asks here instead of testing versions or probing Airflow's internals,
so supporting the next release means reading this file, not the code base.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

# Airflow 3.0.x and 3.1.0 drop the `_token` cookie once their UI has read it, so a plugin
# page in the UI's iframe cannot authenticate; 3.1.1 keeps it.
MIN_AIRFLOW = "3.1.1"


def airflow_version() -> str:
    """The installed Airflow's version (its core package's, read without importing Airflow)."""
    for dist in ("apache-airflow-core", "apache-airflow"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    import airflow

    return str(airflow.__version__)


def is_supported(found: str | None = None) -> bool:
    """Can ddtrack's pages work on this Airflow (default: the installed one)?"""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(found or airflow_version()) >= Version(MIN_AIRFLOW)
    except InvalidVersion:
        return False


def unsupported_reason(found: str | None = None) -> str | None:
    """Why ddtrack refuses this Airflow, in words for its user; None when it is supported."""
    found = found or airflow_version()
    if is_supported(found):
        return None
    return (
        f"Airflow {found} is not supported: ddtrack needs Airflow {MIN_AIRFLOW} or later. Airflow 3.0 and 3.1.0 "
        "do not pass the login cookie to plugin pages, so ddtrack's pages cannot know who is asking. "
        f"Upgrade Airflow to {MIN_AIRFLOW} or later (e.g. pip install 'apache-airflow>={MIN_AIRFLOW}')."
    )


def loaded_plugins() -> tuple[list[Any], dict[str, str]]:
    """The plugins Airflow loads in this process, and its plugin import errors.

    3.2 and later cache ``_get_plugins()``; 3.1 keeps module globals filled by
    ``ensure_plugins_loaded()``."""
    from airflow import plugins_manager

    getter = getattr(plugins_manager, "_get_plugins", None)
    if getter is not None:
        return getter()
    plugins_manager.ensure_plugins_loaded()
    return list(plugins_manager.plugins or []), dict(plugins_manager.import_errors)


def pandas_problem(airflow: str | None = None, pandas: str | None = None) -> str | None:
    """Why this Airflow cannot pass the installed pandas' DataFrames between tasks, if it cannot:
    before 3.3 Airflow's serde knows only pandas 2's class path (`pandas.core.frame.DataFrame`)."""
    from packaging.version import Version

    try:
        pandas = pandas or version("pandas")
    except PackageNotFoundError:
        return None
    airflow = airflow or airflow_version()
    if Version(pandas) < Version("3") or Version(airflow) >= Version("3.3"):
        return None
    return (
        f"Airflow {airflow} cannot serialise a pandas {pandas} DataFrame that a task returns "
        "(its serde knows pandas 2's class path): pin pandas<3 as Airflow's constraints do, or upgrade to Airflow 3.3"
    )
