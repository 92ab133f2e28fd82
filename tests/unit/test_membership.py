"""Membership inference (core.evaluate.membership): chance on an untrained model, clearly above
chance on an overfitted one; the attack's numbers on hand-made losses; the privacy block."""

from types import SimpleNamespace

import numpy as np
import pytest

from core.evaluate.membership import (
    auc_standard_error,
    example_losses,
    loss_threshold_attack,
    membership_audit,
    privacy_document,
)
from core.evaluate.metrics import metrics_document, run_privacy
from core.train.engine import TrainingJob, TrainSpec
from core.train.models import ModelSpec, build_model

RNG = np.random.default_rng(7)
X = RNG.normal(size=(300, 8)).astype(np.float32)
# A weak signal plus label noise: a big network can only fit the training rows by memorising.
Y = ((X[:, 0] + RNG.normal(scale=2.0, size=300)) > 0).astype(np.int64)


def _prepared(order):
    """Training / validation / test rows from one shuffle of the rows."""
    train, val, test = order[:150], order[150:200], order[200:]
    return SimpleNamespace(
        spec=SimpleNamespace(task="binary"),
        X_train=X[train],
        y_train=Y[train],
        X_val=X[val],
        y_val=Y[val],
        X_test=X[test],
        y_test=Y[test],
    )


def test_an_untrained_model_gives_chance_auc():
    for seed in (0, 1, 2):
        prepared = _prepared(np.random.default_rng(seed).permutation(len(X)))
        model = build_model(ModelSpec(hidden_layers=(32,)), X.shape[1], "binary", 2, seed)
        audit = membership_audit(prepared, model)
        assert audit.members == 150 and audit.non_members == 150
        assert abs(audit.auc - 0.5) < 3 * audit.auc_se, (seed, audit.auc, audit.auc_se)
        assert audit.tpr_at_1pct_fpr < 0.15


def test_an_overfitted_model_is_clearly_attackable_and_dp_is_recorded():
    prepared = _prepared(np.random.default_rng(0).permutation(len(X)))
    # The last epoch kept (not the best on validation): deliberately overfitted.
    spec = TrainSpec(learning_rate=0.01, batch_size=16, epochs=150, restore_best=False, seed=1)
    job = TrainingJob(
        ModelSpec(hidden_layers=(128, 128)),
        spec,
        "binary",
        2,
        prepared.X_train,
        prepared.y_train,
        prepared.X_val,
        prepared.y_val,
    )
    assert job.start().join(300)
    run = job.result()
    audit = membership_audit(prepared, run)
    assert audit.auc > 0.5 + 5 * audit.auc_se, (audit.auc, audit.auc_se)
    assert audit.auc > 0.7
    # (At 1% FPR the plain loss threshold finds few members: confident right answers on
    # held-out rows have near-zero loss too. The number is reported, not asserted high.)
    assert 0.0 <= audit.tpr_at_1pct_fpr <= 1.0
    block = run_privacy(prepared, run)
    assert block["dp"] is False and block["epsilon"] is None
    assert block["membership_inference"]["auc"] == pytest.approx(audit.auc)
    document = metrics_document(
        {"test": {"accuracy": 1.0}, "validation": {}, "baselines": {}}, block
    )
    assert document["privacy"]["membership_inference"]["members"] == 150


def test_the_attack_on_hand_made_losses():
    low, high = np.linspace(0.0, 1.0, 50), np.linspace(2.0, 3.0, 200)
    perfect = loss_threshold_attack(low, high)
    assert perfect.auc == 1.0 and perfect.tpr_at_1pct_fpr == 1.0
    assert loss_threshold_attack(high, low).auc == 0.0
    same = loss_threshold_attack(np.ones(40), np.ones(60))
    assert same.auc == 0.5 and same.tpr_at_1pct_fpr == 0.0
    # Half the members have lower loss than every non-member, half tie with the middle.
    mixed = loss_threshold_attack(np.r_[np.zeros(50), np.full(50, 5.0)], np.linspace(1, 9, 100))
    assert mixed.auc == pytest.approx(0.5 + 0.5 * 0.5, abs=0.01)
    assert mixed.tpr_at_1pct_fpr == pytest.approx(0.5)
    # Hanley-McNeil at AUC 0.5 with m = n: sqrt((0.25 + (n - 1)(1/3 - 1/4) * 2) / n²).
    n = 100
    expected = np.sqrt((0.25 + 2 * (n - 1) * (1 / 3 - 0.25)) / n**2)
    assert auc_standard_error(0.5, n, n) == pytest.approx(expected)


