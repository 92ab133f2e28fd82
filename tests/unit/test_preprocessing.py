"""Preprocessing: task detection, the plan's defaults, leak-free splits and a portable pipeline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.profile import profile_frame
from core.i18n import LANGUAGES, Message, UserError, catalog_for
from core.prep.preprocessing import (
    ColumnPlan,
    Preprocessor,
    PreprocessSpec,
    default_spec,
    detect_task,
    plan_warnings,
    prepare_source,
    preview,
    split_frame,
    split_summary,
)

ROOT = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------


def people(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """A small mixed table: numbers with gaps, categories, a date, an id, a constant, free text."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, rows).round(1)
    age[::10] = np.nan
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + rows),
            "age": age,
            "income": rng.lognormal(10, 0.5, rows).round(0),
            "city": rng.choice(["Paris", "Rome", "Oslo", "Lima"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "member": rng.choice([True, False], rows),
            "joined": pd.date_range("2020-01-01 08:00", periods=rows, freq="37h").astype(str),
            "country": "FR",
            "note": [f"customer wrote a long note number {i} about things" for i in range(rows)],
            "bought": rng.choice(["yes", "no"], rows),
        }
    )


def fitted(frame: pd.DataFrame, *plans: ColumnPlan, task: str = "regression", target: str = "y"):
    """A Preprocessor for `plans`, fitted on the whole frame (no split needed to test a step)."""
    spec = PreprocessSpec(target=target, task=task, columns=plans)
    return Preprocessor(spec).fit(frame, frame.get(target))


def numbers(values, **plan) -> tuple[Preprocessor, np.ndarray]:
    frame = pd.DataFrame({"x": values, "y": np.arange(len(values), dtype=float)})
    preprocessor = fitted(frame, ColumnPlan("x", **plan))
    return preprocessor, preprocessor.transform(frame)


def categories(values, **plan) -> Preprocessor:
    frame = pd.DataFrame({"c": values, "y": np.arange(len(values), dtype=float)})
    defaults = {"kind": "categorical", "impute": "most_frequent", "scale": "none"}
    return fitted(frame, ColumnPlan("c", **{**defaults, **plan}))


# --- task detection ----------------------------------------------------------------------------


def test_floats_with_many_values_are_regression():
    info = detect_task(pd.Series(np.linspace(0, 1, 50), name="price"))
    assert info.task == "regression"
    assert info.classes == ()
    assert info.reason.key == "preprocess.task.reason.numeric"


def test_text_labels_are_binary_or_multiclass():
    two = detect_task(pd.Series(["yes", "no", "yes", None], name="bought"))
    three = detect_task(pd.Series(["a", "b", "c", "a"], name="kind"))
    assert (two.task, two.classes) == ("binary", ("no", "yes"))
    assert (three.task, three.classes) == ("multiclass", ("a", "b", "c"))
    assert three.reason.key == "preprocess.task.reason.labels"


def test_booleans_are_binary():
    info = detect_task(pd.Series([True, False, True], name="churned"))
    assert (info.task, info.classes) == ("binary", ("False", "True"))
    assert info.reason.key == "preprocess.task.reason.boolean"


def test_up_to_twenty_whole_number_levels_are_classes_more_are_regression():
    twenty = pd.Series(np.arange(200) % 20, name="grade")
    assert detect_task(twenty).task == "multiclass"
    assert detect_task(pd.Series(np.arange(200) % 21)).task == "regression"
    # An integer column with a gap reads as floats; its classes are still whole numbers.
    holed = pd.Series([0, 1, None, 1, 0], name="label", dtype="float64")
    assert detect_task(holed).classes == ("0", "1")
    assert detect_task(pd.Series([0.5, 1.5, 0.5])).task == "regression"


def test_single_class_and_empty_targets_are_errors():
    with pytest.raises(UserError) as error:
        detect_task(pd.Series(["yes", "yes", None], name="bought"))
    assert error.value.message.key == "preprocess.error.single_class"
    assert "bought" in str(error.value)
    with pytest.raises(UserError, match="no values"):
        detect_task(pd.Series([None, None], name="empty", dtype=object))


# --- defaults ----------------------------------------------------------------------------------


