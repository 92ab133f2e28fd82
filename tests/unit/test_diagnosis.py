"""Each diagnosis rule on a synthetic history that shows exactly that behaviour."""

import numpy as np
import pytest

from core.evaluate.diagnosis import ADVICE, KINDS, diagnose, guessing_loss
from core.i18n import t

EPOCHS = np.arange(1, 41)


def kinds(history, **options):
    return [finding.kind for finding in diagnose(history, **options)]


def test_good_fit_when_both_losses_fall_and_level_off_together():
    loss = 0.2 + np.exp(-EPOCHS / 5)
    findings = diagnose({"loss": loss, "val_loss": loss + 0.02}, guessing_loss=2.0)
    assert [f.kind for f in findings] == ["good_fit"]
    assert findings[0].good


def test_overfitting_when_validation_rises_while_training_falls():
    loss = np.exp(-EPOCHS / 10)
    val = 0.4 + 0.002 * (EPOCHS - 12) ** 2  # lowest at epoch 12, then climbing
    findings = diagnose({"loss": loss, "val_loss": val}, best_epoch=12)
    assert findings[0].kind == "overfitting"
    assert findings[0].message.key == "evaluation.diagnosis.overfitting_kept"
    assert findings[0].message.params["epoch"] == 12
    assert not findings[0].good
    last = diagnose({"loss": loss, "val_loss": val})[0]
    assert last.message.key == "evaluation.diagnosis.overfitting_last"


def test_no_overfitting_when_validation_only_wobbles():
    loss = 0.2 + np.exp(-EPOCHS / 5)
    val = loss + 0.05 + 0.01 * np.sin(EPOCHS)
    assert "overfitting" not in kinds({"loss": loss, "val_loss": val})


def test_no_overfitting_when_training_loss_rises_too():
    loss = 0.5 + 0.01 * EPOCHS
    val = 0.6 + 0.01 * EPOCHS
    assert "overfitting" not in kinds({"loss": loss, "val_loss": val})


def test_underfitting_when_training_loss_stays_near_guessing():
    loss = 0.95 + 0.05 * np.exp(-EPOCHS / 3)
    found = kinds({"loss": loss, "val_loss": loss + 0.01}, guessing_loss=1.0)
    assert found == ["underfitting"]
    # Without the loss of guessing, flat curves are not called underfitting.
    assert kinds({"loss": loss, "val_loss": loss + 0.01}) == ["good_fit"]


def test_diverging_loss_means_learning_rate_too_high():
    loss = np.r_[1.0, 0.6, 0.5, 0.9, 2.0, 5.0, 12.0, 30.0]
    findings = diagnose({"loss": loss, "val_loss": loss})
    assert findings[0].kind == "diverging"
    assert findings[0].message.key == "evaluation.diagnosis.diverging_rise"
    assert findings[0].message.params["epoch"] == 3
    assert "lower_learning_rate" in [a.key.rsplit(".", 1)[1] for a in findings[0].advice]


def test_a_loss_that_is_not_a_number_diverged():
    findings = diagnose({"loss": [1.0, 0.8, 5.0, float("inf"), float("nan"), float("nan")]})
    assert findings[0].kind == "diverging"
    assert findings[0].message.key == "evaluation.diagnosis.diverging_nan"
    assert findings[0].message.params["epoch"] == 4


def test_oscillating_loss_means_learning_rate_too_high():
    loss = 0.6 + 0.3 * (EPOCHS % 2) + 0.2 * np.exp(-EPOCHS / 10)
    findings = diagnose({"loss": loss, "val_loss": loss + 0.1}, guessing_loss=5.0)
    assert findings[0].kind == "oscillating"
    assert findings[0].message.params["jumps"] >= 15


def test_small_noise_is_not_oscillation():
    loss = (0.2 + np.exp(-EPOCHS / 5)) * (1 + 0.01 * np.sin(3 * EPOCHS))
    assert "oscillating" not in kinds({"loss": loss, "val_loss": loss})


def test_still_learning_when_both_losses_are_falling_at_the_end():
    loss = 1.0 - 0.02 * EPOCHS
    assert kinds({"loss": loss, "val_loss": loss + 0.05}, guessing_loss=2.0) == ["still_learning"]


def test_too_few_epochs_to_judge():
    findings = diagnose({"loss": [1.0, 0.5], "val_loss": [1.0, 0.6]})
    assert [f.kind for f in findings] == ["too_short"]
    assert findings[0].message.params == {"epochs": 2, "needed": 5}


def test_several_findings_can_hold_at_once():
    loss = 0.6 + 0.3 * (EPOCHS % 2) - 0.005 * EPOCHS
    val = 0.4 + 0.003 * (EPOCHS - 10) ** 2
    assert kinds({"loss": loss, "val_loss": val}) == ["oscillating", "overfitting"]


def test_every_finding_and_advice_speaks_both_languages():
    histories = [
        {"loss": [1.0]},
        {"loss": [1.0, 0.6, 0.5, 0.9, 2.0, 5.0]},
        {"loss": [1.0, 0.8, float("nan"), 1, 1]},
        {"loss": 0.6 + 0.3 * (EPOCHS % 2)},
        {"loss": np.exp(-EPOCHS / 10), "val_loss": 0.4 + 0.002 * (EPOCHS - 12) ** 2},
        {"loss": np.ones(10)},
        {"loss": 1.0 - 0.02 * EPOCHS},
        {"loss": 0.2 + np.exp(-EPOCHS / 5)},
    ]
    seen = set()
    for history in histories:
        for finding in diagnose(history, guessing_loss=1.0, best_epoch=12):
            seen.add(finding.kind)
            for lang in ("en", "zh"):
                assert finding.message.text(lang)
                assert t(f"evaluation.diagnosis.title.{finding.kind}", lang)
                assert all(advice.text(lang) for advice in finding.advice)
    assert seen == set(KINDS) == set(ADVICE)


@pytest.mark.parametrize(
    ("loss", "task", "y", "expected"),
    [
        ("mse", "regression", [1.0, 2.0, 3.0], 2 / 3),
        ("mae", "regression", [1.0, 2.0, 4.0], 1.0),
        ("huber", "regression", [1.0, 2.0], None),
        (
            "binary_crossentropy",
            "binary",
            [0, 1, 1, 1],
            -(0.25 * np.log(0.25) + 0.75 * np.log(0.75)),
        ),
        ("categorical_crossentropy", "multiclass", [0, 1, 2], np.log(3)),
        ("mse", "binary", [0, 1], 0.25),
        ("mse", "multiclass", [0, 1, 2, 2], (0.1875 + 0.1875 + 0.25) / 3),
        ("binary_focal_crossentropy", "binary", [0, 1], None),
    ],
)
def test_guessing_loss_is_the_loss_of_one_constant_answer(loss, task, y, expected):
    found = guessing_loss(loss, task, np.array(y), 3 if task == "multiclass" else 2)
    assert found == (None if expected is None else pytest.approx(expected))
