"""python -m core train --workers 2: one model data-parallel over two local processes
(MultiWorkerMirroredStrategy via TF_CONFIG on 127.0.0.1), the single-worker run's outputs and
quality, and a bundle whose predict.py predicts what the app predicts."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.loading import load_sample
from core.deploy.bundle import ERROR_COLUMN, predict_frame, read_bundle
from core.prep.pipeline import prepare
from core.train.runner import default_config

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("config.json", "history.csv", "metrics.json", "bundle.zip")
TOLERANCE = 1e-5


def cli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "en_US.UTF-8",
        "PYTHONPATH": str(ROOT),
        "MODELDESK_STRICT_I18N": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "core", "train", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    frame = load_sample("breast_cancer").frame
    frame.to_csv(folder / "data.csv", index=False)
    config = default_config(frame, "diagnosis")
    # A fixed length (no early stopping), so both runs end at the same epoch; no dropout, whose
    # masks each replica draws for itself, so the comparison measures data parallelism alone.
    config = replace(
        config,
        model=replace(config.model, dropout=0.0),
        train=replace(config.train, epochs=30, early_stopping=False),
    )
    (folder / "config.json").write_text(config.to_json(), encoding="utf-8")
    common = ("data.csv", "--target", "diagnosis", "--config", "config.json")
    single = cli(*common, "--out", "one", cwd=folder)
    assert single.returncode == 0, single.stderr
    double = cli(*common, "--out", "two", "--workers", "2", cwd=folder)
    assert double.returncode == 0, double.stderr
    return folder, frame, config


def test_two_workers_write_the_same_outputs_within_1_percent_of_one(two_runs):
    folder, _frame, _config = two_runs
    for name in OUTPUTS:
        assert (folder / "two" / name).is_file(), name
    one = pd.read_csv(folder / "one" / "history.csv")
    two = pd.read_csv(folder / "two" / "history.csv")
    assert len(one) == len(two) == 30
    assert list(two.columns) == list(one.columns)
    final_one, final_two = one["val_loss"].iloc[-1], two["val_loss"].iloc[-1]
    # The same loop policy, shuffle seed and output bias as one worker: only the order of float
    # additions in the all-reduce differs.
    assert abs(final_two - final_one) <= 0.01 * final_one, (final_one, final_two)


def test_the_two_worker_bundle_predict_py_matches_the_app(two_runs):
    folder, frame, config = two_runs
    unzipped = folder / "bundle"
    with zipfile.ZipFile(folder / "two" / "bundle.zip") as archive:
        archive.extractall(unzipped)
    rows = prepare(frame, config.preprocess).splits.X_test
    rows.to_csv(unzipped / "input.csv", index=False)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run(
        [sys.executable, "-I", "predict.py", "input.csv", "predictions.csv"],
        cwd=unzipped,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = pd.read_csv(unzipped / "predictions.csv")
    app = predict_frame(read_bundle(folder / "two" / "bundle.zip"), rows)
    assert len(found) == len(rows) and found[ERROR_COLUMN].isna().all()
    numeric = [c for c in app.columns if c != ERROR_COLUMN and pd.api.types.is_float_dtype(app[c])]
    assert numeric
    difference = np.abs(found[numeric].to_numpy(float) - app[numeric].to_numpy(float))
    assert difference.max() <= TOLERANCE


def test_a_bad_worker_count_is_one_line_and_exit_2(tmp_path):
    load_sample("iris").frame.to_csv(tmp_path / "iris.csv", index=False)
    done = cli("iris.csv", "--target", "species", "--out", "out", "--workers", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--workers" in done.stderr
