"""Plotly figures for the Evaluate page: pure functions, data in, Figure out.

Class names, column names and run names come from the user's data: they are HTML-escaped
before they reach a figure, because plotly renders a little HTML in labels and hover text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.evaluate.metrics import Importance, class_probabilities
from core.i18n import DEFAULT_LANGUAGE, t
from core.train.figures import TRAIN_COLOR, VAL_COLOR, training_curves_figure
from core.train.models import main_metric

MARGIN = {"t": 50, "b": 40, "l": 50, "r": 10}
CHANCE_COLOR = "#868E96"
POINT_COLOR = "#C92A2A"
PALETTE = ("#2F6FEB", "#E8590C", "#2B8A3E", "#AE3EC9", "#F08C00", "#1098AD", "#C2255C", "#5C940D")
CALIBRATION_BINS = 10
HISTOGRAM_BINS = 20


def confusion_figure(
    matrix: np.ndarray,
    class_names: Sequence[object],
    *,
    normalized: bool,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """A heat map of the confusion matrix: rows true class, columns predicted class."""
    names = _names(class_names)
    matrix = np.asarray(matrix, dtype=np.float64)
    text = [[f"{v:.0%}" if normalized else f"{int(v):,}" for v in row] for row in matrix]
    figure = go.Figure(
        go.Heatmap(
            z=matrix.tolist(),
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate=t("evaluation.chart.confusion_hover", lang) + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=t(
            "evaluation.chart.confusion_normalized" if normalized else "evaluation.chart.confusion",
            lang,
        ),
        xaxis={"title": t("evaluation.chart.predicted_class", lang), "type": "category"},
        yaxis={
            "title": t("evaluation.chart.true_class", lang),
            "type": "category",
            "autorange": "reversed",
        },
        height=max(300, 60 * len(names) + 140),
        margin=MARGIN,
    )
    return figure


def roc_figure(
    y_true: np.ndarray,
    positive_scores: np.ndarray,
    *,
    threshold: float | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """The ROC curve of a binary classifier, chance diagonal, and the threshold's point."""
    from sklearn import metrics

    y_true, scores = np.asarray(y_true), np.asarray(positive_scores, dtype=np.float64)
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": CHANCE_COLOR},
            name=t("evaluation.chart.chance", lang),
        )
    )  # fmt: skip
    if len(np.unique(y_true)) == 2:
        fpr, tpr, _ = metrics.roc_curve(y_true, scores)
        auc = metrics.auc(fpr, tpr)
        figure.add_trace(
            go.Scatter(
                x=fpr, y=tpr, mode="lines", line={"color": TRAIN_COLOR},
                name=t("evaluation.chart.roc_name", lang, auc=auc),
            )
        )  # fmt: skip
        if threshold is not None:
            predicted = scores >= threshold
            positives, negatives = y_true == 1, y_true == 0
            point = (predicted[negatives].mean(), predicted[positives].mean())
            figure.add_trace(_threshold_point(point[0], point[1], threshold, lang))
    figure.update_layout(
        title=t("evaluation.chart.roc", lang),
        xaxis={"title": t("evaluation.chart.fpr", lang), "range": [0, 1]},
        yaxis={"title": t("evaluation.chart.tpr", lang), "range": [0, 1.02]},
        height=380,
        margin=MARGIN,
    )
    return figure


