"""'Show me the code': the standalone training script runs without ModelDesk and reproduces the
run's split, preprocessing and model; and the page's in-memory bundle predicts like the zip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.loading import load_sample
from core.deploy.codegen import SCRIPT_FILE, training_script
from core.prep.pipeline import prepare
from core.train.engine import TrainSpec
from core.train.models import ModelSpec
from core.train.optimizers import optimizer_names
from core.train.runner import RunConfig, default_config


def run_script(config: RunConfig, n_classes: int, frame: pd.DataFrame, folder: Path) -> str:
    (folder / SCRIPT_FILE).write_text(training_script(config, n_classes, "test"), encoding="utf-8")
    frame.to_csv(folder / "data.csv", index=False)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run(
        [sys.executable, "-I", SCRIPT_FILE, "data.csv"], cwd=folder, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def split_sizes(output: str) -> tuple[int, int, int]:
    match = re.search(r"rows: (\d+) training, (\d+) validation, (\d+) test", output)
    assert match, output
    return tuple(int(n) for n in match.groups())


def test_the_training_script_reproduces_a_classifier_without_modeldesk(tmp_path):
    frame = load_sample("iris").frame
    config = default_config(frame, "species")
    config = replace(config, train=replace(config.train, epochs=3))
    output = run_script(config, 3, frame, tmp_path)
    prepared = prepare(frame, config.preprocess)
    assert split_sizes(output) == (len(prepared.y_train), len(prepared.y_val), len(prepared.y_test))
    accuracy = float(re.search(r"test accuracy: ([\d.]+)", output).group(1))
    assert 0 <= accuracy <= 1
    script = (tmp_path / SCRIPT_FILE).read_text(encoding="utf-8")
    assert "keras.layers.Dense(32" in script and "keras.optimizers.Adam(0.001)" in script
    assert "import core" not in script and "from core" not in script


def test_the_training_script_covers_dates_clipping_ordinal_and_indicators(tmp_path):
    rng = np.random.default_rng(0)
    rows = 120
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "when": pd.date_range("2020-01-01", periods=rows, freq="D").astype(str),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "size": rng.choice(["S", "M", "L"], size=rows),
        }
    )
    frame.loc[::7, "x"] = np.nan
    frame["y"] = 3 * frame["x"].fillna(0) + (frame["colour"] == "red") + rng.normal(size=rows)
    config = default_config(frame, "y")
    plans = []
    for plan in config.preprocess.columns:
        if plan.name == "x":
            plan = replace(plan, clip=(0.05, 0.95), add_indicator=True, scale="robust")
        elif plan.name == "when":
            plan = replace(plan, action="keep", kind="datetime", datetime_parts=("year", "month"),
                           impute="median", scale="minmax")  # fmt: skip
        elif plan.name == "size":
            plan = replace(plan, action="keep", kind="categorical", encoding="ordinal",
                           impute="constant", fill_value="M", scale="none")  # fmt: skip
        plans.append(plan)
    config = RunConfig(
        replace(config.preprocess, columns=tuple(plans)),
        ModelSpec(hidden_layers=(8,), dropout=0.1, batch_norm=True, l2=1e-3, activation="tanh"),
        TrainSpec(
            optimizer="momentum", epochs=2, batch_size=None, early_stopping=True, schedule="cosine"
        ),
    )
    prepared = prepare(frame, config.preprocess)
    output = run_script(config, 0, frame, tmp_path)
    assert split_sizes(output) == (len(prepared.y_train), len(prepared.y_val), len(prepared.y_test))
    assert re.search(r"test r2: -?[\d.]+", output)
    script = (tmp_path / SCRIPT_FILE).read_text(encoding="utf-8")
    assert "clip_to_quantiles(train['x'], 0.05, 0.95)" in script
    assert "OrdinalEncoder" in script and "MissingIndicator" in script
    assert "CosineDecay" in script and "BatchNormalization" in script


@pytest.mark.parametrize("schedule", ["plateau", "constant"])
def test_the_script_text_compiles_for_each_optimizer(schedule):
    frame = load_sample("breast_cancer").frame
    config = default_config(frame, "diagnosis")
    for optimizer in optimizer_names():
        train = replace(config.train, optimizer=optimizer, schedule=schedule, class_weights=True)
        text = training_script(replace(config, train=train), 2)
        compile(text, SCRIPT_FILE, "exec")
        assert "balanced_weights(y_train" in text
