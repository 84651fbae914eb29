"""The commands across DAGs through the real entry point (``ddtrack`` of this virtualenv).

The example DAGs run in process and their runs are ingested into a store of this module:
titanic (T1), sales_producer (S1), titanic_report (R1: it reads titanic's model_input file
and the daily_sales Asset), then titanic again (T2), so that R1's report is stale. Every
command is run as a table and with ``--json``; unknown ids exit 1 with one line naming the
id, usage errors exit 2, and nothing prints a traceback. Help and usage errors, which read
no data, run in this process (CliRunner on the same command group): 24 fewer ``ddtrack``
processes, each of which spends over a second starting. Flagging comes last: it changes
what the other commands answer (suspects).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import load_dag, run_in_process

from ddtrack.cli import main
from ddtrack.store.schema import upgrade

DDTRACK = str(Path(sys.executable).parent / "ddtrack")
FARES = "s3://example-bucket/fares.parquet"


@pytest.fixture(scope="module")
def runs(airflow_home, metastore_url, tmp_path_factory) -> dict[str, object]:
    store = f"sqlite:///{tmp_path_factory.mktemp('across_dags_cli') / 'ddtrack.db'}"
    upgrade(store)
    done = {}
    for key, dag_id in (("T1", "titanic"), ("S1", "sales_producer"), ("R1", "titanic_report"), ("T2", "titanic")):
        done[key] = run_in_process(load_dag(dag_id), metastore_url, store).run_id
    done["env"] = {**os.environ, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": store, "COLUMNS": "250"}
    return done


def ddtrack(runs, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DDTRACK, *args], capture_output=True, text=True, env=runs["env"], timeout=300)


def as_json(runs, *args: str):
    proc = ddtrack(runs, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # progress goes to a terminal only, never into the JSON
    return json.loads(proc.stdout)


def table(runs, *args: str) -> str:
    proc = ddtrack(runs, *args)
    assert proc.returncode == 0, proc.stderr
    assert not proc.stdout.lstrip().startswith(("[", "{")) and "Traceback" not in proc.stderr
    return proc.stdout


def versions_of(result: dict) -> set[tuple[str, str, str, str]]:
    return {(n["dag_id"], n["run_id"], n["task_id"], n["version"]["name"]) for n in result["nodes"] if n["kind"] == "version"}


# -- catalog ------------------------------------------------------------------------------------


def test_recent_lists_the_newest_versions_first(runs):
    rows = as_json(runs, "recent", "50")
    keys = [(r["dag_id"], r["run_id"], r["task_id"], r["name"]) for r in rows]
    assert ("titanic_report", runs["R1"], "build_report", "report") in keys
    assert keys[0][:2] == ("titanic", runs["T2"])  # the newest run
    assert all(r["started_at"] and "T" in r["started_at"] for r in rows)  # ISO times
    assert len(as_json(runs, "recent", "2")) == 2
    assert "build_report" in table(runs, "recent")


def test_history_of_a_task(runs):
    rows = as_json(runs, "history", "titanic", "load_passengers")
    assert [r["run_id"] for r in rows] == [runs["T2"], runs["T1"]]
    assert {r["rows"] for r in rows} == {891} and all(r["code_hash"] for r in rows)
    assert runs["T1"] in table(runs, "history", "titanic", "load_passengers", "5")


def test_inspect_gives_columns_and_statistics(runs):
    (raw,) = as_json(runs, "inspect", "titanic", runs["T1"], "load_passengers")
    assert (raw["name"], raw["rows"], raw["n_columns"]) == ("return_value", 891, 9)
    age = next(c for c in raw["columns"] if c["name"] == "age")
    assert age["count"] + age["nulls"] == 891 and age["mean"] > 0
    (model_input,) = as_json(runs, "inspect", "titanic", runs["T1"], "features", "--output", "model_input")
    assert model_input["uri"].startswith("file://") and model_input["uri"].endswith("model_input.parquet")
    out = table(runs, "inspect", "titanic", runs["T1"], "load_passengers")
    assert "embarked" in out and "null %" in out


def test_tag_by_key_and_by_key_value(runs):
    hits = json.dumps(as_json(runs, "tag", "team=data-eng"))
    assert "load_passengers" in hits and "titanic_report" not in hits
    by_key = json.dumps(as_json(runs, "tag", "team"))
    assert "load_passengers" in by_key and "build_report" in by_key
    assert "build_report" in table(runs, "tag", "team=analytics")


def test_search_is_filtered_by_kind(runs):
    hits = as_json(runs, "search", "fares", "--kind", "uri")
    assert hits and {h["kind"] for h in hits} == {"uri"} and any(h["label"] == FARES for h in hits)
    columns = as_json(runs, "search", "survival_rate", "--kind", "column")
    assert any(h["dag_id"] == "titanic_report" for h in columns)
    assert "survival_rate" in table(runs, "search", "survival")


def test_pii_outputs_and_their_consumers(runs):
    report = as_json(runs, "pii")
    pii = {(d["dag_id"], d["task_id"], d["name"]): d for d in report["pii_outputs"]}
    assert pii[("titanic", "load_passengers", "return_value")]["pii_columns"] == ["name"]
    # titanic's features drops name, the one PII column: PII follows columns, so nothing
    # downstream of it is PII-derived (tests/integration/test_column_lineage.py has derived columns).
    assert report["derived"] == [] and report["hidden"] == 0
    assert {"dag_id": "titanic", "task_id": "load_passengers", "output": "return_value", "column": "name",
            "pii": "declared", "via": []} in report["columns"]
    out = table(runs, "pii")
    assert "PII-derived" in out and "PII columns" in out and "declared" in out


def test_stale_names_the_input_that_changed(runs):
    answer = as_json(runs, "stale")
    stale = {(s["dag_id"], s["task_id"], s["name"]): s for s in answer["stale"]}
    report = stale[("titanic_report", "build_report", "report")]
    assert "model_input" in report["reason"] and report["run_id"] == runs["R1"]
    assert ("sales_producer", "write_daily_sales", "return_value") not in stale  # nothing newer of its inputs
    assert answer["overdue"] == []
    assert "model_input" in table(runs, "stale", "--dag", "titanic_report")


def test_overdue_shows_its_window_as_written(runs, tmp_path):
    """On a copy of the store where titanic's features last succeeded two days ago under a
    one-day window: the table says "1d" (as @track(fresh_within="1d") is written), the JSON
    gives seconds and the last success with its UTC offset."""
    import shutil

    import sqlalchemy as sa

    store = runs["env"]["AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    copy = tmp_path / "overdue.db"
    shutil.copy(store, copy)
    engine = sa.create_engine(f"sqlite:///{copy}")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE ddtrack_dataset SET fresh_within_s = 86400, last_success_at = datetime('now', '-2 days')"
            " WHERE dag_id = 'titanic' AND task_id = 'features'"
        ))
    engine.dispose()
    env = {**runs["env"], "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": f"sqlite:///{copy}"}
    proc = subprocess.run([DDTRACK, "stale", "--dag", "titanic"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "features" in proc.stdout and " 1d " in proc.stdout and "day," not in proc.stdout
    proc = subprocess.run([DDTRACK, "stale", "--dag", "titanic", "--json"], capture_output=True, text=True, env=env, timeout=300)
    overdue = json.loads(proc.stdout)["overdue"]
    assert {d["task_id"] for d in overdue} == {"features"} and overdue[0]["fresh_within_s"] == 86400
    assert overdue[0]["last_success_at"].endswith("+00:00")


# -- trace, impact, path ------------------------------------------------------------------------


def test_trace_crosses_two_dag_boundaries_to_the_external_input(runs):
    result = as_json(runs, "trace", "titanic_report", runs["R1"], "build_report")
    assert result["direction"] == "upstream" and result["depth"] == 10 and not result["truncated"]
    found = versions_of(result)
    assert ("titanic", runs["T1"], "features", "model_input") in found  # the version it read, not T2's
    assert ("titanic", runs["T1"], "load_passengers", "return_value") in found
    assert ("sales_producer", runs["S1"], "write_daily_sales", "return_value") in found
    assert not any(run == runs["T2"] for _, run, _, _ in found)
    assert any(n["kind"] == "external" and n["uri"] == FARES for n in result["nodes"])
    ids = {n["id"] for n in result["nodes"]}
    assert result["root"] in ids and all(e["source"] in ids and e["target"] in ids for e in result["edges"])
    out = table(runs, "trace", "titanic_report", runs["R1"], "build_report", "report")
    assert FARES in out and "sales_producer" in out


def test_trace_depth_cuts_the_walk(runs):
    short = as_json(runs, "trace", "titanic_report", runs["R1"], "build_report", "--depth", "1")
    assert short["truncated"] is True and short["depth"] == 1
    assert not any(n["kind"] == "external" and n["uri"] == FARES for n in short["nodes"])


def test_impact_of_a_version_a_uri_and_a_tag(runs):
    report = ("titanic_report", runs["R1"], "build_report", "report")
    down = as_json(runs, "impact", "titanic", runs["T1"], "load_passengers")
    assert down["direction"] == "downstream" and report in versions_of(down)
    assert ("titanic", runs["T2"], "features", "model_input") not in versions_of(down)
    assert report in versions_of(as_json(runs, "impact", "--uri", FARES))
    assert report in versions_of(as_json(runs, "impact", "--tag", "domain=sales"))
    assert "build_report" in table(runs, "impact", "--uri", FARES)


def test_path_between_a_column_and_a_task(runs):
    result = as_json(runs, "path", "titanic.load_passengers.return_value.age", "titanic_report.build_report")
    assert result["direction"] == "path"
    labels = json.dumps(result["nodes"])
    assert "features" in labels and "build_report" in labels
    assert "features" in table(runs, "path", "titanic.load_passengers", "titanic_report.build_report")


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("trace", "no_such_dag", "r", "t"), "'no_such_dag'"),
        (("trace", "titanic", "no_such_run", "load_passengers"), "'no_such_run'"),
        (("trace", "titanic", "{T1}", "no_such_task"), "'no_such_task'"),
        (("trace", "titanic", "{T1}", "features", "no_such_output"), "'no_such_output'"),
        (("impact", "titanic", "{T1}", "no_such_task"), "'no_such_task'"),
        (("impact", "--uri", "s3://nowhere/at-all.csv"), "'s3://nowhere/at-all.csv'"),
        (("path", "titanic.no_such_task", "titanic_report.build_report"), "'titanic.no_such_task'"),
        (("history", "titanic", "no_such_task"), "'no_such_task'"),
        (("history", "no_such_dag", "t"), "'no_such_dag'"),
        (("inspect", "titanic", "no_such_run", "features"), "'no_such_run'"),
        (("inspect", "titanic", "{T1}", "features", "--output", "no_such_output"), "'no_such_output'"),
        (("flag", "titanic", "{T1}", "no_such_task", "--note", "x"), "'no_such_task'"),
        (("review", "titanic", "no_such_run", "features", "--note", "x"), "'no_such_run'"),
        (("stale", "--dag", "no_such_dag"), "'no_such_dag'"),
    ],
)
def test_unknown_ids_get_one_line_and_exit_1(runs, args, named):
    proc = ddtrack(runs, *(a.format(**runs) for a in args), "--json")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert named in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("trace", "titanic"),
        ("trace", "titanic", "r", "t", "--depth", "0"),
        ("impact",),
        ("impact", "titanic", "r", "t", "--uri", FARES),
        ("impact", "titanic", "r"),
        ("recent", "many"),
        ("search", "fares", "--kind", "planet"),
        ("search", "f"),
        ("tag", "=x"),
        ("flag", "titanic", "r", "t"),  # no --note
        ("path", "titanic.features"),
    ],
)
@pytest.mark.usefixtures("airflow_home")
def test_usage_errors_exit_2(args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.stderr  # click's usage error, not an exception of ours (exit 1)


@pytest.mark.usefixtures("airflow_home")
def test_a_store_without_tables_says_to_install(tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    env = {**os.environ, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": empty}
    for args in (["recent"], ["trace", "titanic", "r", "features"], ["suspects", "--json"]):
        proc = subprocess.run([DDTRACK, *args], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "ddtrack's tables are missing" in proc.stderr and "run `ddtrack install`" in proc.stderr


def test_help_of_every_command():
    for command in ("recent", "history", "inspect", "tag", "pii", "search", "stale", "trace", "impact", "path",
                    "flag", "review", "suspects"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "--json" in result.stdout and "trusted operator tool" in result.stdout


# -- flag, suspects, review (last: they change the answers above) -------------------------------


def test_flag_lists_suspects_downstream_until_reviewed(runs):
    flag = as_json(runs, "flag", "titanic", runs["T1"], "load_passengers", "--note", "bad manifest", "--user", "alice")
    assert (flag["dag_id"], flag["run_id"], flag["task_id"], flag["output_name"]) == (
        "titanic", runs["T1"], "load_passengers", "return_value")
    assert (flag["note"], flag["flagged_by"], flag["reviewed_at"]) == ("bad manifest", "alice", None)
    suspects = as_json(runs, "suspects")
    keys = {(s["version"]["dag_id"], s["version"]["run_id"], s["version"]["task_id"], s["version"]["name"]): s
            for s in suspects}
    report = ("titanic_report", runs["R1"], "build_report", "report")
    assert report in keys and ("titanic", runs["T1"], "features", "model_input") in keys
    assert keys[report]["flag"]["id"] == flag["id"] and keys[report]["hops"] >= 2
    assert not any(run == runs["T2"] for _, run, _, _ in keys)  # T2 read another version
    assert "build_report" in table(runs, "suspects")

    reviewed = as_json(runs, "review", "titanic_report", runs["R1"], "build_report", "--note", "checked by hand",
                       "--user", "bob")
    assert reviewed["id"] == flag["id"]
    after = {(s["version"]["dag_id"], s["version"]["task_id"]) for s in as_json(runs, "suspects")}
    assert ("titanic_report", "build_report") not in after and ("titanic", "features") in after

    closed = as_json(runs, "review", "titanic", runs["T1"], "load_passengers", "--note", "reloaded")
    assert closed["reviewed_by"] and closed["review_note"] == "reloaded" and closed["reviewed_at"]
    assert as_json(runs, "suspects") == []
    nothing = ddtrack(runs, "review", "titanic", runs["T2"], "train_model", "--note", "x")
    assert nothing.returncode == 1 and "nothing to review" in nothing.stderr
