#!/usr/bin/env python
"""Drift benchmark: ddtrack's drift from two stored profiles against Evidently's DataDriftPreset.

Run from the repository root (Evidently is installed into its own virtual environment,
``benchmarks/.peers-venv/evidently``, on first use, from PyPI: evidently 0.7.23, pandas < 3)::

    .venv/bin/python benchmarks/drift_vs_evidently.py

Options: ``--rows N`` (rows per frame, default 1,000,000), ``--reps N`` (timed repetitions of
ddtrack's drift; the median is reported), ``--json FILE`` (write every figure and verdict).

Three frames of 20 columns, fixed seeds: the reference, a new sample of the same process
("no change"), and a new sample with six columns changed ("change"): ``amount`` mean +0.5 sd,
``price`` spread × 1.5, ``discount`` 10 % new nulls, ``region`` a new category at 5 %,
``channel`` 10 points moved between two categories (web 30 → 20 %, store 10 → 20 %) and ``plan``
10 points between two halves (50/50 → 40/60).  The other columns are normal, lognormal(3, 2),
Pareto(1.5), Cauchy, exponential, uniform, Poisson and categorical (Zipf over 1,000 and 200
labels, a few labels, 1 % nulls): the skewed ones are where histogram-read PSI raised false
alarms.  Both tools judge reference → no change and reference → change, each column with its
default test and threshold.

Timed: ddtrack's ``output_drift`` on the two stored (JSON) profiles, which is what runs at
ingest, and the profiles themselves (``profile(df).to_dict()``, made once in the task anyway);
Evidently's ``Report([DataDriftPreset()]).run(...)`` plus reading its result, in its own
interpreter on the very same frames (read from parquet files written once in this run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddtrack.profile import profile  # noqa: E402
from ddtrack.profile.drift import output_drift  # noqa: E402

EVIDENTLY_VENV = ROOT / "benchmarks" / ".peers-venv" / "evidently"
EVIDENTLY_PIP = ["evidently==0.7.23", "pandas<3", "pyarrow"]
CHANGED = {  # column -> the change made to it in the "change" frame
    "amount": "mean + 0.5 sd",
    "price": "spread × 1.5",
    "discount": "10 % new nulls",
    "region": "new category at 5 %",
    "channel": "10 points between categories",
    "plan": "10 points between two halves",
}
ZIPF_LABELS = [f"p{k}" for k in range(1000)]


def zipf_codes(rng: np.random.Generator, n: int, labels: int, s: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, labels + 1) ** s
    return rng.choice(labels, n, p=weights / weights.sum())


def categorical(rng: np.random.Generator, n: int, labels: list[str], shares: list[float]) -> pd.Categorical:
    return pd.Categorical.from_codes(rng.choice(len(labels), n, p=shares), labels)


def frame(n: int, seed: int, change: bool = False) -> pd.DataFrame:
    """One sample of the process (20 columns); ``change`` applies the changes of :data:`CHANGED`."""
    rng = np.random.default_rng(seed)
    price = rng.normal(50.0, 5.0, n)
    discount = rng.exponential(5.0, n)
    weight = rng.normal(70.0, 12.0, n)
    weight[rng.random(n) < 0.05] = np.nan
    tier = zipf_codes(rng, n, 3, 1.0)
    tier[rng.random(n) < 0.01] = -1
    region = ["EU", "US", "APAC"]
    df = pd.DataFrame({
        "amount": rng.normal(100.0, 10.0, n) + (5.0 if change else 0.0),
        "price": 50.0 + (price - 50.0) * (1.5 if change else 1.0),
        "discount": np.where(rng.random(n) < 0.10, np.nan, discount) if change else discount,
        "latency": rng.lognormal(3.0, 2.0, n),
        "size": rng.pareto(1.5, n) + 1.0,
        "error": rng.standard_cauchy(n),
        "weight": weight,
        "score": rng.random(n),
        "qty": rng.poisson(3.0, n),
        "balance": rng.lognormal(8.0, 1.0, n),
        "gap": rng.exponential(1.0, n),
        "temp": rng.normal(15.0, 8.0, n),
        "region": categorical(rng, n, region, [0.5, 0.3, 0.2]),
        "channel": categorical(rng, n, ["web", "store", "app"], [0.2, 0.2, 0.6] if change else [0.3, 0.1, 0.6]),
        "plan": categorical(rng, n, ["free", "paid"], [0.4, 0.6] if change else [0.5, 0.5]),
        "product": pd.Categorical.from_codes(zipf_codes(rng, n, 1000, 1.1), ZIPF_LABELS),
        "city": pd.Categorical.from_codes(zipf_codes(rng, n, 200, 1.5), [f"city{k}" for k in range(200)]),
        "status": categorical(rng, n, ["new", "paid", "shipped", "returned", "lost"], [0.3, 0.3, 0.3, 0.08, 0.02]),
        "device": categorical(rng, n, ["ios", "android", "web", "tv"], [0.35, 0.35, 0.25, 0.05]),
        "tier": pd.Categorical.from_codes(tier, ["gold", "silver", "bronze"]),
    })
    if change:  # a new category at 5 %
        region_codes = df["region"].cat.add_categories(["LATAM"])
        region_codes[rng.random(n) < 0.05] = "LATAM"
        df["region"] = region_codes
    return df


# ---------------------------------------------------------------- ddtrack
def stored_profile(df: pd.DataFrame) -> tuple[dict, float]:
    """The profile as the store gives it back (JSON round trip), and the seconds profiling took."""
    t0 = time.perf_counter()
    doc = profile(df).to_dict()
    took = time.perf_counter() - t0
    return json.loads(json.dumps(doc, allow_nan=False)), took


def ddtrack_drift(before: dict, after: dict, reps: int) -> tuple[dict[str, dict], list[float]]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        results = output_drift(before, after)
        times.append(time.perf_counter() - t0)
    return {r["column"]: r for r in results}, times


# ---------------------------------------------------------------- Evidently, in its own interpreter
EVIDENTLY_RUNNER = textwrap.dedent("""
    import json, sys, time
    import pandas as pd
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref_path, numeric, categories = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
    reference = pd.read_parquet(ref_path)
    out = {"version": evidently.__version__, "pandas": pd.__version__, "runs": {}}
    for name, path in zip(sys.argv[4::2], sys.argv[5::2]):
        current = pd.read_parquet(path)
        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categories)
        t0 = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        result = snapshot.dict()
        took = time.perf_counter() - t0
        columns = {}
        for metric in result["metrics"]:
            config = metric["config"]
            if config.get("type", "").endswith("ValueDrift"):
                p_value = "p_value" in config["method"]
                value, threshold = float(metric["value"]), float(config["threshold"])
                drifted = value < threshold if p_value else value >= threshold
                columns[config["column"]] = {"method": config["method"], "value": value,
                                             "threshold": threshold, "drifted": drifted}
        out["runs"][name] = {"seconds": took, "columns": columns}
    print(json.dumps(out))
