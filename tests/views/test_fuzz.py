"""Fuzzing the views' HTTP surface (issue: hostile input): every Dash route and every
callback the app declares, with malformed, oversized and hostile inputs, as an admin and
as a user who may read nothing. No 500s, no tracebacks, no data from unreadable DAGs.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from dash_client import DashClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PREFIX = "/ddtrack"
# Strings that only data of the example DAGs contains: an outsider must never see them.
SECRETS = ("load_passengers", "log_fare", "embarked", "passenger_id")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "%00",
            "../../etc/passwd",
            "titanic",
            "dag_id=titanic&task_id=features",
            "\u202e\U0001f600",
            "x" * 100_000,
        ]
    ),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), hostile_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def dependencies(api_app, make_token):
    from fastapi.testclient import TestClient

    with TestClient(api_app) as c:
        resp = c.get(f"{PREFIX}/_dash-dependencies", headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.status_code == 200
    deps = resp.json()
    assert deps, "the app declares callbacks"
    return deps


def _outputs(output: str):
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outs = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        with contextlib.suppress(ValueError):
            ident = json.loads(ident)
        outs.append({"id": ident, "property": prop})
    return outs if output.startswith("..") else outs[0]


def _body(dep: dict, values: list) -> dict:
    inputs = [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], values, strict=True)]
    state = [{"id": s["id"], "property": s["property"], "value": None} for s in dep.get("state", [])]
    return {
        "output": dep["output"],
        "outputs": _outputs(dep["output"]),
        "inputs": inputs,
        "state": state,
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"] if inputs else [],
    }


def assert_graceful(resp, *, forbidden: tuple[str, ...] = ()) -> None:
    assert resp.status_code < 500, resp.text[:500]
    assert "Traceback" not in resp.text and 'File "' not in resp.text
    for secret in forbidden:
        assert secret not in resp.text


def test_every_callback_takes_hostile_inputs(client, make_token, dependencies, example_runs):
    admin = DashClient(client, make_token("admin", "admin"))
    outsider = DashClient(client, make_token("olga", None))

    @FUZZ
    @given(st.data())
    def check(data):
        dep = data.draw(st.sampled_from(dependencies))
        values = [data.draw(json_values) for _ in dep["inputs"]]
        body = _body(dep, values)
        assert_graceful(admin.client.post(f"{PREFIX}/_dash-update-component", json=body, headers=admin.headers))
        assert_graceful(
            outsider.client.post(f"{PREFIX}/_dash-update-component", json=body, headers=outsider.headers),
            forbidden=SECRETS,
        )

    check()


def test_router_with_hostile_urls(client, make_token, example_runs):
    admin = DashClient(client, make_token("admin", "admin"))
    outsider = DashClient(client, make_token("olga", None))
    run_id = example_runs["titanic"][-1].run_id
    pages = st.sampled_from(["", "dag", "task", "ti", "run", "nope", "ti/extra", "%2e%2e"])
    queries = st.one_of(
        hostile_text.map(lambda t: "?" + t),
        st.dictionaries(
            st.sampled_from(["dag_id", "task_id", "run_id", "map_index", "try", "n", "output"]),
            st.one_of(hostile_text, st.just("titanic"), st.just("features"), st.just(run_id), st.just("-1")),
            max_size=5,
        ).map(lambda d: "?" + "&".join(f"{k}={v}" for k, v in d.items())),
    )

    @FUZZ
    @given(pages, queries)
    def check(page, query):
        for user, forbidden in ((admin, ()), (outsider, SECRETS)):
            resp = user.callback(
                "page.children",
                {"id": "page", "property": "children"},
                [
                    {"id": "url", "property": "pathname", "value": f"{PREFIX}/{page}"},
                    {"id": "url", "property": "search", "value": query},
                ],
            )
            assert_graceful(resp, forbidden=forbidden)

    check()


@FUZZ
@given(body=st.one_of(st.binary(max_size=2000), hostile_text.map(str.encode), st.just(b"{" * 10_000)))
def test_malformed_callback_bodies(client, make_token, body):
    resp = client.post(
        f"{PREFIX}/_dash-update-component",
        content=body,
        headers={"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"},
    )
    assert_graceful(resp)


@FUZZ
@given(path=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=80), query=hostile_text)
def test_random_paths_under_the_prefix(client, make_token, path, query):
    from urllib.parse import quote

    resp = client.get(
        f"{PREFIX}/{quote(path)}?q={quote(query[:2000])}", headers={"Authorization": f"Bearer {make_token()}"}
    )
    assert_graceful(resp)


def test_oversized_callback_is_refused_cleanly(client, make_token):
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"}, "inputs": [
        {"id": "url", "property": "pathname", "value": "/ddtrack/" + "a" * 5_000_000}], "changedPropIds": []}
    resp = client.post(f"{PREFIX}/_dash-update-component", json=body, headers={"Authorization": f"Bearer {make_token()}"})
    assert_graceful(resp)