def test_defaults_drop_identifier_constant_text_and_all_missing_columns():
    frame = people().assign(blank=np.nan)
    spec = default_spec(frame, "bought")
    assert spec.task == "binary"
    dropped = {plan.name: plan.reason.key for plan in spec.columns if plan.action == "drop"}
    assert dropped == {
        "customer_id": "preprocess.reason.identifier",
        "country": "preprocess.reason.constant",
        "note": "preprocess.reason.text",
        "blank": "preprocess.reason.all_missing",
    }
    assert "bought" not in [plan.name for plan in spec.columns]


def test_defaults_per_kind_with_reasons():
    frame = people()
    spec = default_spec(frame, "bought")
    assert default_spec(frame, "bought", profile=profile_frame(frame)) == spec
    age, income, city = spec.column("age"), spec.column("income"), spec.column("city")
    assert (age.kind, age.impute, age.add_indicator, age.scale) == (
        "numeric",
        "median",
        True,
        "standard",
    )
    assert age.reason.key == "preprocess.reason.numeric_missing"
    assert (income.add_indicator, income.reason.key) == (False, "preprocess.reason.numeric")
    assert (city.kind, city.impute, city.encoding, city.max_categories) == (
        "categorical",
        "most_frequent",
        "onehot",
        20,
    )
    assert spec.column("member").reason.key == "preprocess.reason.boolean"
    joined = spec.column("joined")
    assert joined.kind == "datetime"
    assert joined.datetime_parts == ("year", "month", "dayofweek", "hour")  # times vary
    for plan in spec.columns:
        assert plan.reason.text("en") != plan.reason.key
        assert plan.reason.text("zh") != plan.reason.text("en")


def test_a_column_that_gives_the_target_away_is_dropped_as_leakage():
    frame = people()
    frame["refund_issued"] = frame["bought"].map({"yes": "Y", "no": "N"})
    spec = default_spec(frame, "bought")
    leak = spec.column("refund_issued")
    assert (leak.action, leak.reason.key) == ("drop", "preprocess.reason.leakage")
    assert spec.column("age").action == "keep"
    assert not any(w.key == "preprocess.warning.leakage" for w in plan_warnings(frame, spec))
    kept = replace(
        spec, columns=tuple(replace(p, action="keep") if p is leak else p for p in spec.columns)
    )
    warnings = [w for w in plan_warnings(frame, kept) if w.key == "preprocess.warning.leakage"]
    assert [w.params["column"] for w in warnings] == ["refund_issued"]


def test_regression_leak_is_a_near_copy_of_the_target():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=300), "z": rng.normal(size=300)})
    frame["y"] = 3 * frame["x"] + rng.normal(size=300)
    frame["y_in_cents"] = frame["y"] * 100 + rng.normal(scale=0.01, size=300)
    spec = default_spec(frame, "y")
    assert spec.column("y_in_cents").action == "drop"
    assert spec.column("x").action == "keep"


def test_a_clean_line_keeps_its_only_feature():
    x = np.linspace(0, 10, 100)
    frame = pd.DataFrame({"x": x, "y": 2 * x + 1})
    spec = default_spec(frame, "y")
    assert spec.column("x").action == "keep"  # never drop every feature as "leaky"
    assert [w.key for w in plan_warnings(frame, spec)] == ["preprocess.warning.leakage"]


def test_task_can_be_overridden():
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40) % 3})
    assert default_spec(frame, "y").task == "multiclass"
    assert default_spec(frame, "y", task="regression").task == "regression"
    with pytest.raises(UserError):
        default_spec(frame, "y", task="clustering")
    with pytest.raises(UserError, match="isn't in this table"):
        default_spec(frame, "nope")


@pytest.mark.parametrize(
    ("sample", "task"),
    [("iris", "multiclass"), ("diabetes", "regression"), ("breast_cancer", "binary")],
)
def test_built_in_samples_go_to_splits_without_touching_a_default(sample, task):
    from core.data.loading import load_sample

    dataset = load_sample(sample)
    frame, target = dataset.frame, dataset.target_suggestion
    spec = default_spec(frame, target)
    assert spec.task == task
    splits = split_frame(frame, spec)
    preprocessor = Preprocessor(spec).fit(splits.X_train, splits.y_train)
    X_val = preprocessor.transform(splits.X_val)
    assert X_val.dtype == np.float32
    assert X_val.shape == (len(splits.y_val), len(preprocessor.feature_names_))
    assert np.isfinite(X_val).all()
    assert len(splits.y_train) + len(splits.y_val) + len(splits.y_test) == len(frame)


