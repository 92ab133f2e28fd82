"""The live panel's figures: updated in place between ticks, always equal to a fresh build."""

from __future__ import annotations

import math

import plotly.io

from core.train.figures import (
    LiveFigure,
    live_parameter_curves,
    live_training_curves,
    parameter_curves_figure,
    training_curves_figure,
)


def _json(figure) -> str:
    return plotly.io.to_json(figure, validate=False)


def _history(epochs: int, metric: str = "mae", validation: bool = True) -> dict[str, list[float]]:
    history = {
        "loss": [1.0 / (e + 1) for e in range(epochs)],
        metric: [0.5 + math.sin(e) / 10 for e in range(epochs)],
    }
    if validation:
        history["val_loss"] = [1.2 / (e + 1) for e in range(epochs)]
        history["val_" + metric] = [0.6 + math.cos(e) / 10 for e in range(epochs)]
    return history


def test_training_curves_equal_a_fresh_build_at_every_epoch_and_build_only_on_a_new_shape():
    live = LiveFigure()
    for epochs in range(1, 61):
        history = _history(epochs)
        drawn = live_training_curves(live, history, "regression", "en", "mse")
        assert _json(drawn) == _json(training_curves_figure(history, "regression", "en", "mse"))
    # One build at epoch 1, one where markers give way to lines (epoch 40): the rest in place.
    assert live.builds == 2


def test_a_new_language_loss_or_series_builds_afresh():
    live = LiveFigure()
    history = _history(5, "accuracy")
    live_training_curves(live, history, "binary", "en")
    for args in (
        (history, "binary", "zh", None),
        (history, "binary", "zh", "binary_focal_crossentropy"),
        (_history(6, "accuracy", validation=False), "binary", "zh", "binary_focal_crossentropy"),
    ):
        before = live.builds
        drawn = live_training_curves(live, *args)
        assert live.builds == before + 1
        assert _json(drawn) == _json(training_curves_figure(*args))


def test_parameter_curves_equal_a_fresh_build_and_targets_change_the_shape():
    live = LiveFigure()
    targets = {"w": 2.0, "b": 1.0}
    for epochs in range(1, 30):
        parameters = {
            "w": [2 - 1 / (e + 1) for e in range(epochs)],
            "b": [0.1 * e for e in range(epochs)],
        }
        drawn = live_parameter_curves(live, parameters, targets, "en")
        assert _json(drawn) == _json(parameter_curves_figure(parameters, targets, "en"))
    assert live.builds == 1
    drawn = live_parameter_curves(live, parameters, None, "en")
    assert live.builds == 2
    assert _json(drawn) == _json(parameter_curves_figure(parameters, None, "en"))
