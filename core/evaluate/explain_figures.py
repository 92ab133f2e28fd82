"""Plotly figures of Shapley attributions: importance, beeswarm, partial dependence, waterfall.

Pure functions, an `Explanation` (or a `Dependence`) in, a Figure out. Column names, category
values and class labels come from the user's data: they are HTML-escaped before they reach a
figure, because plotly renders a little HTML in labels and hover text.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.evaluate.explain import Dependence, Explanation
from core.i18n import DEFAULT_LANGUAGE, t

MARGIN = {"t": 50, "b": 40, "l": 140, "r": 10}
BAR_COLOR = "#2F6FEB"
UP_COLOR = "#2B8A3E"
DOWN_COLOR = "#C92A2A"
TOTAL_COLOR = "#495057"
ICE_COLOR = "rgba(47, 111, 235, 0.18)"
CATEGORY_COLOR = "#868E96"
BEESWARM_COLUMNS = 12  # columns shown in the beeswarm, largest mean |attribution| first
WATERFALL_COLUMNS = 10  # bars in a waterfall; the rest are summed into one
JITTER = 0.28


def importance_figure(explanation: Explanation, *, lang: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Mean |attribution| per column with ± one standard deviation, largest at the top."""
    table = explanation.importance().iloc[::-1]
    figure = go.Figure(
        go.Bar(
            x=table["mean_abs"].tolist(),
            y=[html.escape(str(name)) for name in table["column"]],
            orientation="h",
            error_x={"type": "data", "array": table["std_abs"].tolist()},
            marker={"color": BAR_COLOR},
        )
    )
    figure.update_layout(
        title=t("explain.importance.title", lang),
        xaxis={"title": t("explain.figure.mean_abs", lang)},
        yaxis={"type": "category"},
        height=max(300, 26 * len(table) + 120),
        margin=MARGIN,
    )
    return figure


def beeswarm_figure(
    explanation: Explanation, *, lang: str = DEFAULT_LANGUAGE, columns: int = BEESWARM_COLUMNS
) -> go.Figure:
    """One dot per row and column (the largest `columns`), at its attribution, coloured by the
    column's value in that row (numbers low to high; categories grey)."""
    order = explanation.importance()["column"].tolist()[:columns]
    rng = np.random.default_rng(0)
    figure = go.Figure()
    for rank, name in enumerate(reversed(order)):
        index = explanation.columns.index(name)
        values = explanation.values[:, index]
        raw = explanation.data[name]
        numbers = pd.to_numeric(raw, errors="coerce")
        numeric = (
            bool(numbers.notna().any())
            and not isinstance(raw.dtype, pd.CategoricalDtype)
            and pd.api.types.is_numeric_dtype(raw)
        )
        marker: dict[str, Any] = {"size": 6, "opacity": 0.75}
        if numeric:
            low, high = float(np.nanmin(numbers)), float(np.nanmax(numbers))
            scaled = (numbers - low) / (high - low) if high > low else numbers * 0 + 0.5
            marker |= {
                "color": scaled.fillna(0.5).tolist(),
                "colorscale": "RdBu_r",
                "cmin": 0,
                "cmax": 1,
                "showscale": rank == 0,
                "colorbar": {
                    "title": t("explain.figure.value", lang),
                    "tickvals": [0, 1],
                    "ticktext": [t("explain.figure.low", lang), t("explain.figure.high", lang)],
                },
            }
        else:
            marker["color"] = CATEGORY_COLOR
        texts = [html.escape(str(value)) for value in raw.tolist()]
        figure.add_trace(
            go.Scatter(
                x=values.tolist(),
                y=(rank + rng.uniform(-JITTER, JITTER, len(values))).tolist(),
                mode="markers",
                marker=marker,
                text=texts,
                name=html.escape(name),
                showlegend=False,
                hovertemplate=f"{html.escape(name)} = %{{text}}<br>%{{x:.4g}}<extra></extra>",
            )
        )
    figure.add_vline(x=0, line={"color": TOTAL_COLOR, "width": 1})
    figure.update_layout(
        title=t("explain.beeswarm.title", lang),
        xaxis={"title": t("explain.figure.attribution", lang)},
        yaxis={
            "tickvals": list(range(len(order))),
            "ticktext": [html.escape(name) for name in reversed(order)],
            "range": [-0.6, len(order) - 0.4],
        },
        height=max(300, 34 * len(order) + 120),
        margin=MARGIN,
    )
    return figure


