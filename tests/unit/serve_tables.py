"""Shared by the serving tests: a hostile test table (missing values in every column, dates,
ordinal codes, clipping, categories never seen in training) and raw rows made from a split."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from core.train.runner import RunConfig, default_config

UNSEEN = "never-seen-in-training"


def messy_table(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """A binary table with numbers, categories and date-times, each with missing values."""
    rng = np.random.default_rng(seed)
    when = pd.Series(pd.date_range("2019-12-30", periods=rows, freq="37h")).astype(str)
    frame = pd.DataFrame(
        {
            "age": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(40, 10, rows).round(1)),
            "income": rng.lognormal(10, 1, rows).round(2),
            "color": rng.choice(
                ["red", "green", "blue", "teal", None], rows, p=[0.4, 0.3, 0.2, 0.005, 0.095]
            ),
            "size": rng.choice(["S", "M", "L", None], rows, p=[0.3, 0.3, 0.3, 0.1]),
            "when": when.where(rng.random(rows) > 0.1),
        }
    )  # fmt: skip
    score = frame["age"].fillna(40) + (frame["color"] == "red") * 10 + rng.normal(0, 5, rows)
    frame["bought"] = np.where(score > 45, "yes", "no")
    return frame


def messy_config(frame: pd.DataFrame) -> RunConfig:
    """The default plan with the less common choices switched on: ordinal codes scaled to 0-1,
    clipping at quantiles with a robust scaler, no imputation of one category."""
    config = default_config(frame, "bought")
    plans = []
    for plan in config.preprocess.columns:
        if plan.name == "size":
            plan = replace(plan, encoding="ordinal", scale="minmax", impute="none")
        if plan.name == "income":
            plan = replace(plan, clip=(0.05, 0.95), scale="robust")
        plans.append(plan)
    return replace(config, preprocess=replace(config.preprocess, columns=tuple(plans)))


def hostile_rows(rows: pd.DataFrame, schema: list[dict]) -> pd.DataFrame:
    """Held-out rows with, in each input column, one missing value and (categories) one value
    never seen in training, on different rows."""
    rows = rows.reset_index(drop=True).copy()
    for position, item in enumerate(schema):
        name = item["name"]
        rows[name] = rows[name].astype(object)
        rows.loc[position % len(rows), name] = None
        if item["kind"] == "categorical":
            rows.loc[(position + 1) % len(rows), name] = UNSEEN
    return rows