# --- column actions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impute", "fill", "expected"),
    [
        ("mean", None, 4.0),
        ("median", None, 2.0),
        ("most_frequent", None, 1.0),
        ("constant", -1, -1.0),
    ],
)
def test_numeric_imputation(impute, fill, expected):
    preprocessor, out = numbers(
        [1.0, 1.0, 2.0, 3.0, 13.0, np.nan], impute=impute, fill_value=fill, scale="none"
    )
    assert preprocessor.feature_names_ == ["x"]
    assert out[-1, 0] == expected


def test_missing_indicator_adds_a_column():
    preprocessor, out = numbers([1.0, np.nan, 3.0], add_indicator=True, scale="none")
    assert preprocessor.feature_names_ == ["x", "x_missing"]
    np.testing.assert_array_equal(out, [[1, 0], [2, 1], [3, 0]])


@pytest.mark.parametrize(
    ("scale", "check"),
    [
        ("standard", lambda v: np.isclose(v.mean(), 0, atol=1e-6) and np.isclose(v.std(), 1)),
        ("minmax", lambda v: v.min() == 0 and v.max() == 1),
        ("robust", lambda v: np.isclose(np.median(v), 0)),
        ("none", lambda v: np.array_equal(v, [1, 2, 3, 4, 100])),
    ],
)
def test_each_scaler(scale, check):
    _, out = numbers([1.0, 2.0, 3.0, 4.0, 100.0], scale=scale)
    assert check(out[:, 0].astype(np.float64))


def test_clip_at_quantiles_learned_from_fitted_rows():
    train = pd.DataFrame({"x": np.arange(101.0), "y": np.arange(101.0)})
    preprocessor = fitted(train, ColumnPlan("x", scale="none", clip=(0.1, 0.9)))
    assert preprocessor.clip_bounds_ == {"x": [10.0, 90.0]}
    out = preprocessor.transform(pd.DataFrame({"x": [-1e9, 50.0, 1e9]}))
    np.testing.assert_array_equal(out[:, 0], [10.0, 50.0, 90.0])


def test_onehot_caps_categories_and_pools_rare_ones_into_other():
    values = ["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 3 + ["e"] * 2
    rare = categories(values, min_frequency=0.05)
    assert rare.feature_names_ == ["c_a", "c_b", "c_c", "c_other"]
    capped = categories(values, max_categories=3, min_frequency=0.0)
    assert capped.feature_names_ == ["c_a", "c_b", "c_other"]
    out = rare.transform(pd.DataFrame({"c": ["d", "a", "zebra"]}))
    np.testing.assert_array_equal(out, [[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 0, 1]])


def test_unseen_categories_never_crash():
    preprocessor = categories(["red", "blue"] * 10, min_frequency=0.0)
    assert preprocessor.feature_names_ == ["c_blue", "c_red"]
    out = preprocessor.transform(pd.DataFrame({"c": ["green", "red", None]}))
    # No rare bucket was learned, so an unseen value is "none of the known ones".
    np.testing.assert_array_equal(out, [[0, 0], [0, 1], [1, 0]])


def test_categories_read_the_same_whether_numbers_or_text():
    preprocessor = categories([1, 2, 2, 3] * 5, min_frequency=0.0)
    assert preprocessor.feature_names_ == ["c_1", "c_2", "c_3"]
    out = preprocessor.transform(pd.DataFrame({"c": ["2", 2.0, 3]}))
    np.testing.assert_array_equal(out, [[0, 1, 0], [0, 1, 0], [0, 0, 1]])


def test_ordinal_encoding_with_unknown_as_minus_one():
    preprocessor = categories(
        ["low", "mid", "high", "mid"] * 5, encoding="ordinal", min_frequency=0.0
    )
    assert preprocessor.feature_names_ == ["c"]
    out = preprocessor.transform(pd.DataFrame({"c": ["high", "low", "mid", "never seen"]}))
    np.testing.assert_array_equal(out[:, 0], [0, 1, 2, -1])


def test_categorical_constant_fill_and_indicator():
    preprocessor = categories(
        ["a", None, "b", "a"],
        impute="constant",
        fill_value="unknown",
        add_indicator=True,
        min_frequency=0.0,
    )
    assert preprocessor.feature_names_ == ["c_a", "c_b", "c_unknown", "c_missing"]


def test_datetime_parts():
    frame = pd.DataFrame(
        {"when": ["2024-03-15 13:30", "2023-12-31 02:00", None], "y": [1.0, 2.0, 3.0]}
    )
    plan = ColumnPlan(
        "when", kind="datetime", scale="none", datetime_parts=("year", "month", "dayofweek", "hour")
    )
    preprocessor = fitted(frame, plan)
    assert preprocessor.feature_names_ == ["when_year", "when_month", "when_dayofweek", "when_hour"]
    out = preprocessor.transform(frame.iloc[:2])
    np.testing.assert_array_equal(out, [[2024, 3, 4, 13], [2023, 12, 6, 2]])


def test_dropped_columns_are_not_features_and_not_required():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "y": [0.0, 1.0]})
    preprocessor = fitted(frame, ColumnPlan("a"), ColumnPlan("b", action="drop"))
    assert preprocessor.feature_names_ == ["a"]
    assert preprocessor.transform(frame[["a"]]).shape == (2, 1)