def pr_figure(
    y_true: np.ndarray,
    positive_scores: np.ndarray,
    *,
    threshold: float | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """The precision-recall curve of a binary classifier, the no-skill line, the threshold."""
    from sklearn import metrics

    y_true, scores = np.asarray(y_true), np.asarray(positive_scores, dtype=np.float64)
    figure = go.Figure()
    if len(y_true):
        prevalence = float(np.mean(y_true == 1))
        figure.add_trace(
            go.Scatter(
                x=[0, 1], y=[prevalence, prevalence], mode="lines",
                line={"dash": "dot", "color": CHANCE_COLOR},
                name=t("evaluation.chart.no_skill", lang),
            )
        )  # fmt: skip
    if np.any(y_true == 1):
        precision, recall, _ = metrics.precision_recall_curve(y_true, scores)
        average = metrics.average_precision_score(y_true, scores)
        figure.add_trace(
            go.Scatter(
                x=recall, y=precision, mode="lines", line={"color": TRAIN_COLOR},
                name=t("evaluation.chart.pr_name", lang, ap=average),
            )
        )  # fmt: skip
        if threshold is not None:
            predicted = scores >= threshold
            hits = float(np.sum(predicted & (y_true == 1)))
            point_recall = hits / float(np.sum(y_true == 1))
            point_precision = hits / float(predicted.sum()) if predicted.any() else 1.0
            figure.add_trace(_threshold_point(point_recall, point_precision, threshold, lang))
    figure.update_layout(
        title=t("evaluation.chart.pr", lang),
        xaxis={"title": t("evaluation.chart.recall", lang), "range": [0, 1]},
        yaxis={"title": t("evaluation.chart.precision", lang), "range": [0, 1.02]},
        height=380,
        margin=MARGIN,
    )
    return figure


def calibration_figure(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[object],
    *,
    n_bins: int = CALIBRATION_BINS,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """Predicted probability against the observed share, per class (the positive one if binary)."""
    from sklearn.calibration import calibration_curve

    names = _names(class_names)
    probabilities = class_probabilities(task, scores)
    y_true = np.asarray(y_true, dtype=np.int64)
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": CHANCE_COLOR},
            name=t("evaluation.chart.perfect_calibration", lang),
        )
    )  # fmt: skip
    codes = [1] if task == "binary" else range(probabilities.shape[1])
    for code in codes:
        truth = y_true == code
        if len(truth) == 0 or truth.all() or not truth.any():
            continue  # a class with no rows (or only its rows) has no curve
        observed, predicted = calibration_curve(
            truth, probabilities[:, code], n_bins=n_bins, strategy="uniform"
        )
        figure.add_trace(
            go.Scatter(
                x=predicted, y=observed, mode="lines+markers", name=names[code],
                line={"color": PALETTE[code % len(PALETTE)]},
            )
        )  # fmt: skip
    figure.update_layout(
        title=t("evaluation.chart.calibration", lang),
        xaxis={"title": t("evaluation.chart.mean_predicted", lang), "range": [0, 1]},
        yaxis={"title": t("evaluation.chart.observed_share", lang), "range": [0, 1.02]},
        height=380,
        margin=MARGIN,
    )
    return figure


def probability_histogram_figure(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[object],
    *,
    threshold: float | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """Binary: the positive-class probability, one histogram per true class. Multiclass: the
    probability each row's true class got, one histogram per true class."""
    names = _names(class_names)
    probabilities = class_probabilities(task, scores)
    y_true = np.asarray(y_true, dtype=np.int64)
    if task == "binary":
        values = probabilities[:, 1]
        x_title = t("evaluation.chart.p_positive", lang, name=names[1])
    else:
        values = probabilities[np.arange(len(y_true)), y_true]
        x_title = t("evaluation.chart.p_true_class", lang)
    figure = go.Figure()
    for code, name in enumerate(names):
        rows = y_true == code
        if not rows.any():
            continue
        figure.add_trace(
            go.Histogram(
                x=values[rows], name=name, opacity=0.6,
                xbins={"start": 0, "end": 1.0001, "size": 1 / HISTOGRAM_BINS},
                marker={"color": PALETTE[code % len(PALETTE)]},
            )
        )  # fmt: skip
    if threshold is not None and task == "binary":
        figure.add_vline(x=threshold, line_dash="dash", line_color=POINT_COLOR)
    figure.update_layout(
        title=t("evaluation.chart.probabilities", lang),
        barmode="overlay",
        xaxis={"title": x_title, "range": [0, 1]},
        yaxis={"title": t("evaluation.chart.rows", lang)},
        legend={"title": {"text": t("evaluation.chart.true_class", lang)}},
        height=360,
        margin=MARGIN,
    )
    return figure


def predicted_vs_actual_figure(
    y_true: np.ndarray, predicted: np.ndarray, *, lang: str = DEFAULT_LANGUAGE
) -> go.Figure:
    """Each test row's prediction against its true value, with the line of perfect predictions."""
    y_true = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)
    figure = go.Figure()
    if len(y_true):
        low = float(min(y_true.min(), predicted.min()))
        high = float(max(y_true.max(), predicted.max()))
        figure.add_trace(
            go.Scatter(
                x=[low, high], y=[low, high], mode="lines",
                line={"dash": "dot", "color": CHANCE_COLOR},
                name=t("evaluation.chart.perfect", lang),
            )
        )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=y_true, y=predicted, mode="markers", marker={"color": TRAIN_COLOR, "opacity": 0.7},
            name=t("evaluation.chart.test_rows", lang),
        )
    )  # fmt: skip
    figure.update_layout(
        title=t("evaluation.chart.predicted_vs_actual", lang),
        xaxis={"title": t("evaluation.chart.actual", lang)},
        yaxis={"title": t("evaluation.chart.predicted", lang)},
        height=380,
        margin=MARGIN,
    )
    return figure


