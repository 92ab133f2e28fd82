"""DP-SGD (core.train.privacy): accounting equals dp-accounting's own, per-example clipping,
σ = 0 without clipping is plain SGD, seeded noise, Stop reports the ε spent, bad values refused."""

import math
from dataclasses import replace

import dp_accounting
import numpy as np
import pytest
from dp_accounting import rdp

from core.i18n import UserError
from core.train.engine import TrainingJob, TrainSpec, formulas_for
from core.train.loop import compute_gradients, loss_object
from core.train.models import ModelSpec, build_model
from core.train.optimizers import optimizer_names
from core.train.privacy import (
    DPGradients,
    default_delta,
    dense_only,
    dp_settings,
    epsilon_spent,
    ghost_clipped_sum,
    noise_for_epsilon,
    per_example_gradients,
)

RNG = np.random.default_rng(3)
X = RNG.normal(size=(200, 5)).astype(np.float32)
Y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
Y_REG = (X @ np.array([3.0, -1.0, 0.0, 2.0, 0.5]) * 40 + 1000).astype(np.float32)
MLP = ModelSpec(hidden_layers=(8,), l2=1e-3)
DP = TrainSpec(
    learning_rate=0.01, batch_size=20, epochs=3, seed=5, dp=True, dp_noise_multiplier=1.1
)


@pytest.mark.parametrize(
    ("sigma", "rate", "steps", "delta"),
    [(1.1, 0.01, 1000, 1e-5), (0.7, 0.1, 30, 1e-3), (2.0, 1.0, 5, 1e-4)],
)
def test_reported_epsilon_equals_dp_accountings_own(sigma, rate, steps, delta):
    accountant = rdp.RdpAccountant()
    accountant.compose(
        dp_accounting.PoissonSampledDpEvent(rate, dp_accounting.GaussianDpEvent(sigma)), steps
    )
    assert epsilon_spent(sigma, rate, steps, delta) == pytest.approx(
        accountant.get_epsilon(delta), rel=1e-12
    )


def test_calibrated_noise_spends_the_target_epsilon_and_no_more():
    sigma = noise_for_epsilon(2.0, 0.1, 100, 1e-3)
    assert epsilon_spent(sigma, 0.1, 100, 1e-3) <= 2.0 + 1e-9
    assert epsilon_spent(sigma * 0.97, 0.1, 100, 1e-3) > 2.0
    assert noise_for_epsilon(8.0, 0.1, 100, 1e-3) < sigma


def test_default_delta_is_one_over_n_rounded_down_to_a_power_of_ten():
    assert default_delta(455) == 1e-3
    assert default_delta(1000) == 1e-3
    assert default_delta(1001) == 1e-4
    assert default_delta(10) == 1e-1
    settings = dp_settings(replace(DP, dp_noise_multiplier=None, dp_epsilon=3.0), 200, 10)
    assert settings.delta == 1e-3 and settings.sampling_rate == pytest.approx(0.1)
    assert settings.planned_steps == 30
    assert settings.epsilon(30) == pytest.approx(3.0, abs=0.05)


def _model(seed=1):
    return build_model(MLP, X.shape[1], "binary", 2, seed)


