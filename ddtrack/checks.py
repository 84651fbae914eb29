"""Data checks declared in code, judged on the fresh profile of an output.

::

    from ddtrack import checks, track

    @track(checks=[checks.rows_between(1, None), checks.null_pct_at_most("price", 5),
                   checks.values_in("region", ["EU", "US"], severity="warn")])
    def sales(): ...

Checks are gates, so every verdict is exact.  Most are read off the fresh profile (row
counts, null %, min/max and column types are exact there).  Where the profile cannot decide
(an estimated distinct count, top values that do not list every value), ``unique`` and
``values_in`` are judged inside the task on the data itself, vectorised and with bounded
memory (:mod:`ddtrack.profile.exact`), and handed to :func:`evaluate` as :class:`Evidence`;
engines that hold data elsewhere (SQL, Spark) can hand over their own.  A check that still
cannot be evaluated (an unknown column, a kind the check does not apply to, data that cannot
be read) has status ``"error"`` and says why; it is never passed silently.

Severity ``"error"`` (default): a failed check (status ``"fail"``) and a check that cannot be
evaluated (status ``"error"``) fail the task, by :class:`CheckFailed`, whatever happens to its
record; ``"warn"``: status ``"warn"`` or ``"error"``, only recorded.

This module is light on purpose (no numpy or pandas at import): DAG files import it when
Airflow parses them.  ``ddtrack.profile.checks`` is the same module under the profile
package's name.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

__all__ = [
    "Check", "CheckFailed", "Evidence", "Severity", "columns", "evaluate", "failing", "from_dict", "min_max",
    "null_pct_at_most", "rows_between", "to_dict", "unique", "values_in",
]

Severity = Literal["warn", "error"]
SEVERITIES = ("warn", "error")
RANGE_KINDS = ("integer", "float", "timedelta", "datetime")
TOP_VALUE_KINDS = ("string", "categorical", "boolean", "object")
TEXT_LIMIT = 200  # the profile cuts top values to this many characters
_SHOWN = 5  # values named in a message


def failing(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The results that fail a task: failed checks, and checks of severity "error" that
    could not be evaluated (a gate that cannot look stays closed)."""
    return [dict(r) for r in results
            if r.get("status") == "fail" or (r.get("status") == "error" and r.get("severity") == "error")]


class CheckFailed(RuntimeError):
    """Raised in the task when a check of severity "error" failed or could not be evaluated.

    ``results`` holds those results (dicts as :func:`evaluate` returns them).
    """

    def __init__(self, results: Sequence[Mapping[str, Any]]) -> None:
        failed = failing(results) or [dict(r) for r in results]
        self.results = failed
        lines = "\n".join(
            f"- {'cannot be evaluated: ' if r.get('status') == 'error' else ''}{r.get('message')}" for r in failed
        )
        plural = "s" if len(failed) != 1 else ""
        super().__init__(f"{len(failed)} data check{plural} failed:\n{lines}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the results (the default would call the class with the message)."""
        return (type(self), (self.results,))


# ---------------------------------------------------------------- the checks
@dataclass(frozen=True, kw_only=True)
class Check:
    """Base of every check: its severity and (optionally) the output it is about.

    ``output=None`` means the output it is declared on (``log_output(..., checks=)``) or the
    return value (``@track(checks=)``).
    """

    severity: Severity = "error"
    output: str | None = None
    name: ClassVar[str] = "check"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.name}: severity must be 'warn' or 'error', not {self.severity!r}")
        if self.output is not None and (not isinstance(self.output, str) or not self.output):
            raise ValueError(f"{self.name}: output must be a non-empty name or None, not {self.output!r}")

    def judge(self, profile: Mapping[str, Any], where: str) -> _Verdict:
        """Pass/fail (or cannot decide) on one profile; ``where`` starts each message."""
        raise NotImplementedError


