"""Fuzzing the views' HTTP surface: every Dash route and every callback the app declares,
with malformed, oversized and hostile inputs, as three users: an admin, a user who may
read nothing, and a user who may read one DAG only (``sales_producer``, through the auth
manager of ``tests/dev_tools/partial_auth.py``).

Each answer is checked, not only for the absence of a 500:
- a URL naming a page and a DAG the user may read renders that page without an error
  card; any other URL gets its specific message ("No page ...", "... that you can read");
- a callback value of a type the renderer cannot send gets a 400 that names it; any other
  value is answered by the callback itself, with no error card and without reaching
  Dash's error handler (which would turn a crash into a silent "no update");
- no answer carries an id of a DAG the user may not read, except what the request itself
  carried (a "not found" message repeats what was asked).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote_plus

import pytest
from dash_client import DashClient, concrete_id, error_cards, id_key, outputs_spec, parse_id
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ddtrack.views.app import INPUT_TYPES, page_params

PREFIX = "/ddtrack"
READABLE = "sales_producer"  # what the partial user may read
# Strings that only data of the example DAGs contains: an outsider must never see them.
SECRETS = ("load_passengers", "log_fare", "embarked", "passenger_id")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
CALLBACK_FAILED = "ddtrack callback failed"  # what app._callback_failed logs

hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "%00",
            "../../etc/passwd",
            "titanic",
            READABLE,
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


# -- users ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ids_by_dag(example_runs, metastore_url) -> dict[str, set[str]]:
    """Every DAG's id, run ids and (distinctive) task ids, as Airflow's metastore has them."""
    import sqlalchemy as sa

    engine = sa.create_engine(metastore_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT dag_id, run_id, task_id FROM task_instance")).all()
    engine.dispose()
    ids: dict[str, set[str]] = {}
    for dag_id, run_id, task_id in rows:
        ids.setdefault(dag_id, {dag_id}).add(run_id)
        if "_" in task_id:  # "features" or "extract" are also ordinary words on a page
            ids[dag_id].add(task_id)
    assert READABLE in ids and len(ids) > 3
    return ids


@pytest.fixture(scope="module")
def users(api_app, make_token, ids_by_dag):
    """(token, strings the user must never see, DAGs the user may read) per user; the partial user's rights
    come from PartialAuthManager, swapped in for the app's SimpleAuthManager instance."""
    from airflow.api_fastapi.app import get_auth_manager
    from dev_tools.partial_auth import PARTIAL_USER_ENV, READABLE_DAGS_ENV, PartialAuthManager

    everything = {i for ids in ids_by_dag.values() for i in ids}
    others = {i for dag, ids in ids_by_dag.items() if dag != READABLE for i in ids} - ids_by_dag[READABLE]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(get_auth_manager(), "__class__", PartialAuthManager)
        mp.setenv(PARTIAL_USER_ENV, "pat")
        mp.setenv(READABLE_DAGS_ENV, READABLE)
        yield {
            "admin": (make_token("admin", "admin"), frozenset(), set(ids_by_dag)),
            "outsider": (make_token("olga", None), frozenset({*SECRETS, *everything}), set()),
            "partial": (make_token("pat", "viewer"), frozenset(others), {READABLE}),
        }


@pytest.fixture(scope="module")
def dependencies(api_app, make_token):
    from fastapi.testclient import TestClient

    with TestClient(api_app) as c:
        resp = c.get(f"{PREFIX}/_dash-dependencies", headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.status_code == 200
    deps = resp.json()
    assert deps, "the app declares callbacks"
    return deps


# -- invariants ---------------------------------------------------------------------------


def assert_graceful(resp) -> None:
    assert resp.status_code < 500, resp.text[:500]
    assert "Traceback" not in resp.text and 'File "' not in resp.text


def assert_no_unreadable_ids(resp, forbidden: frozenset[str], request: str) -> None:
    """No id the user may not read, unless the request carried it (then it is an echo)."""
    asked = request + unquote_plus(request)
    shown = sorted(i for i in forbidden if i not in asked and i in resp.text)
    assert not shown, f"an answer shows ids of DAGs the user may not read: {shown}"


def assert_no_callback_failed(caplog) -> None:
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith(CALLBACK_FAILED)]
    assert not failed, failed


def type_problem(body: dict) -> str | None:
    """The first input a renderer could not have sent, by the declared INPUT_TYPES."""
    for item in [*body["inputs"], *body["state"]]:
        expected = INPUT_TYPES.get((item["id"], item["property"])) if isinstance(item["id"], str) else None
        if expected and item["value"] is not None and not isinstance(item["value"], expected):
            return f"'{item['id']}.{item['property']}' must be"
    return None


# -- callbacks ----------------------------------------------------------------------------


