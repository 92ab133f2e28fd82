"""Training jobs: reproducible (also concurrently), stoppable within a batch, queued past a cap."""

import json
import threading

import numpy as np
import pytest

from core.i18n import UserError
from core.train.engine import (
    JobLimiter,
    Run,
    TrainingJob,
    TrainSpec,
    class_weights_for,
    first_train_spec,
    formula_latex,
    formulas_for,
    make_optimizer,
)
from core.train.models import ModelSpec, first_model_spec
from core.train.optimizers import optimizer_names

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 4)).astype(np.float32)
Y_BINARY = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
Y_MULTI = np.digitize(X[:, 0], [-0.5, 0.5]).astype(np.int64)
Y_REGRESSION = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3).astype(np.float32)
SMALL_MLP = ModelSpec(hidden_layers=(8,), dropout=0.2)
QUICK = TrainSpec(optimizer="adam", learning_rate=0.01, batch_size=16, epochs=3, seed=11)


def binary_job(train_spec=QUICK, **kwargs):
    return TrainingJob(
        SMALL_MLP, train_spec, "binary", 2, X[:90], Y_BINARY[:90], X[90:], Y_BINARY[90:], **kwargs
    )


def finished_run(job):
    assert job.start().join(timeout=60), "training did not end"
    return job.result()


def test_the_same_seed_gives_the_same_history_sequentially_and_concurrently():
    first = finished_run(binary_job()).history
    second = finished_run(binary_job()).history
    # Two jobs with the same seed training at once, in threads (docs/ARCHITECTURE.md, "Background
    # jobs").
    together = [binary_job(), binary_job()]
    for job in together:
        job.start()
    for job in together:
        assert job.join(timeout=60)
    histories = [job.result().history for job in together]
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert first[key] == second[key] == histories[0][key] == histories[1][key], key
    assert len(first["loss"]) == 3
    other_seed = finished_run(binary_job(TrainSpec(**{**QUICK.to_dict(), "seed": 12}))).history
    assert other_seed["loss"] != first["loss"]


def test_a_global_tensorflow_seed_elsewhere_does_not_change_a_run():
    import tensorflow as tf

    before = finished_run(binary_job()).history["loss"]
    tf.random.set_seed(123)  # as any other code in the process might
    try:
        assert finished_run(binary_job()).history["loss"] == before
    finally:
        tf.random.set_seed(None)


def test_a_finished_run_carries_history_weights_and_a_final_snapshot():
    job = binary_job()
    run = finished_run(job)
    snapshot = job.snapshot()
    assert (run.status, snapshot.status, snapshot.epoch, snapshot.epochs) == ("finished",) * 2 + (
        3,
        3,
    )
    assert snapshot.done and snapshot.progress == 1.0 and snapshot.eta_seconds == 0.0
    assert snapshot.queue_position is None and snapshot.message is None
    assert set(run.history) == {
        "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "time_s",
    }  # fmt: skip
    assert run.history["learning_rate"] == [0.01] * 3
    assert run.weights is not None and run.build_model() is run.model
    snapshot.history["loss"].append(99.0)  # a snapshot is a copy; the job's history is untouched
    assert len(job.snapshot().history["loss"]) == 3


def test_run_round_trips_through_json_without_weights():
    run = finished_run(binary_job())
    data = json.loads(json.dumps(run.to_dict()))
    assert "weights" not in data and data["status"] == "finished"
    again = Run.from_dict(data, weights=run.weights)
    assert again.to_dict() == run.to_dict()
    predictions = again.build_model().predict(X[:5], verbose=0)
    assert np.allclose(predictions, run.model.predict(X[:5], verbose=0))


def test_stop_answers_within_one_block_and_keeps_the_best_weights():
    seen_at_stop = []

    def stop_after_first_block_of_epoch_two(epoch, batches_done):
        if epoch == 2 and not seen_at_stop:
            seen_at_stop.append(job.batches_seen)
            job.stop()

    many_batches = TrainSpec(optimizer="sgd", learning_rate=0.01, batch_size=1, epochs=100, seed=1)
    job = binary_job(many_batches, on_block=stop_after_first_block_of_epoch_two)
    run = finished_run(job)
    assert run.status == "stopped"
    # Stop was pressed after the first block of epoch 2: that block was the last one to run,
    # and the cut epoch stays off the curves.
    assert job.batches_seen == seen_at_stop[0] < 2 * job.batches_per_epoch
    assert run.epochs_trained == 1 and run.best_epoch == 1
    assert run.message.key == "train.message.stopped"


