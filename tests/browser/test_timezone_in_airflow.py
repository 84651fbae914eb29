"""Headless Chromium: ddtrack's pages show times in the timezone picked in Airflow's UI.

Airflow's timezone selector keeps the pick in the browser's localStorage ("timezone"); the
page inside Airflow's iframe reads it, and follows a new pick at once. A live api-server and
dag-processor (the DAG must be known to Airflow to be readable); the tracked run is ddtrack's
records, stored as the listener would.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from records import make_record

from browser.test_views_in_airflow import login

pytestmark = [pytest.mark.browser, pytest.mark.scheduler]

STARTED = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def airflow():
    from dev_tools.airflow_local import LocalAirflow

    from ddtrack.store.ingest import ingest_records

    home = Path(tempfile.mkdtemp(prefix="ddtrack-tz-"))
    deployment = LocalAirflow(home=home, extra_env={"AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Paris"})
    deployment.setup()
    try:
        deployment.start(("api-server", "dag-processor"))
        deployment.wait_dags(["titanic"])
        report = ingest_records(
            deployment.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            [make_record("titanic", "manual_tz", "load_passengers", started=STARTED)],
        )
        assert report.failed == 0, report.errors
        yield deployment
    finally:
        deployment.remove()


def open_task_tab(page, airflow):
    """Airflow's task page with ddtrack's "Data" tab open; returns the iframe."""
    page.goto(f"{airflow.base_url}/dags/titanic/tasks/load_passengers/plugin/ddtrack-task")
    frame = page.frame_locator("iframe")
    frame.locator(".dd-header").wait_for()
    return frame


def pick_timezone(page, name: str) -> None:
    """Pick a timezone with Airflow's own selector (the offset button in its navigation bar)."""
    page.locator('[data-testid="nav-sidebar"]').get_by_role("button", name="+00:00").click()
    dialog = page.get_by_role("dialog")
    box = dialog.get_by_role("combobox")
    box.click()
    box.fill(name.split("/")[-1])
    page.get_by_role("option", name=name).first.click()
    dialog.get_by_role("button", name="Close").click()


def test_times_follow_the_timezone_picked_in_airflow(browser, airflow):  # noqa: F811
    page = login(browser, airflow)
    # Nothing picked yet: [core] default_timezone.
    frame = open_task_tab(page, airflow)
    frame.get_by_text("2026-01-01 13:00:00 CET").wait_for()
    # A pick in Airflow's selector (kept in localStorage) reaches the open page at once.
    pick_timezone(page, "Asia/Tokyo")
    assert json.loads(page.evaluate("localStorage.getItem('timezone')")) == "Asia/Tokyo"
    frame.get_by_text("2026-01-01 21:00:00 JST").wait_for()
    # ... and every page opened after it.
    page.goto(f"{airflow.base_url}/dags/titanic")
    frame = open_task_tab(page, airflow)
    frame.get_by_text("2026-01-01 21:00:00 JST").wait_for()
    assert frame.get_by_text("CET").count() == 0