def _valid_values(example_runs) -> dict[tuple[str, str], st.SearchStrategy]:
    """Values of the kind the renderer sends, per (component id or id type, property); the
    fuzz mixes them with hostile ones."""
    dag_ids = st.sampled_from(["titanic", READABLE, "sales_consumer", "nope"])
    runs = {d: example_runs[d][-1].run_id for d in ("titanic", READABLE, "sales_consumer")}
    tasks = {"titanic": "load_passengers", READABLE: "write_daily_sales", "sales_consumer": "store_totals"}
    node = st.fixed_dictionaries(
        {"id": st.sampled_from(["task::titanic::features", f"task::{READABLE}::write_daily_sales", "x"])},
        optional={
            "url": st.sampled_from(["/ddtrack/dag?dag_id=titanic", "javascript:alert(1)"]),
            "rows": json_values,
            "state": json_values,
            "kind": st.sampled_from(["task", "output", "dag", "hidden"]),
        },
    )
    element = st.one_of(
        st.fixed_dictionaries({"data": node}, optional={"classes": json_values}),
        st.fixed_dictionaries({"data": st.fixed_dictionaries({"id": st.text(max_size=5), "source": json_values, "target": json_values})}),
        json_values,
    )
    output_key = st.sampled_from(sorted(tasks)).flatmap(
        lambda d: st.fixed_dictionaries(
            {
                "dag_id": st.just(d),
                "run_id": st.just(runs[d]),
                "task_id": st.just(tasks[d]),
                "map_index": st.sampled_from([-1, "all", 0]),
                "try_number": st.sampled_from([None, 1]),
                "output": st.sampled_from(["return_value", "x"]),
            }
        )
    )
    ids = st.fixed_dictionaries({"dag_id": dag_ids, "run_id": st.sampled_from(sorted(runs.values())), "task_id": st.sampled_from(sorted(tasks.values()))})
    return {
        ("home-search", "value"): st.one_of(st.text(max_size=30), st.sampled_from(["fare", "sales", "store_totals"])),
        ("dag-graph", "tapNodeData"): node,
        ("dag-graph", "elements"): st.lists(element, max_size=4),
        ("dag-page-dag-id", "data"): dag_ids,
        ("task-history-n", "value"): st.one_of(st.integers(-5, 5000), st.text(max_size=5)),
        ("task-page-ids", "data"): ids,
        ("ti-map-index-go", "value"): st.one_of(st.integers(-2, 5), st.floats(-2, 5)),
        ("ti-map-index-ids", "data"): ids,
        ("dd-output-key", "data"): output_key,
        ("dd-columns-grid", "getRowsRequest"): st.fixed_dictionaries(
            {"startRow": st.integers(-5, 500), "endRow": st.integers(-5, 500)},
            optional={"sortModel": json_values, "filterModel": json_values},
        ),
        ("dd-chart-pick", "search_value"): st.text(max_size=30),
        ("dd-chart-pick", "value"): st.lists(st.sampled_from(["age", "fare", "amount", "orders"]), max_size=3),
    }


def _strategy_for(spec: dict, valid: dict) -> st.SearchStrategy:
    ident = parse_id(spec["id"])
    name = ident.get("type") if isinstance(ident, dict) else ident
    good = valid.get((name, spec["property"]))
    return json_values if good is None else st.one_of(good, good, json_values)  # mostly well-formed


def _body(dep: dict, values: list, states: list, match: dict) -> dict:
    def items(specs: list[dict], vals: list) -> list[dict]:
        return [
            {"id": concrete_id(parse_id(s["id"]), match), "property": s["property"], "value": v}
            for s, v in zip(specs, vals, strict=True)
        ]

    outputs = outputs_spec(dep["output"])
    concrete = [{**o, "id": concrete_id(o["id"], match)} for o in (outputs if isinstance(outputs, list) else [outputs])]
    inputs = items(dep["inputs"], values)
    return {
        "output": dep["output"],
        "outputs": concrete if isinstance(outputs, list) else concrete[0],
        "inputs": inputs,
        "state": items(dep.get("state", []), states),
        "changedPropIds": [f"{id_key(inputs[0]['id'])}.{inputs[0]['property']}"] if inputs else [],
    }