def test_each_examples_gradient_is_clipped_to_the_norm_before_noise():
    import tensorflow as tf

    model = _model()
    # A hand-made batch: rows of very different sizes, so some gradients are far above C.
    x = tf.constant(np.array([[0.01] * 5, [1.0] * 5, [50.0] * 5, [-80.0, 3, 0, 9, 1]], np.float32))
    y = tf.constant([[0.0], [1.0], [0.0], [1.0]])
    loss_fn = loss_object("binary_crossentropy")
    clip = 0.5
    # Traced, as in the compiled loop.
    raw = tf.function(lambda: per_example_gradients(model, loss_fn, x, y, None, math.inf)[2])()
    clipped = tf.function(lambda: per_example_gradients(model, loss_fn, x, y, None, clip)[2])()
    raw_norms = np.sqrt(sum(np.sum(np.reshape(g.numpy(), (4, -1)) ** 2, axis=1) for g in raw))
    norms = np.sqrt(sum(np.sum(np.reshape(g.numpy(), (4, -1)) ** 2, axis=1) for g in clipped))
    assert (raw_norms > clip).sum() >= 2, raw_norms  # the batch really tests clipping
    assert np.all(norms <= clip * (1 + 1e-5)), norms
    small = raw_norms <= clip
    np.testing.assert_allclose(norms[small], raw_norms[small], rtol=1e-5)
    np.testing.assert_allclose(norms[~small], clip, rtol=1e-5)
    # The closed form the hook uses for Dense networks gives the same norms and clipped sum.
    assert dense_only(model)
    ghost = tf.function(lambda: ghost_clipped_sum(model, loss_fn, x, y, None, clip))()
    np.testing.assert_allclose(ghost[3].numpy(), raw_norms, rtol=1e-4)
    for got, want in zip(ghost[2], clipped, strict=True):
        np.testing.assert_allclose(got.numpy(), np.sum(want.numpy(), axis=0), rtol=1e-4, atol=1e-6)
    # Each row's gradient is its own: the batch's mean gradient is their mean.
    _, _, whole = compute_gradients(model, loss_fn, x, y, None)[0:3]
    mean = [np.mean(g.numpy(), axis=0) for g in raw]
    for got, want, variable in zip(mean, whole, model.trainable_variables, strict=True):
        penalty = 2 * 1e-3 * variable.numpy() if "kernel" in variable.path else 0
        np.testing.assert_allclose(got + penalty, want.numpy(), rtol=1e-4, atol=1e-6)


def test_dp_sgd_with_no_noise_and_no_clipping_makes_plain_sgds_updates():
    import keras
    import tensorflow as tf

    plain, private = _model(), _model()
    x, y = tf.constant(X[:16]), tf.constant(Y[:16, None].astype(np.float32))
    loss_fn = loss_object("binary_crossentropy")
    hook = DPGradients(math.inf, 0.0, 16, seed=0)
    for model, gradients in ((plain, compute_gradients), (private, hook)):
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)

        @tf.function
        def step(model=model, gradients=gradients, optimizer=optimizer):
            grads = gradients(model, loss_fn, x, y, None)[2]
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

        for _ in range(3):
            step()
    for a, b in zip(plain.get_weights(), private.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # And with noise, the update differs (the check above can fail).
    noisy = _model()
    hook = DPGradients(math.inf, 1.0, 16, seed=0)
    grads = tf.function(lambda: hook(noisy, loss_fn, x, y, None)[2])()
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, noisy.trainable_variables, strict=True))
    assert not np.allclose(noisy.get_weights()[0], _model().get_weights()[0])


def _job(spec, model=MLP, task="binary", y=Y, n_classes=2):
    return TrainingJob(model, spec, task, n_classes, X[:150], y[:150], X[150:], y[150:])


def _run(spec, **kwargs):
    job = _job(spec, **kwargs)
    assert job.start().join(timeout=120)
    return job.result()


def test_a_dp_run_is_reproducible_and_reports_the_epsilon_spent():
    first, second = _run(DP), _run(DP)
    assert first.status == "finished", first.message
    assert first.history["loss"] == second.history["loss"]
    assert first.history["val_loss"] == second.history["val_loss"]
    # Two jobs with one seed training at once (docs/ARCHITECTURE.md, "Background jobs").
    dropout = replace(MLP, dropout=0.2)
    together = [_job(DP, model=dropout).start(), _job(DP, model=dropout).start()]
    assert all(job.join(120) for job in together)
    histories = [job.result().history for job in together]
    assert histories[0]["loss"] == histories[1]["loss"] == _run(DP, model=dropout).history["loss"]
    other = _run(replace(DP, seed=6))
    assert other.history["loss"] != first.history["loss"]
    privacy = first.privacy
    steps = 3 * math.ceil(150 / 20)
    assert privacy["dp"] is True and privacy["steps"] == steps
    assert privacy["delta"] == 1e-3 and privacy["sampling_rate"] == pytest.approx(20 / 150)
    assert privacy["epsilon"] == pytest.approx(epsilon_spent(1.1, 20 / 150, steps, 1e-3))
    assert privacy["accountant"] == "rdp"
    assert _run(replace(DP, dp=False)).privacy is None


