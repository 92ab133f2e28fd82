"""Profiling: roles, statistics, alerts and the JSON contract, on small frames made for each."""

from __future__ import annotations

import json
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.data.profile import (
    ALERT_KINDS,
    ROLES,
    Alert,
    Profile,
    correlation_matrix,
    infer_role,
    profile_frame,
    suggest_target,
)
from core.i18n import catalog_for

N = 200
RNG = np.random.default_rng(7)


def clean_frame(rows: int = N) -> pd.DataFrame:
    """A table that should raise no alert at all."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50_000, 8_000, rows),
            "height": rng.normal(170, 10, rows),
            "city": rng.choice(["Paris", "Lagos", "Lima", "Pune"], rows),
            "member": rng.choice(["yes", "no"], rows),
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), "D"),
        }
    )


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "role"),
    [
        (RNG.normal(size=N), "numeric"),
        (RNG.integers(0, 1_000, N).astype(float) / 7, "numeric"),
        (RNG.integers(18, 90, N), "numeric"),
        (RNG.normal(size=N).round(3).astype(str), "numeric"),  # numbers read as strings
        (RNG.choice(["red", "green", "blue"], N), "categorical"),
        (RNG.integers(1, 6, N), "categorical"),  # a 1-5 rating
        (pd.Categorical(RNG.choice(["a", "b", "c"], N)), "categorical"),
        (RNG.random(N) < 0.5, "boolean"),
        (RNG.integers(0, 2, N), "boolean"),
        (RNG.choice(["Yes", "No"], N), "boolean"),
        (RNG.choice(["true", "false", None], N), "boolean"),
        (RNG.choice(["是", "否"], N), "boolean"),
        (pd.date_range("2021-01-01", periods=N, freq="h"), "datetime"),
        (pd.date_range("2021-01-01", periods=N, freq="D").strftime("%Y-%m-%d"), "datetime"),
        (pd.date_range("2021-01-01", periods=N, freq="D").strftime("%d/%m/%Y"), "datetime"),
        ([date(2021, 1, 1 + i % 28) for i in range(N)], "datetime"),
        (np.arange(N), "identifier"),
        ([f"{value:032x}" for value in RNG.integers(0, 2**62, N)], "identifier"),
        ([f"user-{i:05d}" for i in range(N)], "identifier"),
        ([f"A review of item {i}, which was fine." for i in range(N)], "text"),
        (np.full(N, 3.5), "constant"),
        (["only"] * N, "constant"),
        ([None] * N, "constant"),
    ],
)
def test_infer_role(values: object, role: str) -> None:
    assert infer_role(pd.Series(values, name="column")) == role


def test_random_digit_identifiers_are_identifiers_not_numbers() -> None:
    digits = RNG.integers(10**9, 10**10, N)
    assert infer_role(pd.Series(digits, name="account")) == "identifier"
    # As text, with leading zeros: still an identifier.
    padded = pd.Series([f"{value:012d}" for value in digits], name="account", dtype="str")
    assert infer_role(padded) == "identifier"


def test_wide_range_integer_measurements_are_not_identifiers() -> None:
    income = pd.Series(RNG.integers(1_000, 200_000, 3_000), name="income")
    assert income.nunique() > 0.99 * len(income)
    assert infer_role(income) == "numeric"
    assert infer_role(income.rename("income_id")) == "identifier"
    assert infer_role(pd.Series(RNG.permutation(3_000) + 500, name="n")) == "identifier"


def test_small_frames_and_float_measurements_are_not_identifiers() -> None:
    assert infer_role(pd.Series([3, 1, 4, 5, 9], name="x")) == "numeric"
    assert infer_role(pd.Series([3, 1, 4, 5, 9], name="user_id")) == "identifier"
    assert infer_role(pd.Series(RNG.normal(size=N), name="reading")) == "numeric"
    assert infer_role(pd.Series(["Paris", "Rome", "Oslo"], name="city")) == "categorical"


def test_every_role_is_known() -> None:
    profile = profile_frame(clean_frame())
    assert {column.role for column in profile.columns} <= set(ROLES)


def test_numeric_stats_match_pandas_and_drop_infinities() -> None:
    values = pd.Series(RNG.normal(size=N))
    values[[3, 4]] = [np.inf, -np.inf]
    values[5] = np.nan
    values[6] = 0.0
    column = profile_frame(values.to_frame("x")).column("x")
    finite = values[np.isfinite(values)]
    assert column.stats["infinities"] == 2
    assert column.stats["zeros"] == 1
    assert column.missing == 1
    assert column.unique == values.nunique()
    for key, expected in {
        "mean": finite.mean(),
        "std": finite.std(),
        "min": finite.min(),
        "p25": finite.quantile(0.25),
        "median": finite.median(),
        "p75": finite.quantile(0.75),
        "max": finite.max(),
    }.items():
        assert column.stats[key] == pytest.approx(expected), key


def test_stats_agree_whether_values_are_few_many_or_sorted() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "few": rng.integers(0, 5, 5_000).astype(float),
            "many": rng.normal(size=5_000),
            "sorted": np.sort(rng.normal(size=5_000)),
            "ints": rng.integers(-50, 200, 5_000),
            "quarters": rng.integers(0, 300, 5_000) / 4,
        }
    )
    profile = profile_frame(frame)
    for name in ("many", "sorted", "ints", "quarters"):
        series, stats = frame[name], profile.column(name).stats
        assert profile.column(name).unique == series.nunique()
        assert stats["median"] == pytest.approx(series.median())
        assert stats["p25"] == pytest.approx(series.quantile(0.25))
        assert stats["p75"] == pytest.approx(series.quantile(0.75))
        assert stats["mean"] == pytest.approx(series.mean())
        assert stats["std"] == pytest.approx(series.std())
        assert stats["zeros"] == int((series == 0).sum())
    # Five whole numbers that repeat are a code, described by their most common value.
    assert profile.column("few").role == "categorical"
    assert profile.column("few").unique == 5


def test_column_level_counts_and_categorical_stats() -> None:
    frame = pd.DataFrame({"colour": ["red", "red", "blue", None, "red", "green"] * 20})
    column = profile_frame(frame).column("colour")
    assert (column.role, column.missing, column.unique) == ("categorical", 20, 3)
    assert column.missing_share == pytest.approx(20 / 120)
    assert column.stats == {"top": "red", "top_count": 60}


def test_text_has_mean_length() -> None:
    sentences = pd.Series([f"Sentence number {i} is here." for i in range(N)], name="note")
    column = profile_frame(sentences.to_frame()).column("note")
    assert column.role == "text"
    assert column.stats["mean_length"] == pytest.approx(sentences.str.len().mean())


def test_datetime_stats_are_iso_text() -> None:
    frame = pd.DataFrame({"when": pd.date_range("2020-03-01", periods=10, freq="D")})
    assert profile_frame(frame).column("when").stats == {
        "min": "2020-03-01T00:00:00",
        "max": "2020-03-10T00:00:00",
    }


def test_unusual_dtypes_profile_cleanly() -> None:
    frame = pd.DataFrame(
        {
            "month": pd.period_range("2020-01", periods=60, freq="M"),
            "local": pd.date_range("2020-01-01", periods=60, tz="Asia/Shanghai"),
            "arrow_day": pd.Series(
                pd.date_range("2020-01-01", periods=60).date, dtype="date32[pyarrow]"
            ),
            "nullable": pd.array([*(np.arange(59) / 3), None], dtype="Float64"),
            "flag": pd.array([True, False, None] * 20, dtype="boolean"),
            "waited": pd.to_timedelta(np.arange(60) * 7.5, unit="s"),
            "word": pd.Series(["a", "b", None] * 20, dtype=pd.StringDtype("python")),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profile = profile_frame(frame)
    roles = {column.name: column.role for column in profile.columns}
    assert roles == {
        "month": "datetime",
        "local": "datetime",
        "arrow_day": "datetime",
        "nullable": "numeric",
        "flag": "boolean",
        "waited": "numeric",
        "word": "categorical",
    }
    assert profile.column("arrow_day").stats["min"] == "2020-01-01T00:00:00"
    assert profile.column("local").stats["min"] == "2020-01-01T00:00:00+08:00"
    json.dumps(profile.to_dict(), allow_nan=False)


def test_python_objects_mixed_with_text_still_profile() -> None:
    frame = pd.DataFrame(
        {
            "objects": pd.Series([1, "two", 3.0, None, [4]] * 10, dtype=object),
            "numbers": pd.Series([1, 2.5, None] * 10, dtype=object),
        }
    )
    profile = profile_frame(frame)
    assert profile.column("numbers").role == "numeric"
    assert profile.column("objects").unique == 4
    json.dumps(profile.to_dict(), allow_nan=False)


# --- alerts ---------------------------------------------------------------------------------


def alert_kinds(frame: pd.DataFrame) -> dict[str, list[Alert]]:
    found: dict[str, list[Alert]] = {}
    for alert in profile_frame(frame).alerts:
        found.setdefault(alert.kind, []).append(alert)
    return found


def test_clean_frame_raises_no_alert() -> None:
    assert profile_frame(clean_frame()).alerts == ()


def test_constant_alert() -> None:
    frame = clean_frame().assign(country="FR")
    [alert] = alert_kinds(frame)["constant"]
    assert alert.columns == ("country",)


def test_many_missing_alert() -> None:
    frame = clean_frame()
    frame.loc[frame.index[:84], "income"] = np.nan  # 42%
    [alert] = alert_kinds(frame)["many_missing"]
    assert alert.columns == ("income",)
    assert alert.params["share"] == pytest.approx(0.42)
    assert "42%" in alert.message.text("en")


def test_missing_at_thirty_percent_is_not_many() -> None:
    frame = clean_frame()
    frame.loc[frame.index[:60], "income"] = np.nan  # exactly 30%
    assert "many_missing" not in alert_kinds(frame)


def test_identifier_alert() -> None:
    frame = clean_frame().assign(customer_id=np.arange(N) + 10_000)
    [alert] = alert_kinds(frame)["identifier"]
    assert alert.columns == ("customer_id",)
    assert alert.params == {"unique": N}


def test_duplicate_rows_alert() -> None:
    frame = clean_frame()
    frame = pd.concat([frame, frame.iloc[:17]], ignore_index=True)
    profile = profile_frame(frame)
    assert profile.duplicate_rows == 17
    [alert] = [alert for alert in profile.alerts if alert.kind == "duplicate_rows"]
    assert alert.params["count"] == 17
    assert alert.columns == ()


def test_duplicate_rows_count_missing_as_equal_and_need_every_column() -> None:
    frame = pd.DataFrame({"a": [1, 1, 1, None, None], "b": ["x", "x", "y", None, None]})
    assert profile_frame(frame).duplicate_rows == 2
    assert profile_frame(frame.assign(c=range(5))).duplicate_rows == 0


def test_near_duplicate_columns_alert() -> None:
    frame = clean_frame()
    frame["height_in"] = frame["height"] / 2.54 + RNG.normal(0, 0.01, N)
    frame["mirror"] = -frame["income"]
    pairs = {
        alert.columns: alert.params["r"] for alert in alert_kinds(frame)["near_duplicate_columns"]
    }
    assert pairs.keys() == {("height", "height_in"), ("income", "mirror")}
    assert pairs[("height", "height_in")] > 0.95
    assert pairs[("income", "mirror")] == pytest.approx(-1)


def test_infinities_alert() -> None:
    frame = clean_frame()
    frame.loc[frame.index[:3], "income"] = np.inf
    [alert] = alert_kinds(frame)["infinities"]
    assert (alert.columns, alert.params) == (("income",), {"count": 3})


def test_mixed_types_alert() -> None:
    words = ["n/a", "unknown", "about 12", "-"]
    values = [str(i) if i % 2 else words[i % 4 // 2 * 2] for i in range(N)]
    frame = clean_frame().assign(weight=values)
    [alert] = alert_kinds(frame)["mixed_types"]
    assert alert.columns == ("weight",)
    assert 0.05 <= alert.params["share"] <= 0.95
    assert profile_frame(frame).column("weight").mixed_types


def test_mostly_numbers_with_one_marker_is_numeric_not_mixed() -> None:
    values = pd.Series([f"{i / 3:.2f}" for i in range(N - 2)] + ["n/a", "n/a"], name="v")
    column = profile_frame(values.to_frame()).column("v")
    assert (column.role, column.mixed_types) == ("numeric", False)
    assert column.stats["infinities"] == 0  # the markers are not numbers, nor infinite ones
    assert column.stats["max"] == pytest.approx((N - 3) / 3, abs=0.01)


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_alert_messages_name_the_columns_in_both_languages(kind: str) -> None:
    params = {"share": 0.42, "count": 17, "r": 0.98, "unique": 100, "value": 1, "per": 5.5}
    alert = Alert(kind, ("<b>a</b>", "b"), params)
    for lang in ("en", "zh"):
        text = alert.message.text(lang)
        assert not text.startswith("profile."), text
        if kind != "duplicate_rows":
            assert "<b>a</b>" in text
        assert not alert.why.text(lang).startswith("profile.")


# --- contract -------------------------------------------------------------------------------


def test_to_dict_is_the_cli_contract_and_json_safe() -> None:
    frame = clean_frame()
    frame.loc[frame.index[:100], "income"] = np.nan
    frame.loc[frame.index[:2], "height"] = np.inf
    frame["empty"] = np.nan
    data = profile_frame(frame).to_dict()
    text = json.dumps(data, allow_nan=False)  # no NaN or inf anywhere
    assert json.loads(text) == data
    assert {"rows", "columns", "alerts"} <= data.keys()
    assert data.keys() <= {"rows", "columns", "alerts", "memory_bytes", "duplicate_rows"}
    assert isinstance(data["rows"], int)
    for column in data["columns"]:
        assert {"name", "dtype", "role", "missing", "unique"} <= column.keys()
        assert column["role"] in ROLES
        assert isinstance(column["missing"], int) and isinstance(column["unique"], int)
    for alert in data["alerts"]:
        assert alert.keys() == {"kind", "columns", "params"}
        assert alert["kind"] in ALERT_KINDS
    height = next(column for column in data["columns"] if column["name"] == "height")
    assert height["stats"]["infinities"] == 2
    assert data["columns"][-1]["role"] == "constant"  # the all-missing column


def test_html_and_markdown_column_names_survive() -> None:
    names = ["<b>x</b>", "**y**", "a & b", "<script>alert(1)</script>"]
    frame = pd.DataFrame({name: RNG.normal(size=N) for name in names})
    profile = profile_frame(frame)
    assert [column.name for column in profile.columns] == names
    assert profile.column("<b>x</b>").role == "numeric"
    assert [column["name"] for column in profile.to_dict()["columns"]] == names


def test_profile_summary_fields() -> None:
    frame = clean_frame()
    profile = profile_frame(frame)
    assert isinstance(profile, Profile)
    assert profile.rows == N
    assert profile.memory_bytes == frame.memory_usage(deep=True).sum()
    assert profile.duplicate_rows == 0
    with pytest.raises(KeyError):
        profile.column("nope")


def test_empty_frames() -> None:
    assert profile_frame(pd.DataFrame()).to_dict()["columns"] == []
    profile = profile_frame(pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    assert profile.rows == 0
    assert profile.column("a").role == "constant"
    json.dumps(profile.to_dict(), allow_nan=False)


def test_suggest_target_is_last_usable_column() -> None:
    frame = clean_frame().assign(notes=[f"free text number {i} here" for i in range(N)])
    assert suggest_target(profile_frame(frame)) == "member"
    ids_only = pd.DataFrame({"id": np.arange(N), "when": pd.date_range("2020", periods=N)})
    assert suggest_target(profile_frame(ids_only)) is None


def test_correlation_matrix_is_pearson_on_numeric_columns() -> None:
    frame = clean_frame()
    matrix = correlation_matrix(frame)
    assert list(matrix.columns) == ["age", "income", "height"]
    expected = frame[["age", "income", "height"]].corr()
    np.testing.assert_allclose(matrix.to_numpy(), expected.to_numpy())


# --- catalog --------------------------------------------------------------------------------


def test_catalog_keys_match_in_english_and_chinese() -> None:
    english = {key for key in catalog_for("en") if key.startswith("profile.")}
    chinese = {key for key in catalog_for("zh") if key.startswith("profile.")}
    assert english == chinese
    for role in ROLES:
        assert f"profile.role.{role}" in english
    for kind in ALERT_KINDS:
        assert {f"profile.alert.{kind}", f"profile.why.{kind}"} <= english
    stats = {"mean", "std", "min", "p25", "median", "p75", "max", "infinities", "zeros", "top"}
    assert {f"profile.stat.{name}" for name in stats} <= english
