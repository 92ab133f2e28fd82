"""The proof that a bundle stands alone: its predict.py, run in a fresh Python that cannot
import ModelDesk, predicts what the app predicts on the test rows, to 1e-5."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import quick_training
from quick_training import fresh_python

from core.data.loading import load_sample
from core.deploy.bundle import (
    ERROR_COLUMN,
    PREDICTION_COLUMN,
    bundle_from_run,
    export_bundle_bytes,
    predict_frame,
    probability_column,
)
from core.deploy.predict_script import _safe_cell, model_card, predict_source, requirements_text
from core.evaluate.metrics import evaluate_run, metrics_document, predict_scores
from core.export_safety import neutralise_cell

TOLERANCE = 1e-5
# (sample, target): one classifier of each kind and a regression with categorical inputs.
CASES = {"iris": "species", "breast_cancer": "diagnosis", "tips": "tip"}


def trained(sample: str, target: str):
    frame = load_sample(sample).frame
    prepared, run, config = quick_training.trained(frame, target, epochs=3, name=sample)
    return prepared, run, config, metrics_document(evaluate_run(prepared, run))


def read_predictions(path: Path) -> pd.DataFrame:
    found = pd.read_csv(path)
    found[ERROR_COLUMN] = found[ERROR_COLUMN].astype(object).fillna("")
    return found


@pytest.fixture(scope="module", params=sorted(CASES))
def unpacked(request, tmp_path_factory):
    sample = request.param
    prepared, run, config, metrics = trained(sample, CASES[sample])
    folder = tmp_path_factory.mktemp(f"bundle-{sample}")
    archive = folder / "bundle.zip"
    archive.write_bytes(export_bundle_bytes(prepared, run, config, metrics, dataset_name=sample))
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder / "unzipped")
    return prepared, run, config, metrics, folder / "unzipped"


def test_predict_py_in_a_fresh_python_matches_the_app_on_the_test_rows(unpacked):
    prepared, run, config, metrics, folder = unpacked
    assert fresh_python("-c", "import core", cwd=folder).returncode != 0, "ModelDesk must be absent"
    rows = prepared.splits.X_test
    rows.to_csv(folder / "input.csv", index=False)

    done = fresh_python("predict.py", "input.csv", "predictions.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    found = read_predictions(folder / "predictions.csv")

    app = predict_frame(bundle_from_run(prepared, run, config, metrics), rows)
    scores = predict_scores(run, prepared.X_test)
    assert len(found) == len(rows)
    assert (found[ERROR_COLUMN] == "").all()
    if prepared.spec.task == "regression":
        assert np.max(np.abs(found[PREDICTION_COLUMN].to_numpy() - scores)) <= TOLERANCE
        difference = found[PREDICTION_COLUMN].to_numpy() - app[PREDICTION_COLUMN].to_numpy()
        assert np.max(np.abs(difference)) <= TOLERANCE
        return
    classes = prepared.preprocessor.classes_
    columns = [probability_column(label) for label in classes]
    probabilities = found[columns].to_numpy()
    expected = np.column_stack([1 - scores, scores]) if len(classes) == 2 else scores
    assert np.max(np.abs(probabilities - expected)) <= TOLERANCE
    assert np.max(np.abs(probabilities - app[columns].to_numpy())) <= TOLERANCE
    assert (
        found[PREDICTION_COLUMN].astype(str).tolist() == app[PREDICTION_COLUMN].astype(str).tolist()
    )


def test_predict_py_reports_a_bad_row_and_predicts_the_others(unpacked):
    prepared, _run, _config, _metrics, folder = unpacked
    rows = prepared.splits.X_test.head(4).astype(object)
    number = next(i for i, item in enumerate(prepared.preprocessor.schema_)
                  if item["kind"] == "numeric")  # fmt: skip
    name = prepared.preprocessor.schema_[number]["name"]
    rows[name] = rows[name].astype(object)
    rows.loc[rows.index[1], name] = "=1+2"
    rows.to_csv(folder / "bad.csv", index=False)
    done = fresh_python("predict.py", "bad.csv", "out.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    found = read_predictions(folder / "out.csv")
    errors = found[ERROR_COLUMN]
    assert errors.iloc[1].startswith("Row 2") and "=1+2" in errors.iloc[1]
    assert pd.isna(found[PREDICTION_COLUMN].iloc[1])
    assert found[PREDICTION_COLUMN].drop(index=1).notna().all()


def test_predict_py_says_what_is_wrong_in_one_line(unpacked):
    prepared, _run, _config, _metrics, folder = unpacked
    first = prepared.preprocessor.schema_[0]["name"]
    prepared.splits.X_test.head(3).drop(columns=[first]).to_csv(folder / "short.csv", index=False)
    done = fresh_python("predict.py", "short.csv", "out.csv", cwd=folder)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and first in done.stderr
    missing = fresh_python("predict.py", "nowhere.csv", "out.csv", cwd=folder)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_the_bundle_carries_card_script_and_requirements(unpacked):
    prepared, _run, _config, _metrics, folder = unpacked
    card = (folder / "README.md").read_text(encoding="utf-8")
    for heading in ("Model details", "Intended use", "Data", "Metrics", "Limitations"):
        assert f"## {heading}" in card
    assert prepared.spec.target in card
    requirements = (folder / "requirements.txt").read_text(encoding="utf-8")
    assert "keras==" in requirements and "scikit-learn==" in requirements
    assert "streamlit" not in requirements
    script = (folder / "predict.py").read_text(encoding="utf-8")
    imported = {
        line.split()[1].split(".")[0]
        for line in script.splitlines()
        if line.strip().startswith(("import ", "from ")) and "__future__" not in line
    }
    assert imported <= {"importlib", "json", "os", "sys", "pathlib", "skops", "keras", "numpy",
                        "pandas", "re"}  # fmt: skip


def test_the_model_card_speaks_chinese_too(unpacked):
    prepared, run, config, metrics, _folder = unpacked
    card = model_card(prepared, run, config, metrics, dataset_name="x", lang="zh")
    assert "## 预期用途" in card and "## 局限" in card


@pytest.mark.parametrize(
    "value", ["=SUM(A1)", "+1+1", "-2+3", "@cmd", "\t=x", "\r=x", "-3.5", "+7", "1e5", "ok", 5]
)
def test_predict_py_neutralises_cells_like_the_app(value):
    namespace: dict = {"__file__": "predict.py", "__name__": "bundle_predict"}
    exec(predict_source(), namespace)  # the script's own safe_cell, not ours
    assert namespace["safe_cell"](value) == neutralise_cell(value) == _safe_cell(value)


def test_requirements_pin_tensorflow_and_keras():
    text = requirements_text()
    assert "tensorflow" in text and "keras==" in text