def test_plan_values_are_checked():
    with pytest.raises(UserError, match=r"age\.scale"):
        ColumnPlan("age", scale="log")
    with pytest.raises(UserError):
        ColumnPlan("city", kind="categorical", impute="mean")
    with pytest.raises(UserError):
        ColumnPlan("age", clip=(0.9, 0.1))
    with pytest.raises(UserError):
        ColumnPlan("when", kind="datetime", datetime_parts=())
    with pytest.raises(UserError, match=r"0\.9"):
        PreprocessSpec(target="y", task="regression", columns=(), val_share=0.5, test_share=0.5)


# --- spec as JSON ------------------------------------------------------------------------------


def test_spec_round_trips_through_json_exactly():
    spec = default_spec(people(), "bought")
    spec = replace(
        spec,
        seed=7,
        val_share=0.2,
        columns=(
            *spec.columns,
            ColumnPlan("extra", clip=(0.01, 0.99), impute="constant", fill_value=0, scale="robust"),
        ),
    )
    text = spec.to_json()
    again = PreprocessSpec.from_json(text)
    assert again == spec
    assert again.to_json() == text
    assert PreprocessSpec.from_json(text.encode("utf-8")) == spec


def spec_text(**changes: object) -> str:
    """A minimal spec's JSON with some fields changed (None removes one)."""
    data = {"target": "y", "task": "binary", "columns": [], **changes}
    return json.dumps({key: value for key, value in data.items() if value is not None})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("{not json", "preprocess.error.spec_not_json"),
        ("[1, 2]", "preprocess.error.spec_not_object"),
        (spec_text(target=None), "preprocess.error.spec_field_missing"),
        (spec_text(colour=1), "preprocess.error.spec_unknown_field"),
        (spec_text(task="guess"), "preprocess.error.spec_field_invalid"),
        (spec_text(columns=[{"name": "a", "scale": 3}]), "preprocess.error.spec_field_invalid"),
        (
            spec_text(columns=[{"name": "a", "max_categories": "9"}]),
            "preprocess.error.spec_field_invalid",
        ),
        (spec_text(columns=[{"nme": "a"}]), "preprocess.error.spec_unknown_field"),
        (spec_text(columns=[{"name": "a"}, {"name": "a"}]), "preprocess.error.spec_field_invalid"),
        (
            spec_text(columns=[{"name": "a", "reason": "because"}]),
            "preprocess.error.spec_field_invalid",
        ),
        (spec_text(version=99), "preprocess.error.spec_version"),
        (spec_text(test_share=2), "preprocess.error.shares"),
    ],
)
def test_bad_spec_json_is_a_user_error(text, key):
    with pytest.raises(UserError) as error:
        PreprocessSpec.from_json(text)
    assert error.value.message.key == key
    assert error.value.text("zh") != error.value.text("en")


# --- splits ------------------------------------------------------------------------------------


def test_missing_target_rows_are_dropped_and_counted():
    frame = people()
    frame.loc[:9, "bought"] = None
    splits = split_frame(frame, default_spec(frame, "bought"))
    assert splits.dropped_missing_target == 10
    assert sum(len(y) for y in (splits.y_train, splits.y_val, splits.y_test)) == len(frame) - 10
    assert Message("preprocess.notice.missing_target_dropped", {"count": 10}) in splits.notices