def test_a_loss_that_blows_up_fails_the_run_with_an_explanation():
    unscaled = (X[:, :2] * 1e4).astype(np.float32)
    target = (unscaled @ np.array([3.0, -4.0])).astype(np.float32)
    spec = TrainSpec(optimizer="sgd", learning_rate=1.0, batch_size=8, epochs=20, seed=0)
    job = TrainingJob(
        ModelSpec(kind="linear", hidden_layers=()), spec, "regression", 1, unscaled, target
    )
    run = finished_run(job)
    assert run.status == "failed" == job.snapshot().status
    assert run.message.key == "train.message.nan_loss"
    assert "learning rate" in run.message.text("en") and "学习率" in run.message.text("zh")
    assert run.epochs_trained < 20


def test_jobs_past_the_cap_wait_in_line_until_a_slot_frees():
    limiter = JobLimiter(max_jobs=1)
    long_run = TrainSpec(optimizer="sgd", learning_rate=0.01, batch_size=1, epochs=500, seed=0)
    first = binary_job(long_run, limiter=limiter).start()
    second = binary_job(limiter=limiter).start()
    third = binary_job(limiter=limiter).start()
    _wait_for(lambda: first.snapshot().epoch >= 1 and limiter.queued == 2)
    live = first.snapshot()
    assert live.status == "running" and live.queue_position is None
    assert 0 < live.progress < 1 and live.eta_seconds > 0 and live.elapsed > 0
    assert (second.snapshot().status, second.snapshot().queue_position) == ("queued", 1)
    assert third.snapshot().queue_position == 2
    third.stop()  # stopping a queued job takes it out of the line
    assert third.join(timeout=10) and third.status == "stopped"
    assert limiter.queued == 1 and second.status == "queued"
    first.stop()
    assert first.join(timeout=30) and second.join(timeout=60)
    assert (first.status, second.status) == ("stopped", "finished")
    assert third.result().message.key == "train.message.stopped_in_queue"
    # The slot is released just after the job's end is signalled (JobLimiter's own order).
    _wait_for(lambda: limiter.running == 0)
    assert limiter.queued == 0


def test_the_first_model_preset_learns_y_equals_2x_plus_1():
    x = np.linspace(-5, 5, 200, dtype=np.float32).reshape(-1, 1)
    y = 2 * x[:, 0] + 1
    spec = TrainSpec(**{**first_train_spec().to_dict(), "epochs": 60})
    assert (spec.optimizer, first_model_spec().loss) == ("sgd", "mse")
    job = TrainingJob(first_model_spec(), spec, "regression", 1, x, y)
    run = finished_run(job)
    weights, biases = run.parameters["w"], run.parameters["b"]
    assert len(weights) == len(biases) == 60
    # The live parameters are in the line's own units although the target trains standardised.
    assert abs(weights[-1] - 2) < 0.01 and abs(biases[-1] - 1) < 0.01
    assert abs(weights[-1] - 2) < abs(weights[0] - 2)  # the page shows w approaching 2
    kernel, bias = run.weights
    assert kernel.shape == (1, 1) and abs(float(kernel[0, 0]) - 2) < 0.01
    assert abs(float(bias[0]) - 1) < 0.01
    # The loss is reported in the target's units: MSE of the line, not of the standardised z.
    assert run.history["loss"][-1] < 1e-3


@pytest.mark.parametrize("optimizer", optimizer_names())
def test_every_optimizer_trains_a_multiclass_model(optimizer):
    spec = TrainSpec(optimizer=optimizer, learning_rate=0.01, batch_size=32, epochs=2, seed=3)
    job = TrainingJob(SMALL_MLP, spec, "multiclass", 3, X, Y_MULTI)
    run = finished_run(job)
    assert run.status == "finished" and len(run.history["accuracy"]) == 2


# Keras' own ReduceLROnPlateau reads the rate through np.array(), which numpy 2 warns about.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_schedules_early_stopping_and_class_weights_run():
    cosine = TrainSpec(learning_rate=0.1, batch_size=None, epochs=4, schedule="cosine", seed=0)
    rates = finished_run(binary_job(cosine)).history["learning_rate"]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.1
    # Validating on flipped labels: the better the model learns, the worse the validation loss.
    flipped = TrainSpec(
        learning_rate=0.05, batch_size=None, epochs=30, early_stopping=True, patience=2,
        schedule="plateau", class_weights=True, seed=0,
    )  # fmt: skip
    job = TrainingJob(
        SMALL_MLP, flipped, "binary", 2, X[:90], Y_BINARY[:90], X[90:], 1 - Y_BINARY[90:]
    )
    run = finished_run(job)
    assert (run.status, run.message.key) == ("finished", "train.message.early_stopped")
    assert run.epochs_trained == 3 and run.best_epoch == 1  # patience 2, best weights restored
    assert run.history["learning_rate"] == [0.05, 0.05, 0.025]
    regression = TrainingJob(
        ModelSpec(loss="huber"), QUICK, "regression", 1, X, Y_REGRESSION, X[:20], Y_REGRESSION[:20]
    )
    assert "val_mae" in finished_run(regression).history