""")


def evidently_python() -> Path:
    """The side venv's Python, made on first use (python -m venv + pip from PyPI)."""
    python = EVIDENTLY_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = EVIDENTLY_VENV / ".installed"
    if not done.exists():
        print(f"setting up {EVIDENTLY_VENV} (pip install {' '.join(EVIDENTLY_PIP)}) ...", flush=True)
        EVIDENTLY_VENV.parent.mkdir(parents=True, exist_ok=True)
        (EVIDENTLY_VENV.parent / ".gitignore").write_text("*\n")  # side venvs stay out of git
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_PIP], check=True, timeout=1800)
        done.write_text("ok\n")
    return python


def evidently_drift(reference: Path, currents: dict[str, Path], numeric: list[str], categories: list[str]) -> dict:
    args = [str(reference), ",".join(numeric), ",".join(categories)]
    for name, path in currents.items():
        args += [name, str(path)]
    out = subprocess.run([str(evidently_python()), "-c", EVIDENTLY_RUNNER, *args], check=True,
                         capture_output=True, text=True, timeout=7200)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report
def ddtrack_verdict(result: dict[str, Any] | None) -> str:
    if result is None:
        return "not compared"
    if result["drifted"]:
        return "**drift**: " + "; ".join(result["reasons"])
    measure = ("Wasserstein", "wasserstein") if result["wasserstein"] is not None else ("Jensen–Shannon", "js")
    return f"no drift: {measure[0]} {result[measure[1]]:.3g}" if result[measure[1]] is not None else "no drift"