def test_split_is_stratified_and_reproducible():
    frame = pd.DataFrame({"x": np.arange(1000.0), "y": ["rare"] * 100 + ["common"] * 900})
    spec = default_spec(frame, "y")
    splits = split_frame(frame, spec)
    for y in (splits.y_train, splits.y_val, splits.y_test):
        assert abs((y == "rare").mean() - 0.1) < 0.01
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (700, 150, 150)
    again = split_frame(frame, spec)
    assert again.X_test.index.equals(splits.X_test.index)
    other = split_frame(frame, replace(spec, seed=1))
    assert not other.X_test.index.equals(splits.X_test.index)


def test_a_class_too_small_to_stratify_falls_back_with_a_notice_and_is_trained_on():
    frame = pd.DataFrame({"x": np.arange(60.0), "y": ["a"] * 30 + ["b"] * 29 + ["c"]})
    splits = split_frame(frame, default_spec(frame, "y"))
    keys = [notice.key for notice in splits.notices]
    assert "preprocess.notice.stratify_fallback" in keys
    assert set(splits.y_train) == {"a", "b", "c"}  # a model can't learn a class it never sees


def test_split_errors():
    lonely = pd.DataFrame({"y": [1.0, 2.0]})
    with pytest.raises(UserError) as error:
        split_frame(lonely, PreprocessSpec(target="y", task="regression", columns=()))
    assert error.value.message.key == "preprocess.error.target_only_column"

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [None, None, None]})
    all_dropped = PreprocessSpec(
        target="y", task="regression", columns=(ColumnPlan("x", action="drop"),)
    )
    with pytest.raises(UserError) as error:
        split_frame(frame, all_dropped)
    assert error.value.message.key == "preprocess.error.no_features"
    with pytest.raises(UserError) as error:
        split_frame(frame, replace(all_dropped, columns=(ColumnPlan("x"),)))
    assert error.value.message.key == "preprocess.error.no_rows"

    one_class = pd.DataFrame({"x": np.arange(10.0), "y": ["a"] * 10})
    with pytest.raises(UserError, match="only one class"):
        split_frame(
            one_class, PreprocessSpec(target="y", task="binary", columns=(ColumnPlan("x"),))
        )
    three = pd.DataFrame({"x": np.arange(30.0), "y": ["a", "b", "c"] * 10})
    with pytest.raises(UserError) as error:
        split_frame(three, PreprocessSpec(target="y", task="binary", columns=(ColumnPlan("x"),)))
    assert error.value.message.key == "preprocess.error.binary_not_two"
    with pytest.raises(UserError) as error:
        split_frame(
            three, PreprocessSpec(target="y", task="regression", columns=(ColumnPlan("x"),))
        )
    assert error.value.message.key == "preprocess.error.regression_not_numeric"
    tiny = pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]})
    with pytest.raises(UserError, match="too few"):
        split_frame(tiny, PreprocessSpec(target="y", task="regression", columns=(ColumnPlan("x"),)))


def test_no_statistic_sees_validation_or_test_rows():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300), "y": rng.normal(size=300)}
    )
    frame.loc[::2, "x"] = np.nan
    spec = PreprocessSpec(
        target="y",
        task="regression",
        columns=(
            ColumnPlan("x", impute="mean", clip=(0.05, 0.95)),
            ColumnPlan(
                "c", kind="categorical", impute="most_frequent", scale="none", min_frequency=0.0
            ),
        ),
    )
    splits = split_frame(frame, spec)
    # Poison every held-out row: if any statistic saw them, it would be enormous or "poison".
    poisoned = frame.copy()
    held_out = splits.X_val.index.append(splits.X_test.index)
    poisoned.loc[held_out, "x"] = 1e9
    poisoned.loc[held_out, "c"] = "poison"
    poisoned_splits = split_frame(poisoned, spec)
    preprocessor = Preprocessor(spec).fit(poisoned_splits.X_train, poisoned_splits.y_train)
    train_x = splits.X_train["x"]
    steps = preprocessor.transformer_.named_transformers_
    assert steps["v0"].named_steps["impute"].statistics_[0] == pytest.approx(train_x.mean())
    low, high = train_x.quantile([0.05, 0.95])
    assert preprocessor.clip_bounds_["x"] == pytest.approx([low, high])
    scaler = steps["v0"].named_steps["scale"]
    assert abs(scaler.mean_[0]) < 1
    assert list(steps["v1"].named_steps["encode"].categories_[0]) == ["a", "b"]
    # Held-out rows are transformed with training statistics: clipped to the training bound.
    X_test = preprocessor.transform(poisoned_splits.X_test)
    assert X_test[:, 0].max() == pytest.approx(
        (high - scaler.mean_[0]) / scaler.scale_[0], rel=1e-5
    )


