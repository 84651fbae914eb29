"""ddtrack.checks: validated constructors, exact verdicts on a profile, "error" (never a
silent pass) when the profile cannot decide, JSON round trip and CheckFailed."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ddtrack import checks
from ddtrack.profile import merge_profiles, profile


def stored(obj, **options) -> dict:
    return json.loads(json.dumps(profile(obj, **options).to_dict(), allow_nan=False))


@pytest.fixture(scope="module")
def sales() -> dict:
    price = [10.0, 12.5, None, 20.0, 7.5, 9.0, 11.0, 30.0]
    return stored(pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6, 7, 7],
        "price": price,
        "region": ["EU", "US", "EU", "EU", "APAC", "US", "EU", "US"],
        "at": pd.date_range("2024-03-01", periods=8, freq="D", tz="UTC"),
        "wait": pd.to_timedelta(range(8), unit="min"),
    }))


def one(profile_: dict, check: checks.Check, output: str = "sales") -> dict:
    [result] = checks.evaluate(profile_, [check], output)
    return result


# ---------------------------------------------------------------- verdicts
def test_null_pct_message_names_output_column_value_and_bound(sales):
    result = one(sales, checks.null_pct_at_most("price", 5))
    assert result == {
        "check": "null_pct_at_most", "output": "sales", "column": "price", "severity": "error",
        "status": "fail", "value": 12.5, "bound": 5,
        "message": "output 'sales': column 'price' null % is 12.5, above the bound 5.0",
    }
    assert one(sales, checks.null_pct_at_most("price", 12.5))["status"] == "pass"
    assert one(sales, checks.null_pct_at_most("price", 5, severity="warn"))["status"] == "warn"


def test_rows_between(sales):
    assert one(sales, checks.rows_between(1, 8))["status"] == "pass"
    low = one(sales, checks.rows_between(min=10))
    assert low["status"] == "fail" and low["message"] == "output 'sales': rows is 8, below the bound 10"
    assert one(sales, checks.rows_between(max=7))["message"] == "output 'sales': rows is 8, above the bound 7"
    assert one(stored(42), checks.rows_between(1))["status"] == "error"  # a scalar has no rows


def test_unique_counts_duplicates_exactly(sales):
    dupes = one(sales, checks.unique("id"))
    assert dupes["status"] == "fail" and dupes["value"] == 1 and dupes["bound"] == 0
    assert "column 'id' has 1 duplicate values" in dupes["message"]
    assert one(sales, checks.unique("price"))["status"] == "pass"  # nulls are not compared


def test_unique_on_an_estimated_distinct_count_is_an_error_saying_why():
    rng = np.random.default_rng(0)
    parts = [stored(pd.DataFrame({"id": rng.integers(0, 10**9, 500)})) for _ in range(2)]
    merged = merge_profiles(parts)
    assert merged["columns"][0]["distinct_estimated"]
    result = one(merged, checks.unique("id"))
    assert result["status"] == "error" and "estimate" in result["message"] and "'id'" in result["message"]


def test_values_in(sales):
    assert one(sales, checks.values_in("region", {"EU", "US", "APAC"}))["status"] == "pass"
    result = one(sales, checks.values_in("region", ["EU", "US"], severity="warn"))
    assert result["status"] == "warn" and result["value"] == ["APAC"] and result["bound"] == ["EU", "US"]
    assert result["message"] == "output 'sales': column 'region' has values 'APAC' outside the allowed set {'EU', 'US'}"


def test_values_in_cannot_pass_when_the_top_values_do_not_list_every_value():
    names = [f"v{k:02d}" for k in range(30)]
    p = stored(pd.DataFrame({"c": names * 3}))
    undecided = one(p, checks.values_in("c", names))
    assert undecided["status"] == "error"
    assert "30 distinct values" in undecided["message"] and "most frequent" in undecided["message"]
    assert one(p, checks.values_in("c", names[1:]))["status"] in ("fail", "error")
    assert one(p, checks.values_in("c", ["nope"]))["status"] == "fail"  # a listed value is outside: certain


def test_values_in_booleans_compare_as_text():
    p = stored(pd.DataFrame({"ok": [True, False, True]}))
    assert one(p, checks.values_in("ok", [True, False]))["status"] == "pass"
    assert one(p, checks.values_in("ok", [True]))["status"] == "fail"


def test_min_max_numbers_dates_and_durations(sales):
    assert one(sales, checks.min_max("price", 0, 30))["status"] == "pass"
    high = one(sales, checks.min_max("price", 0, 25))
    assert high["message"] == "output 'sales': column 'price' max is 30.0, above the bound 25"
    assert high["value"] == {"min": 7.5, "max": 30.0} and high["bound"] == {"min": 0, "max": 25}
    assert one(sales, checks.min_max("at", "2024-03-01", dt.date(2024, 3, 31)))["status"] == "pass"
    late = one(sales, checks.min_max("at", max=dt.datetime(2024, 3, 5, tzinfo=dt.timezone.utc)))
    assert late["status"] == "fail" and "max is 2024-03-08" in late["message"]
    assert one(sales, checks.min_max("wait", max=dt.timedelta(minutes=10)))["status"] == "pass"
    assert one(sales, checks.min_max("wait", max=dt.timedelta(minutes=5)))["status"] == "fail"


def test_columns_and_their_types(sales):
    assert one(sales, checks.columns(["id", "price"]))["status"] == "pass"
    assert one(sales, checks.columns({"id": "int64", "region": "string", "at": "datetime"}))["status"] == "pass"
    result = one(sales, checks.columns({"id": "float64", "missing": None}))
    assert result["status"] == "fail"
    assert result["message"] == "output 'sales': columns missing 'missing'; column 'id' is int64, expected float64"
    assert result["value"] == {"missing": ["missing"], "retyped": [{"column": "id", "expected": "float64", "actual": "int64"}]}


# ---------------------------------------------------------------- what the profile cannot decide
def test_unknown_columns_and_wrong_kinds_are_errors_not_passes(sales):
    unknown = one(sales, checks.null_pct_at_most("nope", 5))
    assert unknown["status"] == "error" and unknown["message"].startswith("output 'sales': no column 'nope' (columns: 'id'")
    strings = one(sales, checks.min_max("region", 0, 1))
    assert strings["status"] == "error" and "region" in strings["message"] and "string" in strings["message"]
    numbers = one(sales, checks.values_in("id", [1, 2]))
    assert numbers["status"] == "error" and "integer" in numbers["message"]
    dates = one(sales, checks.min_max("price", "2024-01-01"))
    assert dates["status"] == "error" and "must be numbers" in dates["message"]


def test_failed_columns_pii_and_malformed_profiles_are_errors(broken_numbers):
    p = stored(pd.DataFrame({"x": [1.0, 2.0], "secret": ["a", "b"]}), pii=("secret",))
    failed = one(p, checks.min_max("x", 0, 5))
    assert failed["status"] == "error" and "could not be profiled" in failed["message"]
    assert one(p, checks.values_in("secret", ["a", "b"]))["status"] == "error"
    for bad in (None, {"columns": "oops", "rows": "many"}, {"columns": [{"name": "x", "kind": "float", "min": object()}]}):
        results = checks.evaluate(bad, [checks.unique("x"), checks.rows_between(1), checks.min_max("x", 0)], "o")
        assert [r["status"] for r in results] == ["error"] * 3


def test_evaluate_takes_only_checks():
    with pytest.raises(TypeError, match="ddtrack.checks"):
        checks.evaluate({}, [{"check": "unique", "column": "a"}], "o")


# ---------------------------------------------------------------- constructors validate
@pytest.mark.parametrize(("make", "words"), [
    (lambda: checks.null_pct_at_most("a", -1), "pct"),
    (lambda: checks.null_pct_at_most("a", 101), "pct"),
    (lambda: checks.null_pct_at_most("", 5), "column"),
    (lambda: checks.rows_between(5, 2), "above max"),
    (lambda: checks.rows_between(-1), "non-negative"),
    (lambda: checks.rows_between(True), "non-negative"),
    (lambda: checks.rows_between(), "give min, max"),
    (lambda: checks.min_max("a", 3, 1), "above max"),
    (lambda: checks.min_max("a", "2024-02-01", "2024-01-01"), "above max"),
    (lambda: checks.min_max("a", 0, "2024-01-01"), "both be numbers or both be dates"),
    (lambda: checks.min_max("a", "yesterday"), "ISO-8601"),
    (lambda: checks.min_max("a", float("nan")), "finite"),
    (lambda: checks.min_max("a"), "give min, max"),
    (lambda: checks.unique("a", severity="fatal"), "severity"),
    (lambda: checks.unique("a", output=""), "output"),
    (lambda: checks.values_in("a", "abc"), "collection"),
    (lambda: checks.values_in("a", []), "empty"),
    (lambda: checks.columns("abc"), "list of names"),
    (lambda: checks.columns([]), "at least one"),
    (lambda: checks.columns({"a": 3}), "dtype string"),
])
def test_constructors_reject_bad_arguments_clearly(make, words):
    with pytest.raises(ValueError, match=words):
        make()


# ---------------------------------------------------------------- JSON form, CheckFailed, import cost
ALL = [
    checks.rows_between(1, 10, severity="warn", output="sales"),
    checks.null_pct_at_most("price", 2.5),
    checks.unique("id"),
    checks.values_in("region", ["US", "EU"]),
    checks.min_max("price", 0),
    checks.min_max("at", dt.date(2024, 1, 1), "2024-12-31T00:00:00+00:00"),
    checks.columns({"id": "int64", "price": None}),
    checks.columns(["id"]),
]


@pytest.mark.parametrize("check", ALL, ids=lambda c: c.name)
def test_json_round_trip(check):
    data = json.loads(json.dumps(checks.to_dict(check)))
    assert data["check"] == check.name and checks.from_dict(data) == check


def test_from_dict_rejects_unknown_checks_and_arguments():
    with pytest.raises(ValueError, match="unknown check 'nope'"):
        checks.from_dict({"check": "nope"})
    with pytest.raises(ValueError, match="unknown arguments"):
        checks.from_dict({"check": "unique", "column": "a", "colour": "red"})
    with pytest.raises(ValueError, match="null_pct_at_most"):
        checks.from_dict({"check": "null_pct_at_most", "column": "a"})


def test_check_failed_lists_the_failures_and_pickles(sales):
    results = checks.evaluate(sales, [checks.unique("id"), checks.null_pct_at_most("price", 5),
                                      checks.rows_between(1)], "sales")
    exc = checks.CheckFailed(results)
    assert isinstance(exc, RuntimeError) and [r["check"] for r in exc.results] == ["unique", "null_pct_at_most"]
    assert str(exc).startswith("2 data checks failed:\n- output 'sales': column 'id' has 1 duplicate")
    assert "- output 'sales': column 'price' null % is 12.5, above the bound 5.0" in str(exc)
    again = pickle.loads(pickle.dumps(exc))
    assert again.results == exc.results and str(again) == str(exc)


def test_public_module_is_light_and_shared_with_the_profile_package():
    code = "import sys; from ddtrack import checks; checks.unique('a'); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    import ddtrack
    from ddtrack.profile import checks as profile_checks

    assert ddtrack.checks is checks and profile_checks.evaluate is checks.evaluate


# ---------------------------------------------------------------- judged on the data (ddtrack.profile.exact)
def gate(frames, check_list, limit=2**28, keep=True):
    """Results of the checks over the batches ``frames``, as a task judges them (``keep``: the
    profiler is asked for what the checks need, as the task asks it: the distinct values of
    ``values_in`` columns and exact distinct counts of ``unique`` ones; else both read the data)."""
    from ddtrack.profile.exact import OutputEvidence, wanted_distinct, wanted_exact

    gathered, profiles = OutputEvidence(limit), []
    for f in frames:
        asks = {"keep_distinct": wanted_distinct(check_list), "exact_distinct": wanted_exact(check_list)} if keep else {}
        profiled = profile(f, **asks)
        profiles.append(profiled.to_dict())
        gathered.add(f, profiles[-1], check_list, profiled.distinct)
    return checks.evaluate(merge_profiles(profiles), check_list, "o", gathered.evidence())


def sparse(rows=300_000, dupes=1, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.choice(2**62, rows, replace=False).astype(np.int64)
    ids[rows - dupes:] = ids[:dupes]
    codes = np.array([f"C{k:03d}" for k in range(500)])[rng.integers(0, 500, rows)]
    codes[rows // 2] = "X1"
    return pd.DataFrame({"id": rng.permutation(ids), "code": codes})


def as_kind(df, kind):
    import polars as pl
    import pyarrow as pa

    return {"pandas": df, "object": df.astype({"code": object}), "polars": pl.from_pandas(df),
            "pyarrow": pa.Table.from_pandas(df, preserve_index=False)}[kind]


@pytest.mark.parametrize("kind", ["pandas", "object", "polars", "pyarrow"])
def test_unique_and_values_in_are_exact_where_the_profile_cannot_decide(kind):
    df = sparse(dupes=3)
    codes = [f"C{k:03d}" for k in range(500)]
    on_profile = checks.evaluate(stored(as_kind(df, kind)), [checks.unique("id"), checks.values_in("code", codes)], "o")
    assert [r["status"] for r in on_profile] == ["error", "error"]  # the estimate and top 20 cannot say
    unique, values_in = gate([as_kind(df, kind)], [checks.unique("id"), checks.values_in("code", codes)])
    assert (unique["status"], unique["value"]) == ("fail", int(df["id"].duplicated().sum()))
    assert unique["message"] == "output 'o': column 'id' has 3 duplicate values (299997 distinct of 300000 non-null), above the bound 0"
    assert (values_in["status"], values_in["value"]) == ("fail", ["X1"])
    for keep in (True, False):  # the profiler's distinct values, or the data read again
        assert gate([as_kind(df, kind)], [checks.values_in("code", [*codes, "X1"])], keep=keep)[0]["status"] == "pass"
        assert gate([as_kind(df, kind)], [checks.values_in("code", codes)], keep=keep)[0]["value"] == ["X1"]


def test_the_profiler_hands_over_the_distinct_values_it_was_asked_for_and_no_more():
    df = pd.DataFrame({"a": ["x", "y", "x", None], "b": ["p", "q", "r", "s"], "n": [1, 2, 3, 4]})
    profiled = profile(df, keep_distinct={"a", "n"})
    assert sorted(profiled.distinct) == ["a"] and sorted(profiled.distinct["a"]) == ["x", "y"]
    assert profiled.to_dict() == profile(df).to_dict()  # never part of the profile itself


def test_a_unique_column_is_counted_exactly_by_the_profiler_so_one_batch_needs_no_second_sort(monkeypatch):
    from ddtrack.profile import exact

    df = sparse(dupes=3)  # 300,000 unsorted sparse ids: past 2**18 rows the profile estimates distinct
    estimated, counted = (next(c for c in profile(df, **ask)["columns"] if c["name"] == "id")
                          for ask in ({}, {"exact_distinct": {"id"}}))
    assert estimated["distinct_estimated"] and not counted.get("distinct_estimated")
    assert counted["distinct"] == df["id"].nunique() == 299_997
    assert {k: v for k, v in counted.items() if k not in ("distinct", "distinct_estimated", "mean", "std")} == {
        k: v for k, v in estimated.items() if k not in ("distinct", "distinct_estimated", "mean", "std")}

    def no_sort(values):
        raise AssertionError("the column was keyed and sorted again")

    monkeypatch.setattr(exact, "keys_of", no_sort)
    [unique] = gate([df], [checks.unique("id")])
    assert (unique["status"], unique["value"]) == ("fail", 3)
    for kind in ("polars", "pyarrow", "object"):
        assert gate([as_kind(df, kind)], [checks.unique("id")])[0]["value"] == 3
    assert gate([df["id"].to_numpy()], [checks.unique("value")])[0]["value"] == 3


def test_numpy_columns_are_read_too():
    ids = sparse(dupes=0)["id"].to_numpy().copy()
    assert gate([ids], [checks.unique("value")])[0]["status"] == "pass"
    ids[7] = ids[8]
    assert gate([ids], [checks.unique("value")])[0]["value"] == 1


def test_unique_is_exact_across_batches_of_ints_floats_and_text():
    ints = pd.DataFrame({"id": np.arange(0, 1000), "s": [f"v{k}" for k in range(1000)]})
    floats = pd.DataFrame({"id": [999.0, 1000.5, np.nan], "s": ["v999", "w", None]})  # 999 == 999.0
    unique_id, unique_s = gate([ints, floats], [checks.unique("id"), checks.unique("s")])
    assert (unique_id["value"], unique_s["value"]) == (1, 1)
    assert "1 duplicate values (1001 distinct of 1002 non-null)" in unique_id["message"]
    apart = pd.DataFrame({"id": [2**62 + 1], "s": ["z"]})  # int64 ids beyond float precision stay distinct
    assert gate([pd.DataFrame({"id": [2**62], "s": ["y"]}), apart], [checks.unique("id")])[0]["status"] == "pass"


def test_past_the_memory_bound_unique_fails_closed_saying_why():
    batches = [pd.DataFrame({"id": np.arange(k * 1000, (k + 1) * 1000)}) for k in range(3)]
    [result] = gate(batches, [checks.unique("id")], limit=16_000)
    assert result["status"] == "error"
    assert "column 'id': uniqueness cannot be decided" in result["message"]
    assert "[ddtrack] check_memory_mb" in result["message"]
    assert checks.failing([result]) == [result]  # severity error: the task fails
    [warned] = gate(batches, [checks.unique("id", severity="warn")], limit=16_000)
    assert warned["status"] == "error" and checks.failing([warned]) == []


def test_a_check_declared_after_earlier_batches_cannot_be_evaluated():
    from ddtrack.profile.exact import OutputEvidence

    gathered, check = OutputEvidence(2**20), checks.unique("id")
    gathered.add(pd.DataFrame({"id": [1]}), stored(pd.DataFrame({"id": [1]})), [])
    gathered.add(pd.DataFrame({"id": [2]}), stored(pd.DataFrame({"id": [2]})), [check])
    assert "declared after earlier batches" in gathered.evidence()[check].problem


def test_values_outside_a_pii_column_are_counted_not_shown():
    df = pd.DataFrame({"email": [f"u{k}@x" for k in range(40)]})
    from ddtrack.profile.exact import OutputEvidence

    prof, check = stored(df, pii=("email",)), checks.values_in("email", ["u1@x"])
    gathered = OutputEvidence(2**20)
    gathered.add(df, prof, [check])
    [result] = checks.evaluate(prof, [check], "o", gathered.evidence())
    assert result["status"] == "fail" and result["value"] == 39 and "u2@x" not in result["message"]


def test_unknown_columns_fail_closed_and_check_failed_says_why(sales):
    results = checks.evaluate(sales, [checks.unique("nope"), checks.unique("nope", severity="warn")], "sales")
    assert [r["status"] for r in results] == ["error", "error"]
    assert checks.failing(results) == results[:1]
    assert str(checks.CheckFailed(results)) == (
        "1 data check failed:\n- cannot be evaluated: output 'sales': no column 'nope' (columns: 'id', 'price', "
        "'region', 'at', 'wait')"
    )


def test_checks_read_no_private_profile_module():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(checks.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [m for m in imported if m and m.startswith("ddtrack.profile._")]