def test_example_losses_and_the_privacy_block_of_a_dp_run():
    np.testing.assert_allclose(
        example_losses("binary", np.array([1, 0]), np.array([0.8, 0.8])),
        [-np.log(0.8), -np.log(0.2)],
    )
    np.testing.assert_allclose(
        example_losses("multiclass", np.array([2, 0]), np.array([[0.1, 0.2, 0.7]] * 2)),
        [-np.log(0.7), -np.log(0.1)],
    )
    np.testing.assert_allclose(
        example_losses("regression", np.array([1.0, 3.0]), np.array([2.0, 3.0])), [1.0, 0.0]
    )
    run = SimpleNamespace(
        privacy={
            "dp": True,
            "epsilon": 2.5,
            "delta": 1e-3,
            "noise_multiplier": 1.2,
            "clip_norm": 1.0,
            "sampling_rate": 0.1,
            "steps": 300,
            "target_epsilon": 3.0,
            "accountant": "rdp",
        }
    )
    block = privacy_document(run, loss_threshold_attack(np.zeros(3), np.ones(3)))
    assert block["dp"] is True and block["epsilon"] == 2.5 and block["delta"] == 1e-3
    assert block["membership_inference"]["auc"] == 1.0


def test_logit_losses_match_the_probability_losses_and_keep_confident_rows_apart():
    from core.evaluate.membership import logit_losses

    z = np.array([-3.0, 0.5, 2.0])
    y = np.array([0, 1, 0])
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(logit_losses("binary", y, z), example_losses("binary", y, p))
    z3 = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    p3 = np.exp(z3) / np.exp(z3).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        logit_losses("multiclass", np.array([1, 2]), z3),
        example_losses("multiclass", np.array([1, 2]), p3),
    )
    # Logits 40 and 60 both round to probability 1 in float32, but not their losses.
    far = logit_losses("binary", np.array([1, 1]), np.array([40.0, 60.0]))
    assert far[0] > far[1] > 0


def test_lira_finds_the_members_of_an_overfitted_model_and_not_of_an_untrained_one():
    from core.evaluate.membership import _likelihood_ratio, lira_audit

    # The likelihood ratio on hand-made statistics: IN shadows near 2, OUT near -2.
    inside = np.array([[True, False], [False, True], [True, False], [False, True]])
    stats = np.where(inside, 2.0, -2.0) + np.array([[0.1], [-0.1], [0.2], [-0.2]])
    ratio = _likelihood_ratio(np.array([2.0, -2.0]), stats, inside)
    assert ratio[0] > 0 > ratio[1]

    prepared = _prepared(np.random.default_rng(0).permutation(len(X)))
    prepared.preprocessor = SimpleNamespace(classes_=[0, 1])
    spec = TrainSpec(learning_rate=0.01, batch_size=16, epochs=60, restore_best=False, seed=1)
    model = ModelSpec(hidden_layers=(64, 64))
    job = TrainingJob(model, spec, "binary", 2, prepared.X_train, prepared.y_train)
    assert job.start().join(300)
    run = job.result()
    audit = lira_audit(prepared, run, shadows=4)
    assert audit.attack == "lira" and audit.members == 150 and audit.non_members == 150
    assert audit.auc > 0.5 + 4 * audit.auc_se, (audit.auc, audit.auc_se)
    # An untrained model of the same kind: its members are not special.
    untrained = SimpleNamespace(
        train_spec=spec, model_spec=model, build_model=lambda: build_model(model, 8, "binary", 2, 9)
    )
    blank = lira_audit(prepared, untrained, shadows=4)
    assert abs(blank.auc - 0.5) < 3 * blank.auc_se, (blank.auc, blank.auc_se)