def test_class_weights_are_balanced_and_cover_missing_classes():
    weights = class_weights_for(np.array([0, 0, 0, 1]), n_classes=3)
    assert weights == pytest.approx({0: 4 / 6, 1: 4 / 2, 2: 1.0})


def test_train_spec_round_trips_through_json_and_makes_its_optimizer():
    spec = TrainSpec(optimizer="nesterov", learning_rate=0.05, batch_size=None, epochs=7, seed=9)
    assert TrainSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    optimizer = make_optimizer(spec)
    assert type(optimizer).__name__ == "SGD" and optimizer.nesterov and optimizer.momentum == 0.9
    assert type(make_optimizer(TrainSpec(optimizer="adamw"))).__name__ == "AdamW"


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"optimizer": "lbfgs"}, "train.error.optimizer"),
        ({"learning_rate": 2.0}, "train.error.learning_rate"),
        ({"learning_rate": 1e-6}, "train.error.learning_rate"),
        ({"batch_size": 0}, "train.error.batch_size"),
        ({"epochs": 501}, "train.error.epochs"),
        ({"epochs": 2.5}, "train.error.epochs"),
        ({"patience": 0}, "train.error.patience"),
        ({"schedule": "step"}, "train.error.schedule"),
        ({"early_stopping": "no"}, "train.error.not_boolean"),
        ({"seed": -1}, "train.error.seed"),
        ({"momentum": 0.9}, "train.error.training_unknown_fields"),
    ],
)
def test_invalid_train_specs_raise_a_translatable_error(fields, key):
    with pytest.raises(UserError) as error:
        TrainSpec.from_dict({**TrainSpec().to_dict(), **fields})
    assert error.value.message.key == key
    assert error.value.text("zh") != error.value.text("en")


def test_bad_training_data_is_refused_before_the_job_starts():
    with pytest.raises(UserError, match="codes"):
        TrainingJob(SMALL_MLP, QUICK, "binary", 2, X, Y_BINARY + 1)
    with pytest.raises(UserError, match="missing or infinite"):
        TrainingJob(SMALL_MLP, QUICK, "binary", 2, np.full_like(X, np.nan), Y_BINARY)
    with pytest.raises(UserError, match="rows"):
        TrainingJob(SMALL_MLP, QUICK, "regression", 1, X, Y_REGRESSION[:10])


def test_a_job_stopped_before_it_starts_never_trains():
    job = binary_job()
    job.stop()
    assert job.join(timeout=1) and job.result().status == "stopped"
    assert job.result().message.key == "train.message.stopped_before_start"


@pytest.mark.parametrize(
    ("model_spec", "train_spec", "task", "expected"),
    [
        (
            ModelSpec(),
            TrainSpec(optimizer="adam"),
            "binary",
            ["binary_crossentropy", "gradient_batch", "adam"],
        ),
        (
            ModelSpec(l2=0.01, loss="huber"),
            TrainSpec(optimizer="momentum", batch_size=None, schedule="cosine"),
            "regression",
            ["huber", "l2", "gradient_full", "momentum", "schedule_cosine"],
        ),
    ],
)
def test_formulas_list_the_rules_in_use_with_a_sentence_each(
    model_spec, train_spec, task, expected
):
    formulas = formulas_for(model_spec, train_spec, task)
    assert [formula.name for formula in formulas] == expected
    for formula in formulas:
        assert formula.latex == formula_latex(formula.name) and formula.latex.strip()
        for lang in ("en", "zh"):
            assert formula.title.text(lang) and formula.explanation.text(lang)