@dataclass(frozen=True)
class Evidence:
    """What the data itself says about one ``unique`` or ``values_in`` check of an output,
    over all its batches (exact), or why it could not be read (``problem``).

    ``unique``: ``count`` non-null values of which ``duplicates`` repeat an earlier one.
    ``values_in``: ``n_outside`` distinct values outside the set, ``outside`` the first of them.
    """

    count: int | None = None
    duplicates: int | None = None
    outside: tuple[str, ...] = ()
    n_outside: int = 0
    problem: str | None = None


@dataclass(frozen=True)
class _Verdict:
    """A check's outcome before severity applies: passed True/False, or None (cannot decide)."""

    passed: bool | None
    value: Any
    bound: Any
    message: str


def _undecided(message: str, bound: Any = None) -> _Verdict:
    return _Verdict(None, None, bound, message)


@dataclass(frozen=True, kw_only=True)
class RowsBetween(Check):
    min: int | None = None
    max: int | None = None
    name: ClassVar[str] = "rows_between"

    def __post_init__(self) -> None:
        super().__post_init__()
        for label, v in (("min", self.min), ("max", self.max)):
            if v is not None and (not _is_int(v) or v < 0):
                raise ValueError(f"rows_between: {label} must be a non-negative integer or None, not {v!r}")
        if self.min is None and self.max is None:
            raise ValueError("rows_between: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"rows_between: min {self.min} is above max {self.max}")

    def judge(self, profile: Mapping[str, Any], where: str) -> _Verdict:
        bound = {"min": self.min, "max": self.max}
        rows = profile.get("rows")
        if not _is_int(rows):
            return _undecided(f"{where}: the row count is unknown for a {profile.get('kind')} output", bound)
        if self.min is not None and rows < self.min:
            return _Verdict(False, rows, bound, f"{where}: rows is {rows}, below the bound {self.min}")
        if self.max is not None and rows > self.max:
            return _Verdict(False, rows, bound, f"{where}: rows is {rows}, above the bound {self.max}")
        return _Verdict(True, rows, bound, f"{where}: rows is {rows}, within {_range_text(self.min, self.max)}")


@dataclass(frozen=True, kw_only=True)
class _ColumnCheck(Check):
    column: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"{self.name}: column must be a non-empty name, not {self.column!r}")


@dataclass(frozen=True, kw_only=True)
class NullPctAtMost(_ColumnCheck):
    pct: float
    name: ClassVar[str] = "null_pct_at_most"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _is_number(self.pct) or not 0 <= self.pct <= 100:
            raise ValueError(f"null_pct_at_most: pct must be a number from 0 to 100, not {self.pct!r}")

    def judge(self, profile: Mapping[str, Any], where: str) -> _Verdict:
        col, problem = _column(profile, self.column, where)
        if col is None:
            return _undecided(problem, self.pct)
        pct = col.get("null_pct")
        if pct is None:
            return _undecided(f"{where}: column {self.column!r} null % is unknown", self.pct)
        text = f"{where}: column {self.column!r} null % is {_num(pct)}"
        if pct > self.pct:
            return _Verdict(False, pct, self.pct, f"{text}, above the bound {_num(self.pct)}")
        return _Verdict(True, pct, self.pct, f"{text}, within the bound {_num(self.pct)}")


@dataclass(frozen=True, kw_only=True)
class Unique(_ColumnCheck):
    name: ClassVar[str] = "unique"

    def judge(self, profile: Mapping[str, Any], where: str, evidence: Evidence | None = None) -> _Verdict:
        col, problem = _column(profile, self.column, where, need_values=evidence is None)
        if col is None:
            return _undecided(problem, 0)
        if evidence is not None:
            return self._judge_data(evidence, where)
        count, distinct = col.get("count"), col.get("distinct")
        if not _is_int(count) or not _is_int(distinct):
            return _undecided(f"{where}: column {self.column!r} has no exact distinct count", 0)
        if col.get("distinct_estimated"):
            return _undecided(
                f"{where}: column {self.column!r} distinct count {distinct} is an estimate (HyperLogLog), "
                "so uniqueness cannot be decided exactly", 0,
            )
        return self._verdict(count, count - distinct, where)

    def _judge_data(self, evidence: Evidence, where: str) -> _Verdict:
        if evidence.problem or not _is_int(evidence.count) or not _is_int(evidence.duplicates):
            why = evidence.problem or "no exact count of its values"
            return _undecided(f"{where}: column {self.column!r}: uniqueness cannot be decided: {why}", 0)
        return self._verdict(evidence.count, evidence.duplicates, where)

    def _verdict(self, count: int, dupes: int, where: str) -> _Verdict:
        text = f"{where}: column {self.column!r} has {dupes} duplicate values ({count - dupes} distinct of {count} non-null)"
        return _Verdict(dupes <= 0, dupes, 0, f"{text}, {'above' if dupes > 0 else 'within'} the bound 0")


