"""Evaluate-page figures: the right traces, catalog labels in both languages, escaped names."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

import core.evaluate.figures as figures
from core.evaluate.metrics import Importance

Y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
P = np.array([0.1, 0.3, 0.6, 0.4, 0.7, 0.9, 0.8, 0.2])
EVIL = "<b>x</b>"


def spec(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


def test_confusion_heat_map_counts_and_shares_with_escaped_class_names():
    matrix = np.array([[3, 1], [1, 3]])
    figure = figures.confusion_figure(matrix, ["no", EVIL], normalized=False)
    heat = figure.data[0]
    assert heat.type == "heatmap"
    assert list(heat.x) == ["no", "&lt;b&gt;x&lt;/b&gt;"]
    assert list(heat.text[0]) == ["3", "1"]
    shares = figures.confusion_figure(matrix / 4, ["no", "yes"], normalized=True, lang="zh")
    assert list(shares.data[0].text[0]) == ["75%", "25%"]
    assert "混淆矩阵" in shares.layout.title.text


def test_roc_and_pr_mark_the_threshold_point():
    roc = figures.roc_figure(Y, P, threshold=0.5)
    names = [trace.name for trace in roc.data]
    assert names[0] == "Chance" and names[1].startswith("ROC (AUC")
    point = roc.data[-1]
    # At 0.5: 1 of 4 negatives and 3 of 4 positives are called positive.
    assert (point.x[0], point.y[0]) == (0.25, 0.75)
    pr = figures.pr_figure(Y, P, threshold=0.5)
    point = pr.data[-1]
    assert (point.x[0], point.y[0]) == (0.75, 0.75)
    moved = figures.roc_figure(Y, P, threshold=0.95)
    assert (moved.data[-1].x[0], moved.data[-1].y[0]) == (0.0, 0.0)


def test_roc_of_one_class_draws_no_curve():
    figure = figures.roc_figure(np.ones(4, int), np.array([0.2, 0.4, 0.6, 0.8]), threshold=0.5)
    assert len(figure.data) == 1  # only the chance line


def test_calibration_and_histograms_for_binary_and_multiclass():
    calibration = figures.calibration_figure("binary", Y, P, ["no", "yes"])
    assert [trace.name for trace in calibration.data] == ["Perfectly calibrated", "yes"]
    probabilities = np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.5, 0.3, 0.2]])
    multi = figures.calibration_figure("multiclass", [0, 1, 2, 1], probabilities, ["a", "b", EVIL])
    assert len(multi.data) == 4
    histogram = figures.probability_histogram_figure("binary", Y, P, ["no", "yes"], threshold=0.3)
    assert [trace.type for trace in histogram.data] == ["histogram", "histogram"]
    assert histogram.layout.shapes[0].x0 == 0.3
    by_true = figures.probability_histogram_figure(
        "multiclass", [0, 1, 2, 1], probabilities, ["a", "b", "c"]
    )
    assert list(by_true.data[1].x) == [0.6, 0.3]  # the true class's probability, class b's rows


def test_regression_figures():
    y, predicted = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
    scatter = figures.predicted_vs_actual_figure(y, predicted, lang="zh")
    assert scatter.data[-1].mode == "markers"
    assert scatter.layout.xaxis.title.text == "实际值"
    residuals = figures.residuals_figure(y, predicted)
    assert list(residuals.data[0].y) == [-0.5, 0.0, 1.0]
    histogram = figures.residual_histogram_figure(y, predicted)
    assert histogram.data[0].type == "histogram"


def test_learning_curves_mark_the_kept_epoch():
    history = {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7], "accuracy": [0.5, 0.7, 0.8]}
    figure = figures.learning_curves_figure(history, "binary", best_epoch=2)
    assert any(shape.x0 == 2 for shape in figure.layout.shapes)


def test_a_huber_curve_says_it_is_on_the_standardised_target_in_both_languages():
    history = {"loss": [0.5, 0.3], "val_loss": [0.6, 0.4], "mae": [9e3, 7e3], "val_mae": [1e4, 8e3]}
    titles = {
        (loss, lang): figures.learning_curves_figure(history, "regression", lang=lang, loss=loss)
        .layout.annotations[0]
        .text
        for loss in ("huber", "mse")
        for lang in ("en", "zh")
    }
    assert titles[("huber", "en")] == "Huber loss (standardised target)"
    assert titles[("huber", "zh")] == "Huber 损失（标准化目标）"
    assert titles[("mse", "en")] == "Loss"  # MSE and MAE are reported in the target's units
    assert titles[("mse", "zh")] == "损失"
    classifier = figures.learning_curves_figure(history, "binary", loss="huber")
    assert classifier.layout.annotations[0].text == "Loss"  # no target scale on a classifier


def test_compare_curves_one_colour_per_run_escaped_names():
    histories = {
        EVIL: {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "mae": [1, 0.5], "val_mae": [1, 0.6]},
        "b": {"loss": [1.0, 0.4], "val_loss": [1.2, 0.7], "mae": [1, 0.4], "val_mae": [1, 0.5]},
    }
    figure = figures.compare_runs_figure(histories, "regression")
    assert len(figure.data) == 8
    assert all("<b>" not in trace.name for trace in figure.data)
    assert len({trace.line.color for trace in figure.data}) == 2


def test_parallel_coordinates_axes_and_metric_colour():
    common = {"hidden_layers": 2, "units": 48, "dropout": 0.0, "epochs_trained": 20}
    rows = [
        common | {"learning_rate": 0.001, "optimizer": "adam", "batch_size": 32, "l2": 0.01,
                  "accuracy": 0.9},
        common | {"learning_rate": 0.1, "optimizer": "sgd", "batch_size": None, "l2": 0.0,
                  "accuracy": None, "hidden_layers": 0, "units": 0},
    ]  # fmt: skip
    figure = figures.parallel_coordinates_figure(rows, "accuracy", lang="zh")
    data = spec(figure)["data"][0]
    assert data["type"] == "parcoords"
    labels = [dimension["label"] for dimension in data["dimensions"]]
    assert labels[0] == "学习率" and labels[-1] == "准确率"
    learning_rate = data["dimensions"][0]
    assert learning_rate["ticktext"] == ["0.001", "0.1"]
    batch = data["dimensions"][2]
    assert batch["ticktext"] == ["32", "全批量"]  # full batch drawn above the largest size


def test_importance_bars_with_spread():
    items = [Importance("a", 0.3, 0.05, (0.3,)), Importance(EVIL, 0.0, 0.0, (0.0,))]
    figure = figures.importance_figure(items, "accuracy")
    bar = figure.data[0]
    assert list(bar.y) == ["&lt;b&gt;x&lt;/b&gt;", "a"]
    assert list(bar.error_x.array) == [0.0, 0.05]
    assert "Accuracy" in figure.layout.xaxis.title.text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_figure_serialises(lang):
    for figure in (
        figures.roc_figure(Y, P, threshold=0.4, lang=lang),
        figures.pr_figure(Y, P, threshold=0.4, lang=lang),
        figures.calibration_figure("binary", Y, P, ["n", "y"], lang=lang),
    ):
        json.dumps(spec(figure))