def residuals_figure(
    y_true: np.ndarray, predicted: np.ndarray, *, lang: str = DEFAULT_LANGUAGE
) -> go.Figure:
    """Residuals (true − predicted) against the prediction: patterns mean something was missed."""
    y_true = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)
    figure = go.Figure(
        go.Scatter(
            x=predicted, y=y_true - predicted, mode="markers",
            marker={"color": VAL_COLOR, "opacity": 0.7},
            name=t("evaluation.chart.test_rows", lang),
        )
    )  # fmt: skip
    figure.add_hline(y=0, line_dash="dot", line_color=CHANCE_COLOR)
    figure.update_layout(
        title=t("evaluation.chart.residuals", lang),
        xaxis={"title": t("evaluation.chart.predicted", lang)},
        yaxis={"title": t("evaluation.chart.residual", lang)},
        height=380,
        margin=MARGIN,
    )
    return figure


def residual_histogram_figure(
    y_true: np.ndarray, predicted: np.ndarray, *, lang: str = DEFAULT_LANGUAGE
) -> go.Figure:
    """How residuals (true − predicted) spread: ideally narrow and centred on 0."""
    residuals = np.asarray(y_true, dtype=np.float64) - np.asarray(predicted).reshape(-1)
    figure = go.Figure(
        go.Histogram(x=residuals, nbinsx=30, marker={"color": VAL_COLOR}, showlegend=False)
    )
    figure.add_vline(x=0, line_dash="dot", line_color=CHANCE_COLOR)
    figure.update_layout(
        title=t("evaluation.chart.residual_histogram", lang),
        xaxis={"title": t("evaluation.chart.residual", lang)},
        yaxis={"title": t("evaluation.chart.rows", lang)},
        height=360,
        margin=MARGIN,
    )
    return figure


def learning_curves_figure(
    history: Mapping[str, Sequence[float]],
    task: str,
    *,
    best_epoch: int | None = None,
    lang: str = DEFAULT_LANGUAGE,
    loss: str | None = None,
) -> go.Figure:
    """The run's training and validation curves, with the epoch whose weights it kept marked
    (`loss`: the resolved loss name, so a Huber curve says it is on the standardised target)."""
    figure = training_curves_figure({k: list(v) for k, v in history.items()}, task, lang, loss)
    if best_epoch is not None:
        figure.add_vline(
            x=best_epoch,
            line_dash="dash",
            line_color=CHANCE_COLOR,
            annotation_text=t("evaluation.chart.kept_epoch", lang, epoch=best_epoch),
        )
    return figure


def compare_runs_figure(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    task: str,
    *,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """Several runs' curves overlaid: validation solid, training dotted, one colour per run."""
    metric = main_metric(task)
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(t("train.metric.loss", lang), t(f"train.metric.{metric}", lang)),
    )
    for index, (name, history) in enumerate(histories.items()):
        color = PALETTE[index % len(PALETTE)]
        label = html.escape(str(name))
        for column, key in ((1, "loss"), (2, metric)):
            for prefix, dash, split in (
                ("val_", "solid", t("curves.validation", lang)),
                ("", "dot", t("curves.train", lang)),
            ):
                values = list(history.get(prefix + key, []))
                if not values:
                    continue
                figure.add_trace(
                    go.Scatter(
                        x=list(range(1, len(values) + 1)), y=values, mode="lines",
                        line={"color": color, "dash": dash}, name=f"{label} · {split}",
                        legendgroup=label, showlegend=column == 1,
                    ),
                    row=1, col=column,
                )  # fmt: skip
        figure.update_xaxes(title_text=t("curves.epoch", lang))
    figure.update_layout(height=380, margin=MARGIN)
    return figure


