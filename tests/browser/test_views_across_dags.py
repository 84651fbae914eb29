"""Headless Chromium against a live Airflow 3: the across-DAG pages (issue 13) as people use them.

The package's demo deployment, shared with test_views_in_airflow.py (conftest.py's ``demo``:
the example DAGs, including ``titanic_report`` which reads a file titanic writes and the Asset
sales_producer writes). From the Data menu's search to an output's catalog page; the trace
graph of the report back across two DAGs to titanic's external input; flag -> suspects ->
review as an editor (admin), and the same pages as a read-only user (viewer) who gets no
buttons. Screenshots: img/catalog.png, img/trace.png, img/suspects.png, img/pii.png.
"""

from __future__ import annotations

import pytest

from browser.test_views_in_airflow import IMG, login

pytestmark = [pytest.mark.browser, pytest.mark.scheduler]


REPORT = "/ddtrack/catalog/output?dag_id=titanic_report&task_id=build_report&name=report"
MODEL_INPUT = "/ddtrack/catalog/output?dag_id=titanic&task_id=features&name=model_input"


def shot(page, name: str, full: bool = True) -> None:
    IMG.mkdir(exist_ok=True)
    page.wait_for_timeout(800)  # charts and the graph finish drawing
    page.screenshot(path=str(IMG / f"{name}.png"), full_page=full)


def test_catalog_page_opens_from_search(browser, demo):
    page = login(browser, demo)
    page.get_by_role("link", name="Data").first.click()
    page.wait_for_url("**/plugin/ddtrack")
    frame = page.frame_locator("iframe")
    frame.get_by_placeholder("Search DAGs").fill("model_input")
    frame.locator('.dd-hits li[data-kind="output"] a', has_text="model_input").first.click()
    frame.locator("#catalog-versions-graph .js-plotly-plot").wait_for()
    frame.get_by_text("Versions over time").wait_for()
    assert frame.locator("tr[data-output-id]").count() >= 2  # one row per titanic run
    frame.locator("tr[data-column='log_fare']").wait_for()
    frame.locator(".dd-catalog-consumers").get_by_text("titanic_report / build_report").wait_for()
    frame.locator("#catalog-flag-button").wait_for()  # admin may edit titanic
    page.set_viewport_size({"width": 1440, "height": 1900})
    page.wait_for_timeout(800)
    page.screenshot(path=str(IMG / "catalog.png"))


def test_trace_graph_crosses_two_dags_to_the_external_input(browser, demo):
    page = login(browser, demo)
    page.goto(f"{demo.base_url}{REPORT}")
    page.get_by_role("link", name="Trace upstream").click()
    page.locator("#trace-graph canvas").first.wait_for()
    page.wait_for_timeout(500)
    nodes = page.evaluate(
        """() => {
            const host = [...document.querySelectorAll('#trace-graph, #trace-graph *')].find(e => e._cyreg && e._cyreg.cy);
            return host._cyreg.cy.nodes().map(n => [n.data('kind'), n.data('label')]);
        }"""
    )
    labels = " ".join(label for _, label in nodes)
    assert "fares.parquet" in labels  # titanic's external input, two DAGs away
    assert "write_daily_sales" in labels  # through the Asset, into sales_producer
    assert {"version", "try", "external"} <= {kind for kind, _ in nodes}
    deep = page.locator("#trace-list tr[data-output-id]").count()
    assert deep >= 4
    listed = page.locator("#trace-list").inner_text()
    assert "titanic" in listed and "sales_producer" in listed
    page.locator("#trace-depth").click()
    page.get_by_text("1 hops", exact=True).click()
    page.wait_for_url("**depth=1**")
    page.locator("#trace-graph canvas").first.wait_for()
    page.wait_for_function(
        "n => document.querySelectorAll('#trace-list tr[data-output-id]').length < n", arg=deep
    )  # one hop: the report's own inputs, not titanic's external input
    page.go_back()
    page.locator("#trace-graph canvas").first.wait_for()
    page.set_viewport_size({"width": 1440, "height": 1100})
    shot(page, "trace")


def test_a_column_of_the_report_is_followed_back_across_the_dag_boundary(browser, demo):
    """Column mode of the trace page: the report's ``pclass`` comes, by name, from the file
    titanic writes (model_input) and from there from titanic's passengers."""
    page = login(browser, demo)
    page.goto(f"{demo.base_url}{REPORT}")
    page.get_by_role("link", name="Trace upstream").click()
    page.locator("#trace-columns li[data-column='pclass'] a").click()
    page.wait_for_url("**column=pclass**")
    page.locator("#trace-graph canvas").first.wait_for()
    listed = page.locator("#trace-column-list")
    listed.locator("tr[data-column='titanic/load_passengers/return_value/pclass']").wait_for()
    listed.locator("tr[data-column='titanic/features/model_input/pclass']").wait_for()
    assert "inferred" in listed.inner_text()
    page.set_viewport_size({"width": 1440, "height": 1300})
    shot(page, "column_trace")