@dataclass(frozen=True, kw_only=True)
class ValuesIn(_ColumnCheck):
    values: tuple[str, ...]
    name: ClassVar[str] = "values_in"

    def __post_init__(self) -> None:
        super().__post_init__()
        raw = self.values
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            raise ValueError(f"values_in: values must be a collection of values, not {raw!r}")
        texts = tuple(sorted({_text(v) for v in raw}))
        if not texts:
            raise ValueError("values_in: values must not be empty")
        object.__setattr__(self, "values", texts)

    def judge(self, profile: Mapping[str, Any], where: str, evidence: Evidence | None = None) -> _Verdict:
        bound = list(self.values)
        col, problem = _column(profile, self.column, where, need_values=evidence is None)
        if col is None:
            return _undecided(problem, bound)
        if evidence is not None:
            return self._judge_data(evidence, where, bound, self.column in (profile.get("pii") or []))
        top = col.get("top_values")
        if col.get("kind") not in TOP_VALUE_KINDS or top is None:
            return _undecided(
                f"{where}: column {self.column!r} is {col.get('kind')}; values_in needs the top values "
                "of a string, categorical, boolean or object column", bound,
            )
        allowed = set(self.values)
        outside = [t["value"] for t in top if t["value"] not in allowed]
        if outside:
            shown = ", ".join(repr(v) for v in outside[:_SHOWN])
            return _Verdict(False, outside, bound, f"{where}: column {self.column!r} has values {shown} outside the "
                            f"allowed set {_list_text(bound)}")
        if not _lists_every_value(col):
            return _undecided(
                f"{where}: column {self.column!r} has {col.get('distinct')} distinct values but the profile lists "
                f"only its {len(top)} most frequent, so values outside {_list_text(bound)} cannot be ruled out", bound,
            )
        return _Verdict(True, [], bound, f"{where}: column {self.column!r} has every value within {_list_text(bound)}")

    def _judge_data(self, evidence: Evidence, where: str, bound: list[str], pii: bool) -> _Verdict:
        if evidence.problem:
            return _undecided(f"{where}: column {self.column!r}: values_in cannot be decided: {evidence.problem}", bound)
        if not evidence.n_outside:
            return _Verdict(True, [], bound, f"{where}: column {self.column!r} has every value within {_list_text(bound)}")
        n = evidence.n_outside
        if pii:  # the column's values stay in the task: say how many, not which
            return _Verdict(False, n, bound, f"{where}: column {self.column!r} (PII) has {n} distinct values outside "
                            f"the allowed set {_list_text(bound)}")
        outside = list(evidence.outside[:_SHOWN])
        shown = ", ".join(repr(v) for v in outside) + (f" and {n - len(outside)} more" if n > len(outside) else "")
        return _Verdict(False, outside, bound, f"{where}: column {self.column!r} has values {shown} outside the "
                        f"allowed set {_list_text(bound)}")


