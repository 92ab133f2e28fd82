"""Plotly figures for the data pages: pure builders, data in and go.Figure out.

Plotly renders HTML in titles, tick labels and hover text, so every column name and category
label put into a figure is HTML-escaped first. Histograms are binned here (numpy) and drawn as
bars, so a figure holds at most a few hundred numbers whatever the size of the table.
"""

from __future__ import annotations

import html
import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.api import types as ptypes

from core.data.profile import CORRELATION_SAMPLE_ROWS, correlation_matrix, is_real_number_dtype
from core.i18n import t

TOP_VALUES = 20
HISTOGRAM_BINS = 40
MAX_TIME_BINS = 120
# Periods tried from finest to coarsest; the first giving <= MAX_TIME_BINS bars is used.
# Month, quarter and year have no fixed length: their nominal lengths only pick the period.
TIME_PERIODS = (
    ("h", "hour", pd.Timedelta(hours=1)),
    ("D", "day", pd.Timedelta(days=1)),
    ("W", "week", pd.Timedelta(days=7)),
    ("MS", "month", pd.Timedelta(days=30)),
    ("QS", "quarter", pd.Timedelta(days=91)),
    ("YS", "year", pd.Timedelta(days=365)),
)
DIVERGING_SCALE = "RdBu_r"  # blue for negative, red for positive r


def distribution_figure(series: pd.Series, role: str, lang: str = "en") -> go.Figure:
    """How one column's values are spread: histogram, top-value bars, or rows over time."""
    column = _escape(series.name)
    if role == "numeric":
        return _histogram(series, column, lang)
    if role == "datetime":
        return _over_time(series, column, lang)
    return _top_values(series, column, lang)


def correlation_figure(
    frame: pd.DataFrame, lang: str = "en", max_columns: int = 30
) -> go.Figure | None:
    """Pearson correlations of the numeric columns (first `max_columns` that vary); None if < 2."""
    positions = [
        position for position in range(frame.shape[1]) if _varies(frame.iloc[:, position])
    ][:max_columns]
    if len(positions) < 2:
        return None
    matrix = correlation_matrix(frame.iloc[:, positions], max_rows=CORRELATION_SAMPLE_ROWS)
    names = [_escape(frame.columns[position]) for position in positions]
    values = matrix.to_numpy()
    z = [[None if np.isnan(value) else round(float(value), 4) for value in row] for row in values]
    heatmap = go.Heatmap(
        z=z,
        x=names,
        y=names,
        zmin=-1,
        zmax=1,
        zmid=0,
        colorscale=DIVERGING_SCALE,
        colorbar={"title": {"text": t("profile.chart.correlation.colorbar", lang)}},
        hovertemplate="%{y} / %{x}: r = %{z:.2f}<extra></extra>",
    )
    if len(names) <= 15:
        heatmap.update(texttemplate="%{z:.2f}")
    figure = go.Figure(heatmap)
    figure.update_layout(
        title={"text": t("profile.chart.correlation.title", lang)},
        xaxis={"type": "category", "tickangle": -45},
        yaxis={"type": "category", "autorange": "reversed"},
    )
    return figure


# --- builders -------------------------------------------------------------------------------


def _histogram(series: pd.Series, column: str, lang: str) -> go.Figure:
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    values = numbers[np.isfinite(numbers)]  # infinities have no place on an axis
    title = t("profile.chart.histogram.title", lang, column=column)
    if len(values) == 0:
        return _empty(title, lang)
    counts, edges = np.histogram(values, bins=_bin_edges(values))
    figure = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            customdata=np.column_stack([edges[:-1], edges[1:]]),
            hovertemplate="%{customdata[0]:.4g} – %{customdata[1]:.4g}: %{y:,}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title},
        bargap=0,
        xaxis={"title": {"text": column}},
        yaxis={"title": {"text": t("profile.chart.axis.rows", lang)}},
    )
    return figure


def _top_values(series: pd.Series, column: str, lang: str) -> go.Figure:
    try:
        counts = series.value_counts(dropna=True)
    except TypeError:  # lists or dicts in cells: count their text
        counts = series.dropna().astype("str").value_counts()
    counts = counts[counts > 0]  # unobserved categories of a category dtype
    if len(counts) > TOP_VALUES:
        title = t("profile.chart.top.title", lang, column=column, n=TOP_VALUES)
    else:
        title = t("profile.chart.values.title", lang, column=column)
    if counts.empty:
        return _empty(title, lang)
    counts = counts.iloc[:TOP_VALUES]
    labels = [_escape(value) for value in counts.index]
    figure = go.Figure(
        go.Bar(
            x=counts.to_numpy(),
            y=labels,
            orientation="h",
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": t("profile.chart.axis.rows", lang)}},
        # Category axis: labels such as "1" or "2020" must not be read as numbers or dates.
        yaxis={"title": {"text": column}, "type": "category", "autorange": "reversed"},
    )
    return figure


def _over_time(series: pd.Series, column: str, lang: str) -> go.Figure:
    times = _as_datetimes(series).dropna()
    if times.empty:
        return _empty(t("profile.chart.time.title", lang, column=column), lang)
    rule, unit = _period(times.min(), times.max())
    counts = pd.Series(1, index=pd.DatetimeIndex(times)).resample(rule).size()
    unit_text = t(f"profile.chart.unit.{unit}", lang)
    figure = go.Figure(
        go.Bar(
            x=counts.index,
            y=counts.to_numpy(),
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": t("profile.chart.time.title", lang, column=column)},
        bargap=0.05,
        xaxis={"title": {"text": column}},
        yaxis={"title": {"text": t("profile.chart.axis.rows_per", lang, unit=unit_text)}},
    )
    return figure


def _empty(title: str, lang: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        title={"text": title},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": t("profile.chart.no_values", lang),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    return figure


# --- helpers --------------------------------------------------------------------------------


def _escape(value: object) -> str:
    """Text safe to hand plotly, which would otherwise render <b>, <a href=...> and &amp;."""
    return html.escape(str(value), quote=False)


def _bin_edges(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if low == high:
        return np.array([low - 0.5, high + 0.5])
    if high - low <= HISTOGRAM_BINS and bool(np.all(values == np.round(values))):
        # Small whole numbers (counts, ratings): one bar per value, centred on it.
        return np.arange(low - 0.5, high + 1.5)
    bins = max(1, min(HISTOGRAM_BINS, int(np.sqrt(len(values)))))
    return np.linspace(low, high, bins + 1)


def _as_datetimes(series: pd.Series) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(series.dtype):
        return series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": parsing each is fine here
        return pd.to_datetime(series, errors="coerce", format="mixed")


def _period(first: pd.Timestamp, last: pd.Timestamp) -> tuple[str, str]:
    """The finest resampling rule (and its unit's name) giving at most MAX_TIME_BINS bars."""
    span = last - first
    for rule, unit, length in TIME_PERIODS:
        if span / length <= MAX_TIME_BINS:
            return rule, unit
    return TIME_PERIODS[-1][:2]


def _varies(series: pd.Series) -> bool:
    """A numeric (non-boolean) column with at least two distinct finite values."""
    if not is_real_number_dtype(series.dtype):
        return False
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    finite = values[np.isfinite(values)]
    return len(finite) > 1 and bool(finite.min() < finite.max())