# --- target ------------------------------------------------------------------------------------


def test_target_encoding_round_trip_and_unknown_labels():
    frame = pd.DataFrame({"x": np.arange(6.0), "y": ["b", "a", "c", "a", "b", "c"]})
    preprocessor = fitted(frame, ColumnPlan("x"), task="multiclass")
    assert preprocessor.classes_ == ["a", "b", "c"]
    codes = preprocessor.encode_target(frame["y"])
    np.testing.assert_array_equal(codes, [1, 0, 2, 0, 1, 2])
    assert list(preprocessor.decode_target(codes)) == list(frame["y"])
    with pytest.raises(UserError, match="wasn't in the training rows"):
        preprocessor.encode_target(pd.Series(["d"]))


def test_regression_target_is_float32():
    frame = pd.DataFrame({"x": np.arange(4.0), "y": [1, 2, 3, 4]})
    preprocessor = fitted(frame, ColumnPlan("x"))
    assert preprocessor.classes_ == []
    assert preprocessor.encode_target(frame["y"]).dtype == np.float32


# --- prediction-time input ---------------------------------------------------------------------


@pytest.fixture
def trained() -> tuple[Preprocessor, pd.DataFrame]:
    frame = people()
    spec = default_spec(frame, "bought")
    splits = split_frame(frame, spec)
    return Preprocessor(spec).fit(splits.X_train, splits.y_train), splits.X_test


def test_missing_input_column_is_an_error_naming_it(trained):
    preprocessor, X = trained
    with pytest.raises(UserError, match="income") as error:
        preprocessor.check_input(X.drop(columns=["income"]))
    assert error.value.message.key == "preprocess.error.input_missing_columns"
    with pytest.raises(UserError, match="income"):
        preprocessor.transform(X.drop(columns=["income"]))


def test_extra_columns_are_ignored_with_a_notice(trained):
    preprocessor, X = trained
    check = preprocessor.check_input(X.assign(shoe_size=42))
    assert [n.key for n in check.notices] == ["preprocess.notice.extra_columns"]
    assert "shoe_size" in check.notices[0].params["columns"]
    assert "note" in check.notices[0].params["columns"]  # dropped by the plan: not used
    assert np.array_equal(preprocessor.transform(X.assign(shoe_size=42)), preprocessor.transform(X))


def test_a_wrong_value_fails_its_row_and_the_rest_are_predicted(trained):
    preprocessor, X = trained
    batch = X.astype({"age": object, "joined": object}).copy()
    batch.iloc[2, batch.columns.get_loc("age")] = "forty"
    batch.iloc[5, batch.columns.get_loc("joined")] = "last tuesday-ish"
    check = preprocessor.check_input(batch)
    assert check.bad_positions == (2, 5)
    first = check.errors[0]
    assert (first.position, first.column, first.value) == (2, "age", "forty")
    assert first.message.key == "preprocess.error.row_not_number"
    assert first.message.params["row"] == 3
    assert check.errors[1].message.key == "preprocess.error.row_not_date"
    good = check.good_rows(batch)
    assert len(good) == len(batch) - 2
    expected = preprocessor.transform(X.drop(index=X.index[[2, 5]]))
    np.testing.assert_array_equal(preprocessor.transform(good), expected)


def test_an_empty_batch_transforms_to_no_rows(trained):
    preprocessor, X = trained
    assert preprocessor.transform(X.iloc[:0]).shape == (0, len(preprocessor.feature_names_))


# --- saving ------------------------------------------------------------------------------------


def test_save_and_load_reproduce_the_same_arrays(trained, tmp_path):
    preprocessor, X = trained
    folder = preprocessor.save(tmp_path / "prep")
    loaded = Preprocessor.load(folder)
    assert np.array_equal(loaded.transform(X), preprocessor.transform(X))
    assert loaded.feature_names_ == preprocessor.feature_names_
    assert loaded.classes_ == preprocessor.classes_ == ["no", "yes"]
    assert loaded.spec == preprocessor.spec
    with pytest.raises(UserError):
        Preprocessor.load(tmp_path / "nothing here")