@dataclass(frozen=True, kw_only=True)
class MinMax(_ColumnCheck):
    min: float | str | None = None
    max: float | str | None = None
    name: ClassVar[str] = "min_max"

    def __post_init__(self) -> None:
        super().__post_init__()
        lo, hi = _bound_value(self.min, "min"), _bound_value(self.max, "max")
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        if lo is None and hi is None:
            raise ValueError("min_max: give min, max or both")
        if lo is not None and hi is not None:
            if isinstance(lo, str) != isinstance(hi, str):
                raise ValueError(f"min_max: min {lo!r} and max {hi!r} must both be numbers or both be dates")
            if _order_key(lo) > _order_key(hi):
                raise ValueError(f"min_max: min {lo!r} is above max {hi!r}")

    def judge(self, profile: Mapping[str, Any], where: str) -> _Verdict:
        bound = {"min": self.min, "max": self.max}
        col, problem = _column(profile, self.column, where, need_values=True)
        if col is None:
            return _undecided(problem, bound)
        kind = col.get("kind")
        dates = kind == "datetime"
        if kind not in RANGE_KINDS:
            return _undecided(f"{where}: column {self.column!r} is {kind}; min_max needs a numeric or datetime column", bound)
        if any(b is not None and isinstance(b, str) != dates for b in (self.min, self.max)):
            wanted = "dates" if dates else "numbers"
            return _undecided(f"{where}: column {self.column!r} is {kind}, so its bounds must be {wanted}", bound)
        count = col.get("count")
        if not _is_int(count):
            return _undecided(f"{where}: column {self.column!r} value count is unknown", bound)
        if count == 0:
            return _Verdict(True, None, bound, f"{where}: column {self.column!r} has no values, so none is out of bounds")
        low, high = col.get("min"), col.get("max")
        value = {"min": low, "max": high}
        if low is None or high is None:
            return _undecided(f"{where}: column {self.column!r} min/max are unknown", bound)
        key = _datetime_key if dates else _number_key
        if self.min is not None and key(low) < key(self.min):
            return _Verdict(False, value, bound, f"{where}: column {self.column!r} min is {low}, below the bound {self.min}")
        if self.max is not None and key(high) > key(self.max):
            return _Verdict(False, value, bound, f"{where}: column {self.column!r} max is {high}, above the bound {self.max}")
        return _Verdict(True, value, bound, f"{where}: column {self.column!r} min {low} and max {high} are within "
                        f"{_range_text(self.min, self.max)}")


@dataclass(frozen=True, kw_only=True)
class Columns(Check):
    expected: tuple[tuple[str, str | None], ...]
    name: ClassVar[str] = "columns"

    def __post_init__(self) -> None:
        super().__post_init__()
        raw = self.expected
        if isinstance(raw, Mapping):
            pairs = list(raw.items())
        elif isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            raise ValueError(f"columns: expected must be a list of names or a mapping of name to dtype, not {raw!r}")
        else:
            pairs = [tuple(p) if isinstance(p, (list, tuple)) else (p, None) for p in raw]
        if not pairs:
            raise ValueError("columns: expected must name at least one column")
        for pair in pairs:
            if len(pair) != 2 or not isinstance(pair[0], str) or not pair[0] or not (pair[1] is None or isinstance(pair[1], str)):
                raise ValueError(f"columns: each expected column is a name with an optional dtype string, not {pair!r}")
        object.__setattr__(self, "expected", tuple((str(n), t) for n, t in pairs))

    def judge(self, profile: Mapping[str, Any], where: str) -> _Verdict:
        bound = {name: dtype for name, dtype in self.expected}
        have = {}
        for col in profile.get("columns") or profile.get("schema") or []:
            have.setdefault(str(col.get("name")), col)
        if not have:
            return _undecided(f"{where}: the profile has no columns (a {profile.get('kind')} output)", bound)
        missing = [n for n, _ in self.expected if n not in have]
        retyped = [
            {"column": n, "expected": t, "actual": have[n].get("dtype")}
            for n, t in self.expected
            if n in have and t is not None and t.lower() not in _type_names(have[n])
        ]
        value = {"missing": missing, "retyped": retyped}
        problems = []
        if missing:
            problems.append("missing " + ", ".join(repr(n) for n in missing[:_SHOWN]))
        problems += [f"column {r['column']!r} is {r['actual']}, expected {r['expected']}" for r in retyped[:_SHOWN]]
        if problems:
            return _Verdict(False, value, bound, f"{where}: columns " + "; ".join(problems))
        return _Verdict(True, value, bound, f"{where}: all {len(self.expected)} expected columns are present with their types")


