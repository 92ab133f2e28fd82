"""Chart builders: figure kinds, escaping of column names, languages, and the no-chart cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from core.data.figures import TOP_VALUES, correlation_figure, distribution_figure

RNG = np.random.default_rng(11)
N = 500


def title(figure: go.Figure) -> str:
    return figure.layout.title.text


def test_numeric_histogram_drops_infinities_and_counts_every_finite_value() -> None:
    values = pd.Series(RNG.normal(size=N), name="x")
    values[:5] = [np.inf, -np.inf, np.nan, np.inf, np.nan]
    figure = distribution_figure(values, "numeric")
    [bars] = figure.data
    assert bars.type == "bar"
    assert sum(bars.y) == N - 5
    assert np.isfinite(np.asarray(bars.x, dtype=float)).all()


def test_small_whole_numbers_get_one_bar_per_value() -> None:
    figure = distribution_figure(pd.Series(RNG.integers(0, 6, N), name="visits"), "numeric")
    assert sorted(figure.data[0].x) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("role", ["categorical", "boolean", "identifier", "text", "constant"])
def test_value_roles_draw_top_value_bars(role: str) -> None:
    series = pd.Series(RNG.choice([f"v{i}" for i in range(30)], N), name="code")
    figure = distribution_figure(series, role)
    [bars] = figure.data
    assert (bars.type, bars.orientation) == ("bar", "h")
    assert len(bars.y) == TOP_VALUES
    assert list(bars.x) == sorted(bars.x, reverse=True)
    assert figure.layout.yaxis.type == "category"  # "1", "2020" stay labels
    assert str(TOP_VALUES) in title(figure)


def test_datetime_draws_counts_over_time() -> None:
    times = pd.Series(pd.date_range("2020-01-01", periods=N, freq="D"), name="when")
    figure = distribution_figure(times, "datetime")
    [bars] = figure.data
    assert bars.type == "bar"
    assert sum(bars.y) == N
    assert "week" in figure.layout.yaxis.title.text  # 500 days: about 70 weekly bars


def test_datetime_strings_are_parsed() -> None:
    times = pd.Series(pd.date_range("2020-01-01", periods=48, freq="h").astype(str), name="t")
    figure = distribution_figure(times, "datetime")
    assert sum(figure.data[0].y) == 48


def test_no_values_gives_an_empty_figure_with_a_note() -> None:
    figure = distribution_figure(pd.Series([np.nan, np.inf], name="x"), "numeric")
    assert figure.data == ()
    assert figure.layout.annotations[0].text == "No values to plot"


def test_column_names_and_labels_are_html_escaped() -> None:
    series = pd.Series(RNG.normal(size=N), name="<b>x</b> & **y**")
    figure = distribution_figure(series, "numeric")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; **y**" in title(figure)
    assert "<b>" not in title(figure)
    assert "<b>" not in figure.layout.xaxis.title.text

    labels = pd.Series(["<i>a</i>", "<a href='x'>b</a>"] * 10, name="<u>c</u>")
    bars = distribution_figure(labels, "categorical")
    spec = json.dumps(bars.to_plotly_json()["data"]) + str(bars.layout.yaxis.title.text)
    assert "<i>" not in spec and "<a " not in spec and "<u>" not in spec
    assert "&lt;i&gt;a&lt;/i&gt;" in bars.data[0].y


def test_titles_follow_the_language() -> None:
    series = pd.Series(RNG.normal(size=N), name="x")
    english = distribution_figure(series, "numeric", "en")
    chinese = distribution_figure(series, "numeric", "zh")
    assert title(english) != title(chinese)
    assert "x" in title(chinese)
    frame = pd.DataFrame({"a": RNG.normal(size=N), "b": RNG.normal(size=N)})
    assert title(correlation_figure(frame, "en")) != title(correlation_figure(frame, "zh"))


def test_correlation_heatmap_is_pearson_on_numeric_columns() -> None:
    a = RNG.normal(size=N)
    frame = pd.DataFrame(
        {
            "a": a,
            "b": -a + RNG.normal(0, 0.1, N),
            "c": RNG.normal(size=N),
            "city": RNG.choice(["x", "y"], N),
            "flag": RNG.random(N) < 0.5,
            "constant": 1.0,
        }
    )
    figure = correlation_figure(frame)
    [heatmap] = figure.data
    assert heatmap.type == "heatmap"
    assert list(heatmap.x) == ["a", "b", "c"]
    assert (heatmap.zmin, heatmap.zmax) == (-1, 1)
    z = np.array(heatmap.z, dtype=float)
    expected = frame[["a", "b", "c"]].corr().to_numpy()
    np.testing.assert_allclose(z, expected, atol=1e-4)


def test_correlation_heatmap_escapes_names_and_caps_columns() -> None:
    frame = pd.DataFrame({f"<b>{i}</b>": RNG.normal(size=N) for i in range(40)})
    figure = correlation_figure(frame, max_columns=30)
    [heatmap] = figure.data
    assert len(heatmap.x) == 30
    assert heatmap.x[0] == "&lt;b&gt;0&lt;/b&gt;"
    json.dumps(figure.to_plotly_json(), default=str)


def test_correlation_heatmap_needs_two_numeric_columns() -> None:
    assert correlation_figure(pd.DataFrame({"a": RNG.normal(size=N)})) is None
    assert correlation_figure(pd.DataFrame({"a": [1.0] * 5, "b": [1.0, 2, 3, 4, 5]})) is None
    assert correlation_figure(pd.DataFrame({"s": ["x"] * 5, "t": ["y"] * 5})) is None
    assert correlation_figure(pd.DataFrame()) is None
