"""Plotly figures for training: live loss and metric curves, and a linear model's w and b."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

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
MARKERS_BELOW = 40  # epochs: fewer are drawn with markers, more as plain lines


def _training_series(history: dict[str, list[float]], task: str) -> list[tuple[int, str]]:
    """The curves drawn, in trace order: (subplot column, history key) for each non-empty one."""
    metric = main_metric(task)
    return [
        (column, prefix + key)
        for column, key in ((1, "loss"), (2, metric))
        for prefix in ("", "val_")
        if history.get(prefix + key)
    ]


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
    for column, key in _training_series(history, task):
        values = history[key]
        validation = key.startswith("val_")
        label = t("curves.validation" if validation else "curves.train", lang)
        figure.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                mode="lines+markers" if len(values) < MARKERS_BELOW else "lines",
                name=label,
                legendgroup=label,
                showlegend=column == 1,
                line={"color": VAL_COLOR if validation else TRAIN_COLOR},
            ),
            row=1,
            col=column,
        )
    for column in (1, 2):
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


class LiveFigure:
    """A figure the live panel redraws on every tick, rebuilt only when its shape changes.

    Building a plotly figure validates every property: about 12 ms for the training curves and
    9 ms for the parameter curves (bench/live_panel.py), twice a second per participant, all of
    it holding the server's one GIL, which a room of 20 shares with its training jobs and the
    web server's event loop. Between ticks only the curves' points change, so they are set in
    place on the figure built last time (under 1 ms); a new shape (the series drawn, the
    language, the loss, the targets, the switch from markers to lines) builds afresh. Whatever
    the path, the figure equals a fresh build from the same values (tested). One per session:
    it holds that session's curves.
    """

    def __init__(self) -> None:
        self._shape: Hashable = None
        self._figure: go.Figure | None = None
        self.builds = 0

    def draw(
        self, shape: Hashable, series: Sequence[Sequence[float]], build: Callable[[], go.Figure]
    ) -> go.Figure:
        """The figure for these series: `build()` when the shape changed, else updated points."""
        if self._figure is None or shape != self._shape:
            self._figure, self._shape = build(), shape
            self.builds += 1
            return self._figure
        with self._figure.batch_update():
            for trace, values in zip(self._figure.data, series, strict=True):
                trace.x = list(range(1, len(values) + 1))
                trace.y = list(values)
        return self._figure


def live_training_curves(
    live: LiveFigure,
    history: dict[str, list[float]],
    task: str,
    lang: str = DEFAULT_LANGUAGE,
    loss: str | None = None,
) -> go.Figure:
    """training_curves_figure(history, task, lang, loss), drawn through `live`."""
    keys = tuple(key for _, key in _training_series(history, task))
    markers = tuple(len(history[key]) < MARKERS_BELOW for key in keys)
    return live.draw(
        ("training", task, lang, loss, keys, markers),
        [history[key] for key in keys],
        lambda: training_curves_figure(history, task, lang, loss),
    )


def live_parameter_curves(
    live: LiveFigure,
    parameters: dict[str, list[float]],
    targets: dict[str, float] | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """parameter_curves_figure(parameters, targets, lang), drawn through `live`."""
    shape = ("parameters", lang, tuple(parameters), tuple(sorted((targets or {}).items())))
    return live.draw(
        shape,
        list(parameters.values()),
        lambda: parameter_curves_figure(parameters, targets, lang),
    )
