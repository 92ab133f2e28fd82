"""Plotly figures for training: live loss and metric curves, and a linear model's w and b."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.i18n import DEFAULT_LANGUAGE, t
from core.train.models import main_metric

# Losses the engine reports on the standardised target z = (y - mean) / std, not in the
# target's units (core.train.loop: MSE and MAE are scaled back; Huber is not scale-free).
STANDARDISED_LOSSES = frozenset({"huber"})


def loss_on_standardised_scale(task: str, loss: str | None) -> bool:
    """True where a regression run's loss curve is on the standardised target (Huber)."""
    return task == "regression" and loss in STANDARDISED_LOSSES


def loss_title(task: str, loss: str | None = None, lang: str = DEFAULT_LANGUAGE) -> str:
    """The loss curve's title; it says so where the loss is on the standardised target."""
    if loss_on_standardised_scale(task, loss):
        return t("train.metric.loss_standardised", lang, loss=t(f"train.loss.{loss}", lang))
    return t("train.metric.loss", lang)


TRAIN_COLOR = "#2F6FEB"
VAL_COLOR = "#E8590C"


def training_curves_figure(
    history: dict[str, list[float]],
    task: str,
    lang: str = DEFAULT_LANGUAGE,
    loss: str | None = None,
) -> go.Figure:
    """Loss and the task's main metric per epoch, training and validation side by side; `loss`
    (the resolved loss name) titles a loss on the standardised target as such."""
    metric = main_metric(task)
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(loss_title(task, loss, lang), t(f"train.metric.{metric}", lang)),
    )
    for column, key in ((1, "loss"), (2, metric)):
        for prefix, color, label in (
            ("", TRAIN_COLOR, t("curves.train", lang)),
            ("val_", VAL_COLOR, t("curves.validation", lang)),
        ):
            values = history.get(prefix + key, [])
            if not values:
                continue
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=values,
                    mode="lines+markers" if len(values) < 40 else "lines",
                    name=label,
                    legendgroup=label,
                    showlegend=column == 1,
                    line={"color": color},
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text=t("curves.epoch", lang), row=1, col=column)
    figure.update_layout(height=360, margin={"t": 40, "b": 40, "l": 40, "r": 10})
    return figure


def parameter_curves_figure(
    parameters: dict[str, list[float]],
    targets: dict[str, float] | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """A linear model's weight(s) and bias after each epoch, with dotted target lines if known."""
    figure = go.Figure()
    for name, values in parameters.items():
        figure.add_trace(
            go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines", name=name)
        )
    for name, value in (targets or {}).items():
        figure.add_hline(
            y=value,
            line_dash="dot",
            annotation_text=t("curves.target_value", lang, name=name, value=value),
        )
    figure.update_layout(
        title=t("curves.parameters", lang),
        xaxis_title=t("curves.epoch", lang),
        height=320,
        margin={"t": 50, "b": 40, "l": 40, "r": 10},
    )
    return figure