def test_every_callback_takes_hostile_inputs(client, users, dependencies, example_runs, caplog):
    """Each declared callback in turn, so that none is left to chance."""
    caplog.set_level(logging.WARNING, logger="ddtrack.views")
    valid = _valid_values(example_runs)

    def check_one(dep: dict) -> None:
        @settings(FUZZ, max_examples=25)
        @given(st.data())
        def check(data):
            values = [data.draw(_strategy_for(i, valid)) for i in dep["inputs"]]
            states = [data.draw(_strategy_for(s, valid)) for s in dep.get("state", [])]
            body = _body(dep, values, states, {"index": data.draw(st.sampled_from([0, 1, "x"]))})
            problem = type_problem(body)
            request = json.dumps(body)
            for token, forbidden, _ in users.values():
                caplog.clear()
                resp = client.post(
                    f"{PREFIX}/_dash-update-component", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert_graceful(resp)
                if problem:
                    assert resp.status_code == 400 and problem in resp.json()["detail"], (problem, resp.text[:300])
                    continue
                assert resp.status_code in (200, 204), (dep["output"], resp.status_code, resp.text[:300])
                assert_no_callback_failed(caplog)
                if resp.status_code == 200:
                    assert not error_cards(resp.json()), (dep["output"], request[:300], resp.text[:500])
                assert_no_unreadable_ids(resp, forbidden, request)

        check()

    for dep in dependencies:
        check_one(dep)


# -- the router -----------------------------------------------------------------------------


def expected_page(page: str, search: str, readable: set[str]) -> str:
    """What the router must answer: "page" (rendered), "no page", or "not readable" (which
    a DAG that does not exist also is)."""
    name = page.strip("/")
    if name == "":
        return "page"
    if name not in ("dag", "task", "run", "ti", "compare"):
        return "no page"
    dag_id = page_params(search[:10_000]).get("dag_id", "")
    return "page" if dag_id in readable else "not readable"


def test_router_with_hostile_urls(client, users, example_runs, caplog):
    caplog.set_level(logging.WARNING, logger="ddtrack.views")
    run_id = example_runs["titanic"][-1].run_id
    pages = st.sampled_from(["", "dag", "task", "ti", "run", "compare", "nope", "ti/extra", "%2e%2e"])
    queries = st.one_of(
        hostile_text.map(lambda t: "?" + t),
        st.dictionaries(
            st.sampled_from(["dag_id", "task_id", "run_id", "map_index", "try_number", "n", "output"]),
            st.one_of(
                hostile_text, st.sampled_from(["titanic", READABLE, "features", "write_daily_sales", run_id, "-1", "all"])
            ),
            max_size=5,
        ).map(lambda d: "?" + "&".join(f"{k}={v}" for k, v in d.items())),
    )

    a_run = example_runs[READABLE][-1].run_id
    ti = f"?dag_id={READABLE}&run_id={a_run}&task_id=write_daily_sales"

    @FUZZ
    @given(pages, queries)
    # Every page of the partial user's DAG, whatever the draw: each can name a linked DAG.
    @example("dag", f"?dag_id={READABLE}")
    @example("task", f"?dag_id={READABLE}&task_id=write_daily_sales")
    @example("run", f"?dag_id={READABLE}&run_id={a_run}")
    @example("ti", ti)
    @example("ti", ti + "&map_index=all")
    def check(page, query):
        for token, forbidden, readable in users.values():
            caplog.clear()
            resp = DashClient(client, token).callback(
                "page.children",
                {"id": "page", "property": "children"},
                [
                    {"id": "url", "property": "pathname", "value": f"{PREFIX}/{page}"},
                    {"id": "url", "property": "search", "value": query},
                ],
            )
            assert_graceful(resp)
            assert resp.status_code == 200, resp.text[:300]
            assert_no_callback_failed(caplog)
            tree = resp.json()["response"]["page"]["children"]
            assert not error_cards(tree), (page, query[:200], error_cards(tree))
            expected = expected_page(page, query, readable)
            if expected == "no page":
                assert "No page " in resp.text, (page, query[:200])
            elif expected == "not readable":
                assert "that you can read" in resp.text, (page, query[:200], resp.text[:300])
            else:
                assert "No page " not in resp.text and "No DAG " not in resp.text, (page, query[:200])
            assert_no_unreadable_ids(resp, forbidden, page + query)

    check()


# -- raw HTTP -------------------------------------------------------------------------------


@FUZZ
@given(body=st.one_of(st.binary(max_size=2000), hostile_text.map(str.encode), st.just(b"{" * 10_000)))
def test_malformed_callback_bodies(client, make_token, body):
    resp = client.post(
        f"{PREFIX}/_dash-update-component",
        content=body,
        headers={"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"},
    )
    assert_graceful(resp)
    assert resp.status_code == 400 and "malformed callback request" in resp.json()["detail"], resp.text[:300]


@FUZZ
@given(path=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=80), query=hostile_text)
def test_random_paths_under_the_prefix(client, make_token, path, query):
    from urllib.parse import quote

    resp = client.get(
        f"{PREFIX}/{quote(path)}?q={quote(query[:2000])}", headers={"Authorization": f"Bearer {make_token()}"}
    )
    assert_graceful(resp)
    # Every path is Dash's index (a client-side route), an asset, or a clean 404/405.
    assert resp.status_code in (200, 404, 405), (path, resp.status_code)
    if resp.status_code >= 400:
        assert "detail" in resp.json(), resp.text[:300]


def test_oversized_callback_is_refused_cleanly(client, make_token):
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"}, "inputs": [
        {"id": "url", "property": "pathname", "value": "/ddtrack/" + "a" * 5_000_000}], "changedPropIds": []}
    resp = client.post(f"{PREFIX}/_dash-update-component", json=body, headers={"Authorization": f"Bearer {make_token()}"})
    assert_graceful(resp)
    assert resp.status_code == 400 and "the callback takes 2 inputs" in resp.json()["detail"], resp.text[:300]