def _wait_for(condition, timeout: float = 30.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError("condition not reached in time")


# --- the compiled engine and the target scale ----------------------------------------------

PRICES = (
    30_000 + 8_000 * (X @ np.array([1.0, -0.5, 0.3, 0.0])) + RNG.normal(scale=500, size=len(X))
).astype(np.float32)


def test_a_target_in_the_tens_of_thousands_trains_and_predicts_in_its_own_units():
    spec = TrainSpec(learning_rate=0.01, batch_size=16, epochs=40, seed=0)
    job = TrainingJob(ModelSpec(kind="linear", hidden_layers=()), spec, "regression", 1,
                      X[:90], PRICES[:90], X[90:], PRICES[90:])  # fmt: skip
    run = finished_run(job)
    predicted = run.model.predict(X[90:], verbose=0)[:, 0]
    variance = float(np.var(PRICES[90:]))
    assert np.mean((predicted - PRICES[90:]) ** 2) < 0.03 * variance  # R² > 0.97, in dollars
    # The rebuilt model (Evaluate, Deploy, the bundle) predicts the same: the scale is folded in.
    assert np.allclose(Run.from_dict(run.to_dict(), run.weights).build_model().predict(
        X[90:], verbose=0)[:, 0], predicted, rtol=1e-6)  # fmt: skip
    # Losses are in the target's units: the first epoch starts near the mean's error (the
    # output bias starts at the mean), the kept epoch's is the model's MSE in dollars².
    kept = run.best_epoch - 1
    assert run.history["val_loss"][0] < 3 * variance
    assert run.history["val_loss"][kept] == pytest.approx(
        float(np.mean((predicted - PRICES[90:]) ** 2)), rel=1e-3
    )
    assert run.history["val_mae"][kept] == pytest.approx(
        float(np.mean(np.abs(predicted - PRICES[90:]))), rel=1e-3
    )
    assert job.target_scale.mean == pytest.approx(float(np.mean(PRICES[:90])), rel=1e-6)


def test_the_output_bias_starts_at_the_training_prior():
    from core.train.loop import initial_output_bias

    assert initial_output_bias("regression", PRICES, 1).tolist() == [0.0]
    binary = initial_output_bias("binary", np.array([0, 1, 1, 1]), 2)
    assert binary[0] == pytest.approx(np.log(3.0))  # log prior odds
    multi = initial_output_bias("multiclass", np.array([0, 0, 1, 2]), 3)
    assert np.exp(multi) == pytest.approx([0.5, 0.25, 0.25], rel=1e-6)
    balanced = initial_output_bias("binary", np.array([0, 1, 1, 1]), 2, np.array([2, 2 / 3] * 2)[
        [0, 1, 1, 1]])  # fmt: skip
    assert balanced[0] == pytest.approx(0.0, abs=1e-6)  # class weights: a balanced prior
    job = TrainingJob(SMALL_MLP, TrainSpec(epochs=1, batch_size=None, learning_rate=1e-5),
                      "binary", 2, X, Y_BINARY)  # fmt: skip
    run = finished_run(job)
    share = float(np.mean(Y_BINARY))
    expected_loss = -(share * np.log(share) + (1 - share) * np.log(1 - share))
    # One tiny step from the prior: the first loss is the majority baseline's log loss.
    assert run.history["loss"][0] == pytest.approx(expected_loss, rel=0.2)


def test_how_batches_are_grouped_into_calls_never_changes_training():
    import keras

    from core.train.loop import CompiledLoop, fit_targets
    from core.train.models import build_model

    def trained(groups):
        model = build_model(SMALL_MLP, 4, "binary", 2, seed=5)
        loop = CompiledLoop(model, keras.optimizers.Adam(0.01), "binary_crossentropy", "binary",
                            X, fit_targets(Y_BINARY, "binary", 2), None, 16, 7)  # fmt: skip
        order, losses, first = loop.order(0), [], 0
        for count in groups:
            losses.append(loop.run(order, first, count)[0])
            first += count
        return np.concatenate(losses), model.get_weights()

    steps = 8  # 120 rows, batches of 16
    one_call, weights = trained([steps])
    one_by_one, weights_again = trained([1] * steps)
    mixed, _ = trained([3, 1, 4])
    assert one_call.tolist() == one_by_one.tolist() == mixed.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(weights, weights_again, strict=True))


def test_the_gradient_hook_is_what_trains_and_epochs_stream_to_a_callback():
    import tensorflow as tf

    def no_gradients(model, loss_fn, x, y, sample_weight):
        loss = loss_fn(y, model(x, training=True), sample_weight=sample_weight)
        return loss, model(x, training=False), [tf.zeros_like(v) for v in model.trainable_variables]

    streamed = []
    frozen = binary_job(gradients=no_gradients, on_epoch=lambda e, logs: streamed.append((e, logs)))
    run = finished_run(frozen)
    assert run.history["val_loss"][0] == run.history["val_loss"][-1]  # nothing moved
    assert [epoch for epoch, _ in streamed] == [1, 2, 3]
    assert [logs["loss"] for _, logs in streamed] == run.history["loss"]


def test_batch_norm_learns_its_moving_statistics_in_the_compiled_loop():
    spec = ModelSpec(hidden_layers=(8,), batch_norm=True, dropout=0.5)
    job = TrainingJob(spec, QUICK, "binary", 2, X * 3 + 2, Y_BINARY)
    run = finished_run(job)
    moving_mean = run.model.get_layer("batch_norm_1").moving_mean.numpy()
    assert np.abs(moving_mean).max() > 0.05  # updated in training mode (it starts at 0)
    assert run.status == "finished"
