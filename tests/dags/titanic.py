"""A Titanic-style ML pipeline: PII column, tags, an external input and an extra output."""

from __future__ import annotations

import numpy as np
import pendulum
from _demo_data import data_dir, passengers
from airflow.sdk import dag, task

from ddtrack import log_input, log_output, track


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def titanic():
    @task
    @track(tags={"team": "data-eng", "source": "manifest"}, pii=["name"])
    def load_passengers():
        return passengers()

    @task
    @track
    def features(raw):
        log_input("s3://example-bucket/fares.parquet", name="fares")
        df = raw.drop(columns=["name"]).copy()
        df["age"] = df["age"].fillna(df["age"].median())
        df["is_female"] = (df["sex"] == "female").astype("int8")
        df["family_size"] = df["sib_sp"] + 1
        df["log_fare"] = np.log1p(df["fare"]).round(4)
        model_input = df[["pclass", "is_female", "age", "family_size", "log_fare", "survived"]]
        path = data_dir() / "model_input.parquet"
        model_input.to_parquet(path)
        log_output(model_input, name="model_input", uri=f"file://{path}", tags={"stage": "model"})
        return df

    @task
    @track(tags={"team": "ml"})
    def train_model(df):
        # A transparent baseline "model": survival rate per class and sex.
        rates = df.groupby(["pclass", "is_female"])["survived"].mean().round(3)
        predicted = df.join(rates.rename("rate"), on=["pclass", "is_female"])["rate"] > 0.5
        accuracy = float((predicted == df["survived"]).mean())
        return {"accuracy": round(accuracy, 4), "n_train": int(len(df)), "groups": int(len(rates))}

    train_model(features(load_passengers()))


titanic()