def test_stop_reports_the_epsilon_of_the_steps_taken():
    spec = replace(DP, epochs=400, dp_noise_multiplier=None, dp_epsilon=5.0)
    job = _job(spec)
    seen = []
    job.on_epoch = lambda epoch, logs: seen.append(epoch) if epoch >= 2 else None
    job.start()
    while len(seen) < 1 and not job.done:
        job.join(0.05)
    job.stop()
    assert job.join(120)
    run = job.result()
    assert run.status == "stopped"
    privacy = run.privacy
    assert 0 < privacy["steps"] < privacy["planned_steps"]
    assert privacy["steps"] == job.batches_seen
    assert privacy["epsilon"] == pytest.approx(
        epsilon_spent(privacy["noise_multiplier"], privacy["sampling_rate"], privacy["steps"], 1e-3)
    )
    assert privacy["epsilon"] < 5.0


@pytest.mark.parametrize("optimizer", optimizer_names())
def test_dp_trains_with_every_optimizer(optimizer):
    run = _run(replace(DP, optimizer=optimizer, epochs=1, dp_noise_multiplier=0.5))
    assert run.status == "finished", run.message
    assert np.isfinite(run.history["loss"]).all()


def test_dp_regression_keeps_the_target_units_and_class_weights_work():
    regression = _run(
        replace(DP, epochs=2, learning_rate=0.05),
        model=ModelSpec(kind="linear", hidden_layers=()),
        task="regression",
        y=Y_REG,
        n_classes=1,
    )
    assert regression.status == "finished", regression.message
    predictions = regression.build_model().predict(X[150:], verbose=0).ravel()
    assert abs(np.mean(predictions) - 1000) < 200  # in the target's units, not standardised
    weighted = _run(replace(DP, class_weights=True, epochs=1))
    assert weighted.status == "finished", weighted.message
    assert weighted.history["loss"] != _run(replace(DP, epochs=1)).history["loss"]


def test_dp_refuses_batch_norm_bad_values_and_shows_its_update_rule():
    with pytest.raises(UserError) as error:
        _job(DP, model=replace(MLP, batch_norm=True))
    assert error.value.message.key == "dp.error.batch_norm"
    for bad in (
        {"dp_epsilon": 0.0},
        {"dp_epsilon": -1.0},
        {"dp_clip_norm": 0.0},
        {"dp_delta": 1.0},
        {"dp_noise_multiplier": float("nan")},
        {"dp_epsilon": None, "dp_noise_multiplier": None},
        {"dp": "yes"},
    ):
        with pytest.raises(UserError):
            replace(DP, **bad)
    assert "dp_sgd" in [f.name for f in formulas_for(MLP, DP, "binary")]
    assert "dp_sgd" not in [f.name for f in formulas_for(MLP, replace(DP, dp=False), "binary")]
    assert TrainSpec.from_dict(DP.to_dict()) == DP


def test_early_stopping_reports_the_epsilon_of_the_epochs_run():
    spec = replace(DP, epochs=200, early_stopping=True, patience=1, learning_rate=0.05)
    run = _run(spec)
    assert run.status == "finished" and run.message.key == "train.message.early_stopped"
    privacy = run.privacy
    steps_per_epoch = math.ceil(150 / 20)
    assert privacy["steps"] == run.epochs_trained * steps_per_epoch < privacy["planned_steps"]
    assert privacy["epsilon"] == pytest.approx(epsilon_spent(1.1, 20 / 150, privacy["steps"], 1e-3))
    assert privacy["epsilon"] < epsilon_spent(1.1, 20 / 150, privacy["planned_steps"], 1e-3)