# ---------------------------------------------------------------- constructors
def rows_between(min: int | None = None, max: int | None = None, *, severity: Severity = "error",
                 output: str | None = None) -> Check:
    """The output has between ``min`` and ``max`` rows (either may be None: unbounded)."""
    return RowsBetween(min=min, max=max, severity=severity, output=output)


def null_pct_at_most(column: str, pct: float, *, severity: Severity = "error", output: str | None = None) -> Check:
    """At most ``pct`` % (0-100) of the column's rows are null."""
    return NullPctAtMost(column=column, pct=pct, severity=severity, output=output)


def unique(column: str, *, severity: Severity = "error", output: str | None = None) -> Check:
    """The column's non-null values are all different (nulls are not compared, as in SQL)."""
    return Unique(column=column, severity=severity, output=output)


def values_in(column: str, values: Iterable[Any], *, severity: Severity = "error", output: str | None = None) -> Check:
    """Every non-null value of the column is one of ``values`` (compared as text, as the
    profile lists them: booleans as "True"/"False")."""
    return ValuesIn(column=column, values=values, severity=severity, output=output)


def min_max(column: str, min: Any = None, max: Any = None, *, severity: Severity = "error",
            output: str | None = None) -> Check:
    """The column's values lie in [min, max]: numbers (timedeltas in seconds, or
    ``datetime.timedelta``) or, for datetime columns, dates/datetimes or ISO-8601 text."""
    return MinMax(column=column, min=min, max=max, severity=severity, output=output)


def columns(expected: Mapping[str, str | None] | Sequence[str], *, severity: Severity = "error",
            output: str | None = None) -> Check:
    """The output has these columns; where a type is given, the column's dtype (e.g.
    "int64") or kind (e.g. "integer", "string", "datetime") must equal it."""
    return Columns(expected=expected, severity=severity, output=output)


_CLASSES: dict[str, type[Check]] = {c.name: c for c in (RowsBetween, NullPctAtMost, Unique, ValuesIn, MinMax, Columns)}


# ---------------------------------------------------------------- evaluation
def evaluate(
    profile: Mapping[str, Any], checks: Sequence[Check], output: str,
    evidence: Mapping[Check, Evidence] | None = None,
) -> list[dict[str, Any]]:
    """One result per check on ``output``'s profile; never raises for a profile problem.

    Every check given is judged on this profile (choosing the checks that belong to an
    output is the caller's job); a ``unique`` or ``values_in`` check with an entry in
    ``evidence`` is judged on that instead (what the data said, exactly).  Result:
    ``{"check", "output", "column", "severity", "status": "pass" | "warn" | "fail" | "error",
    "value", "bound", "message"}``.
    """
    where = f"output {output!r}"
    results = []
    for check in checks:
        if not isinstance(check, Check):
            raise TypeError(f"checks must be made by ddtrack.checks (rows_between, unique, ...), not {check!r}")
        try:
            verdict = _judge(check, profile, where, (evidence or {}).get(check))
        except Exception as exc:  # noqa: BLE001 - a malformed profile is reported, not raised
            verdict = _undecided(f"{where}: {check.name} could not be evaluated ({type(exc).__name__}: {exc})")
        results.append({
            "check": check.name, "output": output, "column": getattr(check, "column", None), "severity": check.severity,
            "status": _status(verdict.passed, check.severity), "value": verdict.value,
            "bound": verdict.bound, "message": verdict.message,
        })
    return results


def _judge(check: Check, profile: Any, where: str, evidence: Evidence | None) -> _Verdict:
    if not isinstance(profile, Mapping):
        return _undecided(f"{where}: there is no profile to check ({type(profile).__name__})")
    if evidence is not None and isinstance(check, Unique | ValuesIn):
        return check.judge(profile, where, evidence)
    return check.judge(profile, where)


def _status(passed: bool | None, severity: str) -> str:
    if passed is None:
        return "error"
    if passed:
        return "pass"
    return "fail" if severity == "error" else "warn"


