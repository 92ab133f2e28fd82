"""Model specs and builders: outputs follow the task, losses follow the rules, specs are data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.i18n import UserError
from core.train.models import (
    LOSSES,
    ModelSpec,
    allowed_losses,
    build_model,
    default_loss,
    derive_seed,
    first_model_spec,
    layer_table,
    loss_warnings,
    main_metric,
    parameter_count,
    resolved_loss,
    work_per_epoch,
)

ROOT = Path(__file__).resolve().parents[2]


def test_importing_models_and_training_does_not_import_tensorflow():
    script = (
        "import sys, core.train.models, core.train.engine\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize(
    ("task", "n_classes", "units", "activation"),
    [("regression", 1, 1, "linear"), ("binary", 2, 1, "sigmoid"), ("multiclass", 4, 4, "softmax")],
)
def test_the_output_layer_follows_the_task(task, n_classes, units, activation):
    model = build_model(ModelSpec(hidden_layers=(8, 4)), 5, task, n_classes, seed=0)
    output = model.get_layer("output")
    assert output.units == units
    assert output.activation.__name__ == activation
    assert model(np.zeros((3, 5), dtype="float32")).shape == (3, units)


def test_a_classifier_trained_on_mse_keeps_its_probability_output():
    model = build_model(ModelSpec(loss="mse"), 3, "binary", 2, seed=0)
    assert model.get_layer("output").activation.__name__ == "sigmoid"


def test_hidden_layers_carry_activation_batch_norm_and_dropout():
    spec = ModelSpec(hidden_layers=(16, 8, 4), activation="tanh", dropout=0.25, batch_norm=True)
    model = build_model(spec, 3, "regression", 1, seed=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "BatchNormalization", "Dropout"] * 3 + ["Dense"]
    assert [model.get_layer(f"hidden_{i}").units for i in (1, 2, 3)] == [16, 8, 4]
    assert model.get_layer("hidden_1").activation.__name__ == "tanh"
    assert model.get_layer("dropout_2").rate == 0.25


def test_every_random_part_gets_its_own_explicit_seed():
    spec = ModelSpec(hidden_layers=(8, 8), dropout=0.5)
    model = build_model(spec, 3, "binary", 2, seed=7)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    seeds = [layer.kernel_initializer.seed for layer in dense]
    assert all(isinstance(seed, int) for seed in seeds) and len(set(seeds)) == len(seeds)
    assert model.get_layer("dropout_1").seed == derive_seed(7, "dropout_1")
    same = build_model(spec, 3, "binary", 2, seed=7).get_weights()
    other = build_model(spec, 3, "binary", 2, seed=8).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), same, strict=True))
    assert not np.array_equal(model.get_weights()[0], other[0])


def test_the_first_model_is_one_dense_unit_with_two_parameters():
    spec = first_model_spec()
    assert (spec.kind, spec.hidden_layers, spec.loss) == ("linear", (), "mse")
    model = build_model(spec, 1, "regression", 1, seed=0)
    assert parameter_count(model) == {"total": 2, "trainable": 2, "non_trainable": 0}
    assert layer_table(model) == [
        {"layer": "input", "type": "Input", "output_shape": "(None, 1)", "params": 0},
        {"layer": "output", "type": "Dense", "output_shape": "(None, 1)", "params": 2},
    ]


def test_layer_table_and_parameter_count_add_up():
    model = build_model(ModelSpec(hidden_layers=(4,), batch_norm=True), 3, "multiclass", 3, 0)
    rows = layer_table(model)
    assert [row["layer"] for row in rows] == ["input", "hidden_1", "batch_norm_1", "output"]
    assert [row["params"] for row in rows] == [0, 3 * 4 + 4, 4 * 4, 4 * 3 + 3]
    # BatchNormalization's moving mean and variance are parameters, but not trained.
    assert parameter_count(model) == {"total": 47, "trainable": 39, "non_trainable": 8}


def test_work_per_epoch_counts_multiply_adds_and_batches():
    model = build_model(ModelSpec(hidden_layers=(10,)), 4, "regression", 1, seed=0)
    work = work_per_epoch(model, n_rows=100, batch_size=32)
    assert work["forward_per_row"] == 4 * 10 + 10 * 1
    assert work["multiply_adds_per_epoch"] == 3 * 50 * 100
    assert work["batches_per_epoch"] == 4
    assert work_per_epoch(model, n_rows=100)["batches_per_epoch"] == 1


def test_describe_architecture_builds_one_model_per_architecture_and_says_what_it_built(
    monkeypatch,
):
    import core.train.models as models

    built = []
    real_build = models.build_model
    monkeypatch.setattr(
        models, "build_model", lambda *args, **kw: built.append(args) or real_build(*args, **kw)
    )
    models._described.cache_clear()
    spec = ModelSpec(hidden_layers=(10,))
    model = real_build(spec, 4, "regression", 1, 0)
    for n_rows, batch in ((100, 32), (250, None), (100, 32)):
        rows, params, work = models.describe_architecture(spec, 4, "regression", 1, n_rows, batch)
        assert rows == layer_table(model)
        assert params == parameter_count(model)
        assert work == work_per_epoch(model, n_rows, batch)
        rows[0]["params"] = 99  # a caller's edit never reaches the next caller
    assert len(built) == 1
    models.describe_architecture(spec, 5, "regression", 1, 100)  # another input size: a build
    assert len(built) == 2


def test_each_task_has_its_default_loss_and_main_metric():
    assert [default_loss(task) for task in LOSSES] == [
        "mse",
        "binary_crossentropy",
        "categorical_crossentropy",
    ]
    assert [main_metric(task) for task in LOSSES] == ["mae", "accuracy", "accuracy"]
    assert resolved_loss(ModelSpec(loss="huber"), "regression") == "huber"


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_regression_loss_on_a_classifier_is_allowed_with_a_warning(loss, task):
    warnings = loss_warnings(ModelSpec(loss=loss), task)
    assert [warning.key for warning in warnings] == [f"train.warning.{loss}_classifier"]
    english, chinese = warnings[0].text("en"), warnings[0].text("zh")
    assert "gradient" in english and "交叉熵" in chinese


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_the_default_loss_has_no_warning(task):
    assert loss_warnings(ModelSpec(), task) == []


@pytest.mark.parametrize(
    ("loss", "task"),
    [
        ("binary_crossentropy", "regression"),
        ("categorical_crossentropy", "binary"),
        ("binary_crossentropy", "multiclass"),
    ],
)
def test_a_loss_that_cannot_fit_the_task_is_refused(loss, task):
    assert loss not in allowed_losses(task)
    with pytest.raises(UserError) as error:
        build_model(ModelSpec(loss=loss), 3, task, 2 if task == "binary" else 3, seed=0)
    assert error.value.message.key == "train.error.loss_for_task"


def test_model_spec_round_trips_through_json():
    spec = ModelSpec(hidden_layers=(64, 32, 8), activation="gelu", dropout=0.1, l2=1e-4, loss="mae")
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert ModelSpec.from_dict(first_model_spec().to_dict()) == first_model_spec()


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"kind": "cnn"}, "train.error.kind"),
        ({"kind": "linear", "hidden_layers": [4]}, "train.error.linear_hidden"),
        ({"hidden_layers": [8] * 7}, "train.error.hidden_layers"),
        ({"hidden_layers": 8}, "train.error.hidden_layers_list"),
        ({"hidden_layers": [0]}, "train.error.units"),
        ({"hidden_layers": [2.5]}, "train.error.units"),
        ({"activation": "swish"}, "train.error.activation"),
        ({"dropout": 1.5}, "train.error.dropout"),
        ({"l2": -0.1}, "train.error.l2"),
        ({"batch_norm": "yes"}, "train.error.not_boolean"),
        ({"loss": "hinge"}, "train.error.loss"),
        ({"units": 8}, "train.error.model_unknown_fields"),
    ],
)
def test_invalid_model_specs_raise_a_translatable_error(fields, key):
    with pytest.raises(UserError) as error:
        ModelSpec.from_dict({**ModelSpec().to_dict(), **fields})
    assert error.value.message.key == key
    assert error.value.text("zh") != error.value.text("en")


def test_class_counts_must_fit_the_task():
    with pytest.raises(UserError, match="exactly 2"):
        build_model(ModelSpec(), 3, "binary", 3, seed=0)
    with pytest.raises(UserError):
        build_model(ModelSpec(), 3, "forecast", 1, seed=0)


def test_model_outputs_equal_keras_predict_in_blocks_with_dropout_and_batch_norm_at_inference(
    monkeypatch,
):
    import core.train.models as models

    monkeypatch.setattr(models, "PREDICT_BATCH", 64)  # 150 rows: three blocks, the last short
    spec = ModelSpec(hidden_layers=(8,), dropout=0.5, batch_norm=True)
    model = build_model(spec, 3, "multiclass", 4, seed=1)
    X = np.random.default_rng(0).normal(size=(150, 3)).astype(np.float32)
    outputs = models.model_outputs(model, X)
    assert outputs.shape == (150, 4) and outputs.dtype == np.float64
    np.testing.assert_allclose(outputs, model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)
    assert models.model_outputs(model, X[:0]).shape == (0, 4)
