"""The controls registry (core.train.controls): one list for the page, lessons, presets and
resume; every control's texts exist, presets land on keys the page draws, resume keeps DP."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.i18n import LANGUAGES, t
from core.train.controls import (
    CONTROLS,
    control,
    off_the_controls,
    presettable_names,
    resume_key_pattern,
    widget_values,
)
from core.train.engine import TrainSpec, first_train_spec
from core.train.models import ModelSpec, first_model_spec
from core.workshop.lessons import control_names


def test_every_control_has_its_texts_and_a_train_key():
    for entry in CONTROLS:
        assert entry.key.startswith("train_"), entry.name
        for lang in LANGUAGES:
            assert t(entry.label, lang, index=1) and t(entry.help, lang, rows=10, delta="1e-02")
            for option in entry.options():
                assert entry.option_text(option, lang)
    assert len({entry.key for entry in CONTROLS}) == len(CONTROLS)


def test_presettable_controls_are_the_spec_fields_the_page_shows():
    fields = {*ModelSpec().to_dict(), *TrainSpec().to_dict()}
    assert presettable_names() <= fields
    # Only the noise multiplier has no control: σ comes from the target ε on the page.
    assert fields - presettable_names() == {"dp_noise_multiplier"}
    assert control_names() == presettable_names()


def test_a_preset_sets_every_presettable_control_and_the_layer_widgets():
    model = ModelSpec(hidden_layers=(64, 8), dropout=0.25, l2=1e-3, loss="huber")
    train = TrainSpec(optimizer="rmsprop", dp=True, dp_epsilon=2.0, dp_delta=1e-6)
    widgets = widget_values(model, train, "regression")
    assert widgets["train_layers"] == 2
    assert (widgets["train_units_0"], widgets["train_units_1"]) == (64, 8)
    assert widgets["train_loss_regression"] == "huber"
    assert (widgets["train_dp"], widgets["train_dp_epsilon"], widgets["train_dp_delta"]) == (
        True,
        2.0,
        1e-6,
    )
    assert widgets["train_optimizer"] == "rmsprop" and widgets["train_dropout"] == 0.25
    # A δ left to the page (None) keeps the page's suggestion: no value is set for it.
    assert "train_dp_delta" not in widget_values(model, replace(train, dp_delta=None), None)
    assert not any(key.startswith("train_loss_") for key in widget_values(model, train, None))
    # Every presettable control is set, on a key the page draws and a reload restores.
    assert {e.widget_key(task="regression") for e in CONTROLS if e.presettable} <= set(widgets)
    assert all(resume_key_pattern().match(key) for key in widgets)


def test_the_first_model_preset_is_on_the_controls():
    assert off_the_controls(first_model_spec(), first_train_spec()) == []
    widgets = widget_values(first_model_spec(), first_train_spec(), "regression")
    assert (widgets["train_kind"], widgets["train_optimizer"], widgets["train_dp"]) == (
        "linear",
        "sgd",
        False,
    )


@pytest.mark.parametrize(
    ("model", "train", "wrong"),
    [
        (ModelSpec(l2=0.002), TrainSpec(), ["l2"]),
        (ModelSpec(hidden_layers=(3,)), TrainSpec(), ["hidden_layers"]),
        (ModelSpec(dropout=0.33), TrainSpec(), ["dropout"]),
        (ModelSpec(), TrainSpec(learning_rate=0.0042), ["learning_rate"]),
        (ModelSpec(), TrainSpec(batch_size=48), ["batch_size"]),
        (ModelSpec(), TrainSpec(patience=60), ["patience"]),
        (ModelSpec(), TrainSpec(dp=True, dp_noise_multiplier=1.0), ["dp_noise_multiplier"]),
    ],
)
def test_values_the_page_cannot_show_are_named(model, train, wrong):
    assert off_the_controls(model, train) == wrong


def test_resume_keeps_every_control_the_privacy_settings_included_and_no_button():
    pattern = resume_key_pattern()
    for key in (
        "train_kind", "train_layers", "train_units_3", "train_loss_binary", "train_lr",
        "train_dp", "train_dp_epsilon", "train_dp_delta", "train_dp_clip", "train_seed",
    ):  # fmt: skip
        assert pattern.match(key), key
    for key in ("train_train", "train_stop", "train_preset", "train_units_x", "deploy_dp"):
        assert not pattern.match(key), key
    assert control("units").widget_key(index=2) == "train_units_2"
    assert control("loss").widget_key(task="binary") == "train_loss_binary"