# ---------------------------------------------------------------- JSON form
def to_dict(check: Check) -> dict[str, Any]:
    """The JSON form carried in the record: ``{"check": name, "severity", "output", ...}``."""
    out: dict[str, Any] = {"check": check.name}
    for key, value in asdict(check).items():
        out[key] = [list(p) for p in value] if key == "expected" else list(value) if key == "values" else value
    return out


def from_dict(data: Mapping[str, Any]) -> Check:
    """Inverse of :func:`to_dict`; a ``ValueError`` for an unknown check or bad arguments."""
    cls = _CLASSES.get(str(data.get("check")))
    if cls is None:
        raise ValueError(f"unknown check {data.get('check')!r}; known: {', '.join(sorted(_CLASSES))}")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names - {"check"}
    if unknown:
        raise ValueError(f"{cls.name}: unknown arguments {sorted(unknown)}")
    kwargs = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required argument is missing
        raise ValueError(f"{cls.name}: {exc}") from exc


# ---------------------------------------------------------------- helpers
def _column(profile: Mapping[str, Any], name: str, where: str, need_values: bool = False) -> tuple[Any, str]:
    """The column's profile (first of that name), or None and why it cannot be used."""
    cols = profile.get("columns") or []
    col = next((c for c in cols if str(c.get("name")) == name), None)
    if col is None:
        known = ", ".join(repr(str(c.get("name"))) for c in cols[:10]) or "none"
        return None, f"{where}: no column {name!r} (columns: {known}{', …' if len(cols) > 10 else ''})"
    if col.get("kind") == "error":
        return None, f"{where}: column {name!r} could not be profiled ({col.get('error')})"
    if need_values and name in (profile.get("pii") or []):
        return None, f"{where}: column {name!r} is PII, so its values are not in the profile"
    return col, ""


def _lists_every_value(col: Mapping[str, Any]) -> bool:
    """Whether the top values are every distinct value (exact, and none cut short)."""
    top, distinct = col.get("top_values") or [], col.get("distinct")
    return (_is_int(distinct) and not col.get("distinct_estimated") and len(top) == distinct
            and all(len(t["value"]) < TEXT_LIMIT for t in top))


def _type_names(col: Mapping[str, Any]) -> set[str]:
    return {str(col.get("dtype")).lower(), str(col.get("kind")).lower()}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: float) -> str:
    """A percentage for a message: 12.5, 5.0, 33.3333."""
    return str(round(float(v), 4))


def _text(v: Any) -> str:
    """A value as the profile's top values show it."""
    return v if isinstance(v, str) else str(v)


def _bound_value(v: Any, label: str) -> float | str | None:
    """A min_max bound in its JSON form: a number, or ISO-8601 text for dates."""
    if v is None or _is_number(v):
        return v
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, str):
        try:
            dt.datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"min_max: {label} {v!r} is neither a number nor an ISO-8601 date") from None
        return v
    raise ValueError(f"min_max: {label} must be a finite number, a date or None, not {v!r}")


def _order_key(v: float | str) -> Any:
    """Order of two bounds of the same type (naive dates read as UTC)."""
    if isinstance(v, float | int):
        return v
    d = dt.datetime.fromisoformat(v)
    return d.replace(tzinfo=dt.timezone.utc) if d.tzinfo is None else d


def _number_key(v: Any) -> float:
    return float(v)  # profile numbers, "inf"/"-inf" included


def _datetime_key(v: Any) -> int:
    """UTC nanoseconds of an ISO datetime (naive read as UTC), as profile merges read them."""
    from ddtrack.profile.keys import order_key

    key = order_key(v, "datetime")
    if key is None:
        raise ValueError(f"unreadable datetime {v!r}")
    return key


def _range_text(lo: Any, hi: Any) -> str:
    if lo is None:
        return f"the bound at most {hi}"
    if hi is None:
        return f"the bound at least {lo}"
    return f"the bounds [{lo}, {hi}]"


def _list_text(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:10])
    return "{" + shown + (", …" if len(values) > 10 else "") + "}"