def evidently_verdict(column: dict[str, Any] | None) -> str:
    if column is None:
        return "not compared"
    measure = f"{column['method']} {column['value']:.3g} (threshold {column['threshold']:g})"
    return f"**drift**: {measure}" if column["drifted"] else f"no drift: {measure}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    frames = {"reference": frame(args.rows, 1), "no change": frame(args.rows, 2), "change": frame(args.rows, 3, change=True)}
    reference = frames["reference"]
    categories = [c for c in reference.columns if isinstance(reference[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in reference.columns if c not in categories]
    print(f"{args.rows:,} rows × {reference.shape[1]} columns per frame ({len(numeric)} numeric, {len(categories)} categorical)")

    profiles, profile_seconds = {}, {}
    for name, df in frames.items():
        profiles[name], profile_seconds[name] = stored_profile(df)
    ours, ours_times = {}, {}
    for case in ("no change", "change"):
        ours[case], ours_times[case] = ddtrack_drift(profiles["reference"], profiles[case], args.reps)

    with tempfile.TemporaryDirectory(prefix="ddtrack-drift-bench-") as tmp:
        paths = {name: Path(tmp) / f"{i}.parquet" for i, name in enumerate(frames)}
        for name, df in frames.items():
            df.to_parquet(paths[name])
        print("Evidently DataDriftPreset on the same frames (about 100 s a comparison at 1M rows) ...", flush=True)
        theirs = evidently_drift(paths["reference"], {c: paths[c] for c in ("no change", "change")}, numeric, categories)

    print(f"\nEvidently {theirs['version']} (pandas {theirs['pandas']}), ddtrack: profiles read back from JSON")
    print(f"\n| comparison | ddtrack drift (median of {args.reps}) | ddtrack profiles of both frames "
          "| Evidently DataDriftPreset | Evidently / ddtrack drift | Evidently / (profiles + drift) |")
    print("|---|---:|---:|---:|---:|---:|")
    speed = {}
    for case in ("no change", "change"):
        drift_s = statistics.median(ours_times[case])
        both = profile_seconds["reference"] + profile_seconds[case]
        evid = theirs["runs"][case]["seconds"]
        speed[case] = {"ddtrack_drift_s": drift_s, "ddtrack_profiles_s": both, "evidently_s": evid}
        print(f"| reference → {case} | {drift_s * 1000:.1f} ms | {both:.2f} s | {evid:.1f} s "
              f"| {evid / drift_s:,.0f} × | {evid / (both + drift_s):,.0f} × |")

    print("\n| comparison | column | made change | ddtrack | Evidently |")
    print("|---|---|---|---|---|")
    verdicts, counts = [], {}
    for case in ("no change", "change"):
        for column in reference.columns:
            made = CHANGED.get(column, "none") if case == "change" else "none"
            mine, peer = ours[case].get(column), theirs["runs"][case]["columns"].get(column)
            verdicts.append({"comparison": case, "column": column, "change": made,
                             "ddtrack": mine, "evidently": peer})
            for tool, flagged in (("ddtrack", bool(mine and mine["drifted"])), ("Evidently", bool(peer and peer["drifted"]))):
                key = (tool, "caught" if made != "none" and flagged else "missed" if made != "none"
                       else "false alarm" if flagged else "quiet")
                counts[key] = counts.get(key, 0) + 1
            print(f"| {case} | {column} | {made} | {ddtrack_verdict(mine)} | {evidently_verdict(peer)} |")
    print()
    for tool in ("ddtrack", "Evidently"):
        print(f"{tool}: {counts.get((tool, 'caught'), 0)} of {len(CHANGED)} changes caught, "
              f"{counts.get((tool, 'false alarm'), 0)} false alarms on {2 * reference.shape[1] - len(CHANGED)} unchanged columns")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "speed": speed, "profile_seconds": profile_seconds,
                                         "evidently": {k: v for k, v in theirs.items() if k != "runs"},
                                         "verdicts": verdicts}, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
