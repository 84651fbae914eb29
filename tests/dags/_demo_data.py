"""Small, seeded data for the example DAGs: they need no network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

FIRST = ["Anna", "John", "Mary", "William", "Elizabeth", "James", "Margaret", "Thomas", "Alice", "Henry"]
LAST = ["Smith", "Brown", "Taylor", "Johnson", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes"]


def data_dir() -> Path:
    """Where the example DAGs write files (shared by the Asset DAGs)."""
    path = Path(os.environ.get("DDTRACK_DEMO_DATA", "/tmp/ddtrack-demo-data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def passengers(n: int = 891, seed: int = 7) -> pd.DataFrame:
    """A Titanic-like passenger list: ages with gaps, fares, classes, survival."""
    rng = np.random.default_rng(seed)
    pclass = rng.choice([1, 2, 3], size=n, p=[0.24, 0.21, 0.55])
    sex = rng.choice(["male", "female"], size=n, p=[0.65, 0.35])
    age = rng.normal(29.7, 14.5, size=n).clip(0.4, 80).round(1)
    age[rng.random(n) < 0.2] = np.nan
    fare = np.round(rng.lognormal(2.6, 0.9, size=n) * (4 - pclass), 2)
    survival_p = 0.2 + 0.5 * (sex == "female") + 0.1 * (pclass == 1)
    return pd.DataFrame(
        {
            "passenger_id": np.arange(1, n + 1),
            "name": [f"{rng.choice(LAST)}, {rng.choice(FIRST)}" for _ in range(n)],
            "pclass": pclass,
            "sex": pd.Categorical(sex),
            "age": age,
            "sib_sp": rng.poisson(0.5, size=n),
            "fare": fare,
            "embarked": rng.choice(["S", "C", "Q", None], size=n, p=[0.72, 0.19, 0.08, 0.01]),
            "survived": rng.random(n) < survival_p,
        }
    )


def sales(day: int, n: int = 500, seed: int = 11) -> pd.DataFrame:
    """One day of shop sales."""
    rng = np.random.default_rng(seed + day)
    return pd.DataFrame(
        {
            "order_id": np.arange(day * 10_000, day * 10_000 + n),
            "store": rng.choice(["north", "south", "east", "west"], size=n),
            "amount": np.round(rng.gamma(2.0, 30.0, size=n), 2),
            "quantity": rng.integers(1, 10, size=n),
            "ordered_at": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(day, unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, size=n), unit="s"),
        }
    )