def parallel_coordinates_figure(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    *,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """One line per run across its hyperparameters, ending at (and coloured by) the metric.

    rows hold `run_settings` output plus the metric's value under `metric`. Learning rate and
    L2 sit on log10 axes labelled with their real values; the optimizer is a category axis.
    """
    dimensions = []
    lr = [math.log10(row["learning_rate"]) for row in rows]
    dimensions.append(
        _log_dimension(lr, [row["learning_rate"] for row in rows], "learning_rate", lang)
    )
    optimizers = sorted({row["optimizer"] for row in rows})
    dimensions.append(
        {
            "label": t("evaluation.compare.optimizer", lang),
            "values": [optimizers.index(row["optimizer"]) for row in rows],
            "tickvals": list(range(len(optimizers))),
            "ticktext": [t(f"train.optimizer.{name}", lang) for name in optimizers],
            "range": [-0.5, len(optimizers) - 0.5],
        }
    )
    # Full batch (None) is drawn above the largest batch size, labelled as such.
    sizes = [row["batch_size"] for row in rows]
    largest = max([size for size in sizes if size is not None], default=1)
    full = largest * 2
    values = [full if size is None else size for size in sizes]
    ticks = sorted(set(values))
    dimensions.append(
        {
            "label": t("evaluation.compare.batch_size", lang),
            "values": values,
            "tickvals": ticks,
            "ticktext": [
                t("train.batch.full", lang) if v == full and None in sizes else str(v)
                for v in ticks
            ],
        }
    )
    for key in ("hidden_layers", "units", "dropout", "epochs_trained"):
        dimensions.append(
            {"label": t(f"evaluation.compare.{key}", lang), "values": [row[key] for row in rows]}
        )
    l2 = [math.log10(row["l2"]) if row["l2"] > 0 else -6.0 for row in rows]
    dimensions.append(_log_dimension(l2, [row["l2"] for row in rows], "l2", lang))
    scores = [np.nan if row.get(metric) is None else row[metric] for row in rows]
    dimensions.append({"label": t(f"evaluation.metric.{metric}", lang), "values": scores})
    for dimension in dimensions:
        if "range" not in dimension and len(set(dimension["values"])) == 1:
            value = dimension["values"][0]
            dimension["range"] = [value - 1, value + 1] if value == value else [0, 1]
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": [0.0 if s != s else s for s in scores],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": t(f"evaluation.metric.{metric}", lang)}},
            },
            dimensions=dimensions,
        )
    )
    figure.update_layout(
        title=t("evaluation.chart.parallel", lang), height=420, margin={**MARGIN, "l": 70}
    )
    return figure


def importance_figure(
    importances: Sequence[Importance], metric: str, *, lang: str = DEFAULT_LANGUAGE
) -> go.Figure:
    """Permutation importance per input column: the mean drop, with ± one spread as error bars."""
    ordered = list(importances)[::-1]  # largest at the top of a horizontal bar chart
    figure = go.Figure(
        go.Bar(
            x=[item.mean for item in ordered],
            y=[html.escape(item.column) for item in ordered],
            orientation="h",
            error_x={"type": "data", "array": [item.std for item in ordered]},
            marker={"color": TRAIN_COLOR},
        )
    )
    figure.update_layout(
        title=t("evaluation.chart.importance", lang),
        xaxis={
            "title": t(
                "evaluation.chart.importance_axis",
                lang,
                metric=t(f"evaluation.metric.{metric}", lang),
            )
        },
        yaxis={"type": "category"},
        height=max(300, 26 * len(ordered) + 120),
        margin={**MARGIN, "l": 120},
    )
    return figure


def _threshold_point(x: float, y: float, threshold: float, lang: str) -> go.Scatter:
    return go.Scatter(
        x=[x], y=[y], mode="markers", marker={"size": 12, "color": POINT_COLOR},
        name=t("evaluation.chart.threshold_point", lang, threshold=threshold),
    )  # fmt: skip


def _log_dimension(values: list[float], originals: list[float], key: str, lang: str) -> dict:
    ticks = sorted(set(values))
    labels = {}
    for value, original in zip(values, originals, strict=True):
        labels[value] = "0" if original == 0 else f"{original:g}"
    return {
        "label": t(f"evaluation.compare.{key}", lang),
        "values": values,
        "tickvals": ticks,
        "ticktext": [labels[v] for v in ticks],
    }


def _names(class_names: Sequence[object]) -> list[str]:
    return [html.escape(str(name)) for name in class_names]


def membership_roc_figure(
    fpr: Sequence[float], tpr: Sequence[float], auc: float, *, lang: str = DEFAULT_LANGUAGE
) -> go.Figure:
    """The membership-inference attack's ROC curve (core.evaluate.membership): training rows
    as positives, held-out rows as negatives, on log axes so 1% false positives shows."""
    floor = 1e-3
    figure = go.Figure()
    diagonal = np.logspace(-3, 0, 50)
    figure.add_trace(
        go.Scatter(
            x=diagonal, y=diagonal, mode="lines", line={"dash": "dot", "color": CHANCE_COLOR},
            name=t("evaluation.chart.chance", lang),
        )
    )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=np.maximum(np.asarray(fpr, dtype=np.float64), floor),
            y=np.maximum(np.asarray(tpr, dtype=np.float64), floor),
            mode="lines", line={"color": POINT_COLOR},
            name=t("dp.chart.attack_name", lang, auc=auc),
        )
    )  # fmt: skip
    figure.add_vline(x=0.01, line={"dash": "dash", "color": CHANCE_COLOR})
    figure.update_layout(
        title=t("dp.chart.title", lang),
        xaxis={"title": t("dp.chart.fpr", lang), "type": "log", "range": [-3, 0]},
        yaxis={"title": t("dp.chart.tpr", lang), "type": "log", "range": [-3, 0.01]},
        height=380,
        margin=MARGIN,
    )
    return figure