def pick_version(page, run_id: str) -> None:
    """Pick ``run_id``'s version in the flag form's dropdown through its search box (the
    versions table below names the run too). Dash's dropdown opens its search and options
    in a popover placed where the button is when it opens: the page's callbacks finish first
    (a chart drawn above the form moves it) and the button is scrolled into view, as a person
    would see it before clicking."""
    page.wait_for_load_state("networkidle")
    dropdown = page.locator("#catalog-flag-version")
    dropdown.scroll_into_view_if_needed()
    dropdown.click()
    page.locator(".dash-dropdown-search").fill(run_id)
    page.get_by_role("option").filter(has_text=run_id).first.click()
    dropdown.filter(has_text=run_id).wait_for()  # shown as the value


def test_flag_suspects_review_as_editor_and_as_read_only_user(browser, demo):
    editor = login(browser, demo)
    # The version of titanic's model_input that the report read (titanic ran again since).
    editor.goto(f"{demo.base_url}{REPORT}")
    editor.get_by_role("link", name="Trace upstream").click()
    used = editor.locator("#trace-list tr[data-output-id]").filter(has_text="titanic / features / model_input")
    run_id = used.locator("td").nth(1).inner_text().strip()
    editor.goto(f"{demo.base_url}{MODEL_INPUT}")
    pick_version(editor, run_id)
    editor.locator("#catalog-flag-note").fill("log_fare computed from a truncated fares file")
    editor.locator("#catalog-flag-button").click()
    editor.get_by_text("Flagged: every version downstream is now listed as suspect.").wait_for()
    editor.locator("#catalog-flag-list .dd-flag-open").get_by_text("log_fare computed from a truncated fares file").wait_for()

    editor.goto(f"{demo.base_url}/ddtrack/suspects")
    group = editor.locator(".dd-suspect-group").filter(has_text="truncated fares file")
    group.wait_for()
    row = group.locator("tr[data-output-id]").filter(has_text="titanic_report / build_report / report")
    row.wait_for()
    assert row.get_by_role("button", name="Review").count() == 1
    editor.set_viewport_size({"width": 1440, "height": 1100})
    shot(editor, "suspects")

    reader = login(browser, demo, "viewer")
    reader.goto(f"{demo.base_url}{MODEL_INPUT}")
    reader.get_by_text("Only users who may edit this DAG can flag or review a version.").wait_for()
    reader.locator("#catalog-flag-list").get_by_text("truncated fares file").wait_for()  # flags are visible
    assert reader.locator("#catalog-flag-button, #catalog-review-button").count() == 0
    reader.goto(f"{demo.base_url}/ddtrack/suspects")
    reader.locator(".dd-suspect-group").filter(has_text="truncated fares file").wait_for()
    assert reader.get_by_role("button", name="Review").count() == 0
    reader.context.close()

    editor.locator("#suspects-note").fill("checked: the report only uses counts")
    row.get_by_role("button", name="Review").click()
    editor.get_by_text("Reviewed: the version is no longer suspect.").wait_for()
    editor.locator(".dd-suspect-group tr[data-output-id]").filter(
        has_text="titanic_report / build_report / report"
    ).wait_for(state="detached")

    editor.goto(f"{demo.base_url}{MODEL_INPUT}")  # closing the flag on the flagged version itself
    pick_version(editor, run_id)
    editor.locator("#catalog-flag-note").fill("fares file re-sent, fine")
    editor.locator("#catalog-review-button").click()
    editor.get_by_text("Reviewed: the version is cleared.").wait_for()
    editor.locator("#catalog-flag-list").get_by_text("reviewed by admin").first.wait_for()


def test_pii_page_lists_pii_outputs_and_their_consumers(browser, demo):
    page = login(browser, demo)
    page.goto(f"{demo.base_url}/ddtrack/pii")
    page.locator('#pii-outputs tr[data-dataset="titanic/load_passengers/return_value"]').wait_for()
    page.locator("#pii-outputs .dd-tag-pii", has_text="name").first.wait_for()
    # titanic's features drops name: PII follows columns, so the demo derives no PII output;
    # the columns table lists the declared one.
    page.locator('#pii-columns tr[data-column="titanic/load_passengers/return_value/name"][data-pii="declared"]').wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON for audit").click()
    assert download.value.suggested_filename == "ddtrack-pii.json"
    page.set_viewport_size({"width": 1440, "height": 1000})
    shot(page, "pii")