def test_saved_pipeline_applies_without_this_package(trained, tmp_path):
    preprocessor, X = trained
    folder = preprocessor.save(tmp_path / "prep")
    X.to_csv(tmp_path / "input.csv", index=False)
    np.save(tmp_path / "expected.npy", preprocessor.transform(pd.read_csv(tmp_path / "input.csv")))
    script = textwrap.dedent(
        """
        import importlib.util, json, sys
        assert importlib.util.find_spec("core") is None, "core must not be importable here"
        import numpy as np, pandas as pd, skops.io as sio
        meta = json.load(open("prep/preprocessing.json", encoding="utf-8"))
        spec = importlib.util.spec_from_file_location("prepare", "prep/prepare.py")
        prepare = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(prepare)
        transformer = sio.load("prep/transformer.skops", trusted=["numpy.clip", "numpy.dtype"])
        X = pd.read_csv("input.csv")
        out = transformer.transform(prepare.prepare_frame(X, meta["schema"])).astype("float32")
        assert out.shape[1] == len(meta["feature_names"])
        assert np.array_equal(out, np.load("expected.npy")), "arrays differ"
        assert "core" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "import core" not in prepare_source() and "from core" not in prepare_source()
    assert folder == tmp_path / "prep"


# --- page helpers ------------------------------------------------------------------------------


def test_preview_and_split_summary(trained):
    preprocessor, _ = trained
    frame = people()
    spec = preprocessor.spec
    before, after = preview(frame, spec, preprocessor, n=3)
    assert list(before.columns) == [p.name for p in spec.kept] + ["bought"]
    assert list(after.columns) == preprocessor.feature_names_
    assert len(before) == len(after) == 3
    splits = split_frame(frame, spec)
    summary = split_summary(splits, preprocessor)
    assert list(summary["Rows"]) == [len(splits.y_train), len(splits.y_val), len(splits.y_test)]
    assert set(summary["Features"]) == {len(preprocessor.feature_names_)}
    shares = summary[['Share of "no"', 'Share of "yes"']].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    chinese = split_summary(splits, preprocessor, lang="zh")
    assert list(chinese.iloc[:, 0]) == ["训练集", "验证集", "测试集"]


def test_warnings_for_imbalance_and_mismatches():
    frame = pd.DataFrame(
        {
            "x": np.arange(200.0),
            "code": ["7"] * 150 + ["n/a"] * 50,
            "y": ["ok"] * 190 + ["fraud"] * 10,
        }
    )
    spec = PreprocessSpec(
        target="y",
        task="binary",
        columns=(
            ColumnPlan("x", impute="none"),
            ColumnPlan("code"),
            ColumnPlan("gone", action="drop"),
        ),
    )
    found = {m.key: m for m in plan_warnings(frame, spec)}
    assert found["preprocess.warning.imbalance"].params["label"] == "fraud"
    assert found["preprocess.warning.not_numeric"].params == {"column": "code", "share": 0.25}
    assert "preprocess.warning.columns_absent" in found
    assert "5.0%" in found["preprocess.warning.imbalance"].text("en")
    three = frame.assign(y=["a", "b", "c", "d"] * 50)
    assert "preprocess.warning.binary_not_two" in {m.key for m in plan_warnings(three, spec)}


def test_frames_with_repeated_row_labels_work():
    frame = people(60)
    frame.index = [0] * 60
    spec = default_spec(frame, "bought")
    splits = split_frame(frame, spec)
    preprocessor = Preprocessor(spec).fit(splits.X_train, splits.y_train)
    assert preprocessor.transform(splits.X_val).shape[0] == len(splits.y_val)


# --- catalog -----------------------------------------------------------------------------------


def test_every_preprocess_key_exists_in_both_languages():
    source = (ROOT / "core" / "prep" / "preprocessing.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(preprocess\.[a-z_.]+)"', source))
    used |= {f"preprocess.summary.{split}" for split in ("train", "val", "test")}
    for lang in LANGUAGES:
        assert used <= set(catalog_for(lang)), used - set(catalog_for(lang))
