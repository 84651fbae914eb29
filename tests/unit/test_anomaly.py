"""profile.anomaly bands, and the false-alarm test: stable data raises no drift and no anomaly.

The false-alarm test profiles 20 runs of one random process (a new seed each run) with
``ddtrack.profile.profile`` and judges them exactly as ingest does: each run's drift against
the previous run at the default thresholds, and rows / null % / distinct / mean of each
column against the robust band of the runs before it at the default sensitivity.  The same
loop flags a run of a changed process, so the test can fail.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ddtrack.profile import profile
from ddtrack.profile.anomaly import Band, outside, robust_band, small_sample_widening
from ddtrack.profile.drift import output_drift

RUNS = 20
HISTORY = 30  # [ddtrack] anomaly_history default
METRICS = ("null_pct", "distinct", "mean")


# ---------------------------------------------------------------- robust_band
def test_band_is_median_plus_minus_k_mad_widened_for_short_histories():
    history = [10, 12, 11, 13, 9, 10, 11, 12, None, 100]  # None ignored; one outlier barely moves it
    band = robust_band(history, sensitivity=4.0, min_history=8)
    values = np.array([10, 12, 11, 13, 9, 10, 11, 12, 100], dtype=float)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    half = 4.0 * 1.4826 * mad * small_sample_widening(9)
    assert band == Band(low=median - half, high=median + half, median=median, mad=mad, n=9)
    assert outside(100, band) and not outside(11, band)


def test_no_band_below_the_minimum_history_and_no_flag_without_a_band_or_value():
    assert robust_band([1.0] * 7, min_history=8) is None
    assert robust_band([1.0, None, float("nan")] * 4, min_history=8) is None  # only 4 usable values
    assert not outside(1e9, None)
    assert not outside(None, robust_band([1.0] * 8))


def test_a_constant_history_gets_a_floor_not_a_zero_width_band():
    band = robust_band([1000] * 10)
    assert band.mad == 0 and band.low == 950 and band.high == 1050  # 5 % of the median
    assert not outside(1010, band) and outside(1100, band)
    zero = robust_band([0.0] * 10)
    assert zero.high == 0.5 and not outside(0.1, zero) and outside(2.0, zero)


def test_sensitivity_widens_the_band():
    history = list(np.random.default_rng(0).normal(50, 5, 30))
    narrow, wide = robust_band(history, sensitivity=2), robust_band(history, sensitivity=6)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_widening_keeps_normal_false_alarms_rare_with_eight_runs():
    rng = np.random.default_rng(42)
    histories, new = rng.normal(size=(20_000, 8)), rng.normal(size=20_000)
    flagged = sum(outside(v, robust_band(list(h))) for h, v in zip(histories, new, strict=True))
    assert flagged / 20_000 < 0.003  # a plain ±4 MAD band flags about 3 % here


# ---------------------------------------------------------------- the false-alarm test
def run_frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    """One run of the stable process (``shift`` != 0 changes it)."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0 + shift, 0.5, n)
    amount[rng.random(n) < 0.1] = np.nan  # nullable numeric, ~10 % nulls
    note = rng.choice(["ok", "late", "manual", "retry"], n, p=[0.55, 0.25, 0.15, 0.05]).astype(object)
    note[rng.random(n) < 0.05] = None  # nullable text
    return pd.DataFrame({
        "score": rng.normal(50 + 10 * shift, 8, n),
        "items": rng.poisson(4, n),
        "region": rng.choice(["EU", "US", "APAC", "LATAM", "MEA"], n, p=[0.35, 0.3, 0.2, 0.1, 0.05]),
        "sku": rng.choice([f"sku-{k:03d}" for k in range(60)], n),  # more values than the top 20
        "paid": rng.random(n) < 0.8,
        "at": pd.Timestamp("2024-06-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 86400, n), unit="s"),
        "amount": amount,
        "note": note,
    })


SIZES = {
    "1000 rows": lambda seed: 1000,
    "5000 rows": lambda seed: 5000,
    "1000 to 5000 rows": lambda seed: int(np.random.default_rng(10_000 + seed).integers(1000, 5001)),
}


def run_profiles(size, seeds, shift_last: float = 0.0) -> list[dict]:
    out = []
    for i, seed in enumerate(seeds):
        shift = shift_last if i == len(seeds) - 1 else 0.0
        data = profile(run_frame(seed, size(seed), shift)).to_dict()
        out.append(json.loads(json.dumps(data, allow_nan=False)))  # as stored
    return out


def metric_series(profiles: list[dict]) -> dict[tuple[str, str | None], list[float | None]]:
    """(metric, column) -> one value per run, as ingest records them."""
    series: dict[tuple[str, str | None], list[float | None]] = {("rows", None): [p["rows"] for p in profiles]}
    for p in profiles:
        for c in p["columns"]:
            for m in METRICS:
                value = c.get(m)
                series.setdefault((m, c["name"]), []).append(float(value) if isinstance(value, (int, float)) else None)
    return series


def alarms(profiles: list[dict]) -> tuple[list[str], list[str], dict[str, float]]:
    """Drifted columns between consecutive runs, anomalies against the runs before, max PSI/KS."""
    drifted, peaks = [], {"psi": 0.0, "ks": 0.0}
    for i in range(1, len(profiles)):
        for r in output_drift(profiles[i - 1], profiles[i]):
            peaks["psi"] = max(peaks["psi"], r["psi"] or 0.0)
            peaks["ks"] = max(peaks["ks"], r["ks"] or 0.0)
            if r["drifted"]:
                drifted.append(f"run {i} {r['column']}: {r['reasons']}")
    anomalies = []
    for (metric, column), values in metric_series(profiles).items():
        for i in range(1, len(values)):
            band = robust_band(values[max(0, i - HISTORY) : i])
            if outside(values[i], band):
                anomalies.append(f"run {i} {column} {metric}={values[i]} outside [{band.low}, {band.high}]")
    return drifted, anomalies, peaks


@pytest.mark.parametrize("sizes", list(SIZES), ids=list(SIZES))
def test_stable_data_raises_no_drift_and_no_anomaly(sizes):
    profiles = run_profiles(SIZES[sizes], range(100, 100 + RUNS))
    drifted, anomalies, peaks = alarms(profiles)
    assert drifted == [] and anomalies == []
    print(f"{sizes}: max PSI {peaks['psi']:.4f} (threshold 0.2), max KS {peaks['ks']:.4f} (threshold 0.2)")


def test_the_same_loop_flags_a_changed_run():
    profiles = run_profiles(SIZES["1000 rows"], range(100, 100 + RUNS), shift_last=0.5)
    drifted, anomalies, _ = alarms(profiles)
    last = f"run {RUNS - 1} "
    assert any(d.startswith(last + "score") for d in drifted)
    assert any(a.startswith(last + "score mean") for a in anomalies)
    assert any(a.startswith(last + "amount mean") for a in anomalies)