def dependence_figure(
    dependence: Dependence, output_label: str, *, lang: str = DEFAULT_LANGUAGE
) -> go.Figure:
    """ICE lines (one per row) under the partial dependence (their mean)."""
    grid = (
        [html.escape(str(value)) for value in dependence.grid]
        if dependence.categorical
        else (list(dependence.grid))
    )
    figure = go.Figure()
    mode = "markers+lines" if dependence.categorical else "lines"
    for number, line in enumerate(dependence.individual):
        figure.add_trace(
            go.Scatter(
                x=grid,
                y=line.tolist(),
                mode=mode,
                line={"color": ICE_COLOR, "width": 1},
                marker={"color": ICE_COLOR, "size": 4},
                showlegend=False,
                hoverinfo="skip",
                name=t("explain.figure.row", lang, number=number + 1),
            )
        )
    figure.add_trace(
        go.Scatter(
            x=grid,
            y=dependence.average.tolist(),
            mode=mode,
            line={"color": BAR_COLOR, "width": 4},
            marker={"color": BAR_COLOR, "size": 8},
            name=t("explain.figure.average", lang),
        )
    )
    figure.update_layout(
        title=t("explain.pd.title", lang) + f": {html.escape(dependence.column)}",
        xaxis={
            "title": html.escape(dependence.column),
            "type": "category" if dependence.categorical else "linear",
        },
        yaxis={"title": html.escape(output_label)},
        height=380,
        margin={**MARGIN, "l": 60},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def waterfall_figure(
    explanation: Explanation,
    position: int = 0,
    *,
    lang: str = DEFAULT_LANGUAGE,
    columns: int = WATERFALL_COLUMNS,
) -> go.Figure:
    """From the base value to the row's explained output, one bar per column (the largest
    `columns` by |attribution|, the rest summed), each labelled with the row's value."""
    values = explanation.values[position]
    order = np.argsort(-np.abs(values), kind="stable")
    shown, rest = order[:columns], order[columns:]
    row = explanation.data.iloc[position]
    labels = [
        f"{html.escape(explanation.columns[i])} = {html.escape(_short(row.iloc[i]))}" for i in shown
    ]
    amounts = [float(values[i]) for i in shown]
    if len(rest):
        labels.append(t("explain.figure.others", lang, count=len(rest)))
        amounts.append(float(values[rest].sum()))
    base = float(explanation.base_values[position])
    output = float(explanation.outputs[position])
    # Plotly draws the first bar at the top with a reversed axis: base, reasons, prediction.
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute", *["relative"] * len(amounts), "total"],
            y=[t("explain.figure.base", lang), *labels, t("explain.figure.prediction", lang)],
            x=[base, *amounts, output],
            text=[f"{base:.4g}", *[f"{a:+.4g}" for a in amounts], f"{output:.4g}"],
            textposition="outside",
            increasing={"marker": {"color": UP_COLOR}},
            decreasing={"marker": {"color": DOWN_COLOR}},
            totals={"marker": {"color": TOTAL_COLOR}},
            connector={"line": {"color": "#ADB5BD", "width": 1}},
        )
    )
    low = min(base, output, *(np.cumsum([base, *amounts]).tolist()))
    high = max(base, output, *(np.cumsum([base, *amounts]).tolist()))
    pad = (high - low) * 0.25 or abs(high) * 0.1 or 1.0
    figure.update_layout(
        title=t("explain.waterfall.title", lang),
        xaxis={"title": t("explain.figure.attribution", lang), "range": [low - pad, high + pad]},
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(300, 30 * (len(amounts) + 2) + 120),
        margin={**MARGIN, "l": 200},
        showlegend=False,
    )
    return figure


def _short(value: object, limit: int = 30) -> str:
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    if isinstance(value, float) and not pd.isna(value):
        text = f"{value:.4g}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
