"""A price in the tens of thousands, end to end, where a wrong scale would show at once:
trained with the CLI's defaults, the bundle predicts in dollars through the app's prediction
path, `python -m core predict`, the bundle's own predict.py (<= 1e-5 relative to the app) and a
float TensorFlow Lite export.

The network trains on the standardised target and folds the scale into its output layer
(core.train.loop), so every route below must give dollars without knowing about the scale."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from quick_training import fresh_python

from core.deploy.bundle import ERROR_COLUMN, PREDICTION_COLUMN, predict_frame, read_bundle
from core.deploy.tflite import tflite_float, tflite_scores
from core.evaluate.metrics import predict_scores
from core.prep.pipeline import prepare
from core.train.runner import default_config

ROOT = Path(__file__).resolve().parents[2]
RELATIVE = 1e-5


def house_prices(rows: int = 600) -> pd.DataFrame:
    """Synthetic house prices, about $30,000 to $110,000: area, rooms, age and a district."""
    rng = np.random.default_rng(7)
    area = rng.uniform(40, 200, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    age = rng.integers(0, 80, rows)
    district = rng.choice(["north", "south", "east", "west"], rows)
    offset = pd.Series(district).map({"north": 8_000, "south": 0, "east": 3_000, "west": -4_000})
    price = (
        20_000 + 350 * area + 3_000 * rooms - 150 * age + offset.to_numpy()
        + rng.normal(scale=2_000, size=rows)
    )  # fmt: skip
    return pd.DataFrame(
        {"area": area, "rooms": rooms, "age": age, "district": district, "price": price.round(0)}
    )


def python_m_core(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANG": "en_US.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "core", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`python -m core train` with its defaults on the house prices; the test rows of its split."""
    folder = tmp_path_factory.mktemp("houses")
    frame = house_prices()
    frame.to_csv(folder / "houses.csv", index=False)
    done = python_m_core(
        "train", folder / "houses.csv", "--target", "price", "--out", folder / "out", cwd=folder
    )
    assert done.returncode == 0, done.stderr
    # The CLI's split, from its own defaults (the same seed): rows it never trained on.
    prepared = prepare(frame, default_config(frame, "price").preprocess)
    rows = prepared.splits.X_test
    truth = prepared.splits.y_test.to_numpy(dtype=np.float64)
    rows.to_csv(folder / "rows.csv", index=False)
    bundle = read_bundle(folder / "out" / "bundle.zip")
    app = predict_frame(bundle, rows)  # what the Deploy page shows for an uploaded file
    return folder, bundle, rows, truth, app[PREDICTION_COLUMN].to_numpy(dtype=np.float64)


def test_the_app_predicts_the_held_out_prices_in_dollars(trained):
    _folder, bundle, _rows, truth, app = trained
    assert bundle.task == "regression"
    assert np.isfinite(app).all()
    r2 = 1 - np.sum((app - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert r2 > 0.9, r2
    # Dollars, not the standardised scale the network trained on (there, the mean is ~0).
    assert abs(app.mean() - truth.mean()) < 0.05 * truth.mean()
    assert app.std() == pytest.approx(truth.std(), rel=0.2)
    assert bundle.metrics["r2"] > 0.9 and bundle.metrics["mae"] > 100  # metrics.json in dollars


def test_the_cli_predicts_what_the_app_predicts(trained):
    folder, _bundle, rows, _truth, app = trained
    out = folder / "cli-predictions.csv"
    done = python_m_core("predict", folder / "out" / "bundle.zip", "rows.csv", "--out", out,
                         cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = pd.read_csv(out)
    assert len(found) == len(rows) and found[ERROR_COLUMN].isna().all()
    assert np.allclose(found[PREDICTION_COLUMN].to_numpy(), app, rtol=RELATIVE, atol=0)


def test_the_bundles_predict_py_predicts_what_the_app_predicts(trained):
    folder, _bundle, rows, _truth, app = trained
    unzipped = folder / "unzipped"
    with zipfile.ZipFile(folder / "out" / "bundle.zip") as zipped:
        zipped.extractall(unzipped)
    rows.to_csv(unzipped / "input.csv", index=False)
    assert fresh_python("-c", "import core", cwd=unzipped).returncode != 0, "no ModelDesk here"
    done = fresh_python("predict.py", "input.csv", "predictions.csv", cwd=unzipped)
    assert done.returncode == 0, done.stderr
    found = pd.read_csv(unzipped / "predictions.csv")[PREDICTION_COLUMN].to_numpy()
    assert np.max(np.abs(found - app) / np.abs(app)) <= RELATIVE


def test_a_float_tflite_export_predicts_dollars_close_to_keras(trained):
    _folder, bundle, rows, truth, app = trained
    X = bundle.preprocessor.transform(rows)
    assert np.allclose(predict_scores(bundle.model, X), app, rtol=RELATIVE, atol=0)
    found = tflite_scores(tflite_float(bundle.model), X)
    assert found.shape == app.shape
    assert np.max(np.abs(found - app) / np.abs(app)) <= RELATIVE
    assert abs(found.mean() - truth.mean()) < 0.05 * truth.mean()
