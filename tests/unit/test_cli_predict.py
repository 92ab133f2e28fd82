"""python -m core predict BUNDLE FILE --out PREDICTIONS.csv (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from quick_training import trained

from core.cli.main import main
from core.data.loading import load_sample
from core.deploy.bundle import ERROR_COLUMN, PREDICTION_COLUMN, probability_column, write_bundle
from core.evaluate.metrics import evaluate_run, metrics_document, predict_scores

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def iris_bundle(tmp_path_factory):
    prepared, run, config = trained(load_sample("iris").frame, "species", epochs=3)
    folder = tmp_path_factory.mktemp("cli-predict")
    metrics = metrics_document(evaluate_run(prepared, run))
    path = write_bundle(folder / "bundle.zip", prepared, run, config, metrics)
    rows = prepared.splits.X_test.copy()
    rows.to_csv(folder / "rows.csv", index=False)
    return prepared, run, path, folder


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_predict_writes_one_row_per_input_row_matching_the_model(iris_bundle):
    prepared, run, path, folder = iris_bundle
    out = folder / "out" / "predictions.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "core", "predict", str(path), str(folder / "rows.csv"),
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "TensorFlow's start-up noise stays off stderr"
    assert str(out) in done.stdout
    table = pd.read_csv(out)
    expected = predict_scores(run, prepared.X_test)
    columns = [probability_column(label) for label in prepared.preprocessor.classes_]
    assert np.max(np.abs(table[columns].to_numpy() - expected)) <= 1e-6
    assert table[PREDICTION_COLUMN].notna().all() and table[ERROR_COLUMN].isna().all()


def test_bad_rows_are_reported_and_text_is_neutralised(iris_bundle, capsys):
    prepared, _run, path, folder = iris_bundle
    rows = prepared.splits.X_test.head(3).astype(object)
    rows.iloc[1, 0] = "=HYPERLINK(1)"
    rows.to_csv(folder / "bad.csv", index=False)
    out = folder / "bad_predictions.csv"
    assert main(["predict", str(path), str(folder / "bad.csv"), "--out", str(out)]) == 0
    assert "1" in capsys.readouterr().out
    table = pd.read_csv(out)
    cells = [value for value in table.to_numpy().ravel() if isinstance(value, str)]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert table[ERROR_COLUMN].notna().tolist() == [False, True, False]
    assert pd.isna(table[PREDICTION_COLUMN].iloc[1])


def test_missing_bundle_is_exit_2_with_one_line(iris_bundle, capsys):
    _prepared, _run, _path, folder = iris_bundle
    code = main(["predict", str(folder / "nope.zip"), str(folder / "rows.csv"), "--out", "x.csv"])
    assert code == 2
    assert "nope.zip" in one_line_error(capsys)


def test_a_file_that_is_not_a_bundle_is_exit_2(iris_bundle, capsys):
    _prepared, _run, _path, folder = iris_bundle
    fake = folder / "fake.zip"
    fake.write_text("not a zip")
    assert main(["predict", str(fake), str(folder / "rows.csv"), "--out", "x.csv"]) == 2
    assert "isn't a ModelDesk bundle" in one_line_error(capsys)


def test_a_missing_column_is_named(iris_bundle, capsys):
    prepared, _run, path, folder = iris_bundle
    prepared.splits.X_test.drop(columns=["petal width (cm)"]).to_csv(
        folder / "short.csv", index=False
    )
    out = folder / "short_predictions.csv"
    assert main(["predict", str(path), str(folder / "short.csv"), "--out", str(out)]) == 2
    assert "petal width (cm)" in one_line_error(capsys)
    assert not out.exists()


def test_an_unreadable_or_missing_input_file_is_exit_2(iris_bundle, capsys):
    _prepared, _run, path, folder = iris_bundle
    broken = folder / "broken.xlsx"
    broken.write_text("this is not a workbook\n")
    assert main(["predict", str(path), str(broken), "--out", str(folder / "o.csv")]) == 2
    one_line_error(capsys)
    assert main(["predict", str(path), str(folder / "none.csv"), "--out", "o.csv"]) == 2
    assert "none.csv" in one_line_error(capsys)
    assert main(["predict", str(path), str(folder / "rows.csv"), "--out", str(folder)]) == 2
    one_line_error(capsys)


def test_chinese_messages_follow_lang(iris_bundle, capsys, monkeypatch):
    _prepared, _run, _path, folder = iris_bundle
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    assert main(["predict", str(folder / "nope.zip"), "rows.csv", "--out", "x.csv"]) == 2
    assert "不存在" in one_line_error(capsys)
