"""Tabular-grade models: TabM ensembles (k heads, BatchEnsemble adapters) and the piecewise-linear
encoding of numbers, trained by the same loop and exported like every other model."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import quick_training
from quick_training import fresh_python

from core.data.loading import load_sample
from core.deploy.bundle import ERROR_COLUMN, PREDICTION_COLUMN, export_bundle_bytes, read_bundle
from core.deploy.tflite import compare_exports, tflite_scores
from core.evaluate.metrics import evaluate_run, metrics_document, predict_scores
from core.i18n import UserError
from core.prep.pipeline import prepare
from core.prep.preprocessing import ColumnPlan, Preprocessor
from core.train.models import (
    ModelSpec,
    build_model,
    describe_architecture,
    head_outputs,
    model_outputs,
)
from core.train.runner import default_config

TOLERANCE = 1e-5


def test_tabm_with_one_head_and_no_adapters_trains_exactly_as_the_plain_mlp():
    frame = load_sample("breast_cancer").frame
    mlp = ModelSpec(hidden_layers=(16, 8), dropout=0.1, l2=1e-3)
    tabm = replace(mlp, kind="tabm", ensemble_size=1, adapters=False)
    _, plain, _ = quick_training.trained(frame, "diagnosis", epochs=3, model=mlp)
    prepared, ensemble, _ = quick_training.trained(frame, "diagnosis", epochs=3, model=tabm)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(ensemble.history[key], plain.history[key], rtol=1e-6)
    np.testing.assert_allclose(
        model_outputs(ensemble.build_model(), prepared.X_test),
        model_outputs(plain.build_model(), prepared.X_test),
        atol=1e-6,
    )


def test_initial_weights_match_the_mlp_head_for_head():
    mlp = build_model(ModelSpec(hidden_layers=(8,)), 5, "regression", 0, seed=3)
    tabm = build_model(
        ModelSpec(kind="tabm", hidden_layers=(8,), ensemble_size=1, adapters=False),
        5,
        "regression",
        0,
        seed=3,
    )
    for plain, ensemble in zip(mlp.get_weights(), tabm.get_weights(), strict=True):
        np.testing.assert_array_equal(plain, ensemble.reshape(plain.shape))


@pytest.fixture(scope="module")
def tabm_run():
    frame = load_sample("iris").frame
    spec = ModelSpec(kind="tabm", hidden_layers=(16,), ensemble_size=4)
    return quick_training.trained(frame, "species", epochs=4, model=spec)


def test_the_ensemble_predicts_the_mean_of_its_heads_and_the_heads_differ(tabm_run):
    prepared, run, _ = tabm_run
    model = run.build_model()
    heads = head_outputs(model, prepared.X_test)
    assert heads.shape == (len(prepared.X_test), 4, 3)
    np.testing.assert_allclose(model_outputs(model, prepared.X_test), heads.mean(axis=1), atol=1e-6)
    assert np.max(np.abs(heads[:, 0] - heads[:, 1])) > 1e-3, "adapters make the heads differ"
    assert run.status == "finished" and len(run.history["loss"]) == 4


def test_each_head_trains_on_its_own_loss():
    """The loop's training loss is the mean of the heads' losses, not the loss of their mean."""
    import tensorflow as tf

    from core.train.loop import default_gradients, loss_object

    model = build_model(
        ModelSpec(kind="tabm", hidden_layers=(4,), ensemble_size=3), 2, "regression", 0, seed=1
    )
    x = tf.constant(np.random.default_rng(0).normal(size=(6, 2)), tf.float32)
    y = tf.constant(np.arange(6, dtype=np.float32).reshape(-1, 1))
    loss, predictions, _ = default_gradients(model)(model, loss_object("mse"), x, y, None)
    heads = head_outputs(model, x.numpy())
    per_head = ((heads - y.numpy()[:, None, :]) ** 2).mean(axis=(0, 2))
    np.testing.assert_allclose(float(loss), per_head.mean(), rtol=1e-5)
    np.testing.assert_allclose(predictions.numpy(), heads.mean(axis=1), atol=1e-5)


def test_layer_table_and_work_count_the_heads():
    rows, params, work = describe_architecture(
        ModelSpec(kind="tabm", hidden_layers=(8,), ensemble_size=4), 3, "binary", 2, n_rows=10
    )
    names = [row["layer"] for row in rows]
    assert names == [
        "input",
        "ensemble_copies",
        "adapter_r_1",
        "hidden_1",
        "adapter_s_1",
        "output",
        "ensemble_mean",
    ]
    # r 4x3, shared W 3x8, s 4x8 + biases 4x8, output heads 4x8x1 + 4x1
    assert params["total"] == 12 + 24 + 32 + 32 + 32 + 4
    assert work["forward_per_row"] == 12 + 4 * 24 + 32 + 32


@pytest.mark.parametrize(
    ("fields", "key"),
    [({"ensemble_size": 0}, "tabular.error.ensemble_size"),
     ({"ensemble_size": 65}, "tabular.error.ensemble_size"),
     ({"ensemble_size": True}, "tabular.error.ensemble_size"),
     ({"adapters": "yes"}, "train.error.not_boolean")],
)  # fmt: skip
def test_bad_ensemble_fields_are_user_errors(fields, key):
    with pytest.raises(UserError) as caught:
        ModelSpec.from_dict({"kind": "tabm", **fields})
    assert caught.value.message.key == key


def test_tabm_converts_to_tflite_with_the_same_predictions(tabm_run):
    prepared, run, _ = tabm_run
    model = run.build_model()
    exports = compare_exports(model, prepared.X_test, prepared.y_test, "multiclass")
    found = tflite_scores(exports[1].data, prepared.X_test)
    assert np.max(np.abs(found - predict_scores(model, prepared.X_test))) <= TOLERANCE


def test_a_tabm_bundle_and_its_predict_py_match_the_app(tmp_path):
    frame = load_sample("tips").frame
    config = default_config(frame, "tip")
    numbers = {"total_bill"}
    plans = tuple(
        replace(plan, scale="ple") if plan.name in numbers else plan
        for plan in config.preprocess.columns
    )
    config = replace(config, preprocess=replace(config.preprocess, columns=plans))
    spec = ModelSpec(kind="tabm", hidden_layers=(16,), ensemble_size=4)
    prepared, run, config = quick_training.trained(
        frame, "tip", epochs=3, config=config, model=spec
    )
    assert any(name.startswith("total_bill_ple") for name in prepared.preprocessor.feature_names_)
    metrics = metrics_document(evaluate_run(prepared, run))
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(export_bundle_bytes(prepared, run, config, metrics))
    bundle = read_bundle(archive)
    assert bundle.config.model == spec
    rows = prepared.splits.X_test
    scores = predict_scores(run, prepared.X_test)
    np.testing.assert_allclose(predict_scores(bundle.model, prepared.X_test), scores, atol=1e-6)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path / "unzipped")
    rows.to_csv(tmp_path / "unzipped" / "input.csv", index=False)
    done = fresh_python("predict.py", "input.csv", "out.csv", cwd=tmp_path / "unzipped")
    assert done.returncode == 0, done.stderr
    found = pd.read_csv(tmp_path / "unzipped" / "out.csv")
    assert found[ERROR_COLUMN].isna().all()
    assert np.max(np.abs(found[PREDICTION_COLUMN].to_numpy() - scores)) <= TOLERANCE


# --- piecewise-linear encoding -----------------------------------------------------------------


def _ple_frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 3.0, size=rows)
    return pd.DataFrame({"x": x, "few": rng.integers(0, 2, size=rows), "y": np.sin(x)})


def _bins(prepared) -> list[tuple[float, float]]:
    union = prepared.preprocessor.transformer_.named_transformers_["v0"][-1]
    return [
        (float(step["unit"].data_min_[0]), float(step["unit"].data_max_[0]))
        for _, step in union.transformer_list
    ]


def test_piecewise_linear_bins_are_fitted_on_the_training_rows_only():
    frame = _ple_frame()
    config = default_config(frame, "y")
    plans = tuple(
        replace(plan, scale="ple") if plan.name == "x" else plan
        for plan in config.preprocess.columns
    )
    spec = replace(config.preprocess, columns=plans)
    prepared = prepare(frame, spec)
    changed = frame.copy()
    held_out = list(prepared.splits.X_val.index) + list(prepared.splits.X_test.index)
    changed.loc[held_out, "x"] = changed.loc[held_out, "x"] * 100 + 1000
    again = prepare(changed, spec)
    assert _bins(prepared) == _bins(again)
    train_x = prepared.splits.X_train["x"].to_numpy()
    assert _bins(prepared)[0][0] == train_x.min() and _bins(prepared)[-1][1] == train_x.max()
    np.testing.assert_array_equal(prepared.X_train, again.X_train)
    assert not np.array_equal(prepared.X_test, again.X_test)
    # Outside the training range the encoding holds its edge value (no runaway features).
    names = again.preprocessor.feature_names_
    encoded = again.X_test[:, [i for i, name in enumerate(names) if name.startswith("x_ple")]]
    assert encoded.shape[1] > 5 and encoded.max() <= 1 + 1e-6 and encoded.min() >= -1e-6


def test_piecewise_linear_encoding_reads_1_up_to_the_bin_then_the_place_in_it():
    frame = _ple_frame()
    spec = replace(default_config(frame, "y").preprocess, columns=(ColumnPlan("x", scale="ple"),))
    preprocessor = Preprocessor(spec).fit(frame[["x"]])
    encoded = preprocessor.transform(frame[["x"]]).astype(np.float64)
    assert encoded.shape[1] > 5 and preprocessor.feature_names_[0] == "x_ple1"
    assert (np.diff(encoded, axis=1) <= 1e-6).all(), "1, ..., 1, a fraction, 0, ..., 0"
    assert ((encoded > 1e-6) & (encoded < 1 - 1e-6)).sum(axis=1).max() <= 1
    union = preprocessor.transformer_.named_transformers_["v0"][-1]
    edges = [step["unit"].data_min_[0] for _, step in union.transformer_list]
    widths = np.diff([*edges, union.transformer_list[-1][1]["unit"].data_max_[0]])
    np.testing.assert_allclose(edges[0] + encoded @ widths, frame["x"], rtol=1e-5)


def test_piecewise_linear_on_a_two_valued_column_keeps_one_scaled_feature():
    frame = _ple_frame()
    spec = replace(default_config(frame, "y").preprocess, columns=(ColumnPlan("few", scale="ple"),))
    preprocessor = Preprocessor(spec).fit(frame[["few"]])
    assert preprocessor.feature_names_ == ["few"]
    assert preprocessor.transform(frame[["few"]]).shape == (len(frame), 1)


@pytest.mark.parametrize(
    "plan",
    [{"name": "c", "kind": "categorical", "impute": "most_frequent", "scale": "ple"},
     {"name": "x", "impute": "none", "scale": "ple"}],
)  # fmt: skip
def test_piecewise_linear_needs_an_imputed_number(plan):
    with pytest.raises(UserError):
        ColumnPlan(**plan)


def test_the_training_script_builds_tabm_and_piecewise_linear_without_modeldesk(tmp_path):
    import re
    import subprocess
    import sys

    from core.deploy.codegen import SCRIPT_FILE, training_script

    frame = load_sample("tips").frame
    config = default_config(frame, "tip")
    plans = tuple(
        replace(plan, scale="ple") if plan.name == "total_bill" else plan
        for plan in config.preprocess.columns
    )
    config = replace(
        config,
        preprocess=replace(config.preprocess, columns=plans),
        model=ModelSpec(kind="tabm", hidden_layers=(8, 8), ensemble_size=3),
        train=replace(config.train, epochs=2),
    )
    (tmp_path / SCRIPT_FILE).write_text(training_script(config, 0, "tabm"), encoding="utf-8")
    frame.to_csv(tmp_path / "data.csv", index=False)
    done = subprocess.run(
        [sys.executable, "-I", SCRIPT_FILE, "data.csv"], cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"test r2: -?[\d.]+", done.stdout)
    script = (tmp_path / SCRIPT_FILE).read_text(encoding="utf-8")
    assert "RepeatVector(3)" in script and "piecewise_linear(train['total_bill'], 16)" in script
