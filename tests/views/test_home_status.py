"""The Status section of the Data home page: shown to admins, asked for after the page shows."""

from __future__ import annotations

import json

from dash_client import DashClient, find, texts


def _status(user: DashClient):
    return user.callback(
        "home-status.children",
        {"id": "home-status", "property": "children"},
        [{"id": "home-status", "property": "id", "value": "home-status"}],
    )


def test_admins_get_the_status_section(admin, example_runs):
    page = admin.page("")
    assert find(page, lambda n: n["props"].get("id") == "home-status")
    resp = _status(admin)
    assert resp.status_code == 200, resp.text
    words = texts(resp.json()["response"]["home-status"]["children"])
    assert "Status" in words
    assert any(w.startswith("Healthy") or w == "Needs action:" for w in words)
    assert any("ddtrack" in w.lower() or "schema" in w.lower() for w in words)


def test_viewers_get_neither_the_section_nor_its_answer(viewer, example_runs):
    page = viewer.page("")
    assert not find(page, lambda n: n["props"].get("id") == "home-status")
    resp = _status(viewer)  # the callback called directly, as anyone can
    body = json.dumps(resp.json()) if resp.status_code == 200 else resp.text
    assert "Status" not in body and "schema" not in body.lower()
