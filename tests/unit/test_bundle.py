"""bundle.zip: written in one piece, read back whole, predicting what the in-memory model does."""

import json
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import quick_training

from core.data.loading import load_sample
from core.deploy.bundle import (
    ERROR_COLUMN,
    PREDICTION_COLUMN,
    bundle_bytes,
    history_csv,
    history_frame,
    predict_frame,
    probability_column,
    read_bundle,
    write_bundle,
)
from core.evaluate.metrics import evaluate_run, metrics_document, predict_scores
from core.i18n import UserError
from core.train.engine import first_train_spec
from core.train.models import first_model_spec
from core.train.runner import default_config

MEMBERS = {
    "bundle.json",
    "model.keras",
    "config.json",
    "metrics.json",
    "schema.json",
    "history.csv",
    "preprocessing/transformer.skops",
    "preprocessing/preprocessing.json",
    "preprocessing/prepare.py",
}


def trained(frame: pd.DataFrame, target: str, config=None):
    return quick_training.trained(frame, target, epochs=4, config=config)


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    frame = load_sample("iris").frame
    prepared, run, config = trained(frame, "species")
    metrics = metrics_document(evaluate_run(prepared, run))
    folder = tmp_path_factory.mktemp("bundle")
    path = write_bundle(folder / "bundle.zip", prepared, run, config, metrics)
    return prepared, run, config, metrics, path


def test_the_zip_holds_every_part_and_nothing_is_left_behind(iris):
    _prepared, _run, _config, _metrics, path = iris
    with zipfile.ZipFile(path) as zipped:
        assert set(zipped.namelist()) == MEMBERS
    assert [p.name for p in path.parent.iterdir()] == ["bundle.zip"]
    leftovers = list(Path(tempfile.gettempdir()).glob("modeldesk-bundle-*"))
    assert leftovers == []


def test_read_back_gives_the_same_config_metrics_history_and_schema(iris):
    prepared, run, config, metrics, path = iris
    bundle = read_bundle(path)
    assert bundle.config == config
    assert bundle.metrics == metrics
    assert bundle.task == "multiclass"
    assert bundle.classes == ["setosa", "versicolor", "virginica"]
    pd.testing.assert_frame_equal(bundle.history, history_frame(run.history))
    assert "time_s" not in bundle.history.columns
    schema = bundle.schema
    assert schema["target"] == "species"
    assert schema["classes"] == bundle.classes
    assert [c["name"] for c in schema["columns"]] == [p.name for p in config.preprocess.kept]
    petal = next(c for c in schema["columns"] if c["name"] == "petal length (cm)")
    train_values = prepared.splits.X_train["petal length (cm)"]
    assert petal["kind"] == "numeric"
    assert (petal["min"], petal["max"]) == (train_values.min(), train_values.max())
    assert petal["min"] <= petal["default"] <= petal["max"]
    assert bundle.manifest["run"]["epochs_trained"] == 4


def test_predictions_from_the_bundle_equal_the_in_memory_model(iris):
    prepared, run, _config, _metrics, path = iris
    bundle = read_bundle(path)
    rows = prepared.splits.X_test
    table = predict_frame(bundle, rows)
    expected = predict_scores(run, prepared.X_test)
    classes = bundle.classes
    found = table[[probability_column(label) for label in classes]].to_numpy()
    assert np.max(np.abs(found - expected)) <= 1e-6
    assert table[PREDICTION_COLUMN].tolist() == [classes[i] for i in expected.argmax(axis=1)]
    assert (table[ERROR_COLUMN] == "").all()
    assert table.index.equals(rows.index)


def test_a_bad_row_is_reported_and_the_others_are_still_predicted(iris):
    prepared, _run, _config, _metrics, path = iris
    bundle = read_bundle(path)
    rows = prepared.splits.X_test.head(5).astype(object)
    rows.iloc[2, 0] = "twelve"
    table = predict_frame(bundle, rows)
    assert pd.isna(table[PREDICTION_COLUMN].iloc[2])
    assert "twelve" in table[ERROR_COLUMN].iloc[2]
    assert np.isnan(table[probability_column("setosa")].iloc[2])
    good = table.drop(index=rows.index[2])
    assert good[PREDICTION_COLUMN].notna().all()
    assert (good[ERROR_COLUMN] == "").all()
    clean = predict_frame(bundle, prepared.splits.X_test.head(5))
    pd.testing.assert_frame_equal(good, clean.drop(index=rows.index[2]))
    chinese = predict_frame(bundle, rows, lang="zh")
    assert chinese[ERROR_COLUMN].iloc[2] != table[ERROR_COLUMN].iloc[2]


def test_missing_input_columns_are_a_user_error(iris):
    prepared, _run, _config, _metrics, path = iris
    rows = prepared.splits.X_test.drop(columns=["sepal width (cm)"])
    with pytest.raises(UserError, match="sepal width"):
        predict_frame(read_bundle(path), rows)


def test_extra_files_are_added_and_cannot_replace_a_part(iris, tmp_path):
    prepared, run, config, metrics, _path = iris
    extra = {"README.md": "# Model card\n", "scripts/predict.py": b"print('hi')\n"}
    data = bundle_bytes(prepared, run, config, metrics, extra_files=extra)
    (tmp_path / "b.zip").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "b.zip") as zipped:
        assert set(zipped.namelist()) == MEMBERS | set(extra)
        assert zipped.read("README.md") == b"# Model card\n"
    for name in ("metrics.json", "preprocessing/x.py", "../escape.txt", "/abs.txt"):
        with pytest.raises(ValueError):
            write_bundle(tmp_path / "c.zip", prepared, run, config, metrics, {name: "x"})
    assert not (tmp_path / "c.zip").exists()


def test_reading_something_else_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_bundle(tmp_path / "absent.zip")
    text = tmp_path / "notes.zip"
    text.write_text("not a zip", encoding="utf-8")
    with pytest.raises(UserError, match="isn't a ModelDesk bundle"):
        read_bundle(text)
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as zipped:
        zipped.writestr("bundle.json", json.dumps({"format": "something.else"}))
    with pytest.raises(UserError, match="isn't a ModelDesk bundle"):
        read_bundle(foreign)


def test_history_csv_has_one_row_per_epoch_and_no_timings():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "time_s": [0.1, 0.2]}
    text = history_csv(history)
    assert text == "epoch,loss,val_loss\n1,1.0,1.1\n2,0.5,0.7\n"


def test_a_regression_bundle_predicts_values(tmp_path):
    frame = load_sample("line").frame
    config = default_config(frame, "y")
    config = replace(config, model=first_model_spec(), train=first_train_spec())
    prepared, run, config = trained(frame, "y", config)
    metrics = metrics_document(evaluate_run(prepared, run))
    assert {"r2", "rmse", "mae"} <= set(metrics)
    bundle = read_bundle(write_bundle(tmp_path / "line.zip", prepared, run, config, metrics))
    table = predict_frame(bundle, prepared.splits.X_test)
    assert list(table.columns) == [PREDICTION_COLUMN, ERROR_COLUMN]
    expected = predict_scores(run, prepared.X_test)
    assert np.max(np.abs(table[PREDICTION_COLUMN].to_numpy() - expected)) <= 1e-6
    assert bundle.schema["target_range"]["min"] <= bundle.schema["target_range"]["max"]
