"""The one-row form built from a bundle's schema: which fields, and how typed values are read."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from core.deploy.predict_form import (
    default_values,
    form_fields,
    prediction_summary,
    range_warnings,
    row_from_values,
)
from core.i18n import UserError

SCHEMA = {
    "columns": [
        {"name": "age", "kind": "numeric", "min": 18.0, "max": 90.0, "integer": True,
         "default": 41.0, "missing": 0},
        {"name": "city", "kind": "categorical", "categories": ["Paris", "Lyon"],
         "more_categories": False, "default": "Paris", "missing": 0},
        {"name": "shop", "kind": "categorical", "categories": ["a", "b"],
         "more_categories": True, "default": "a", "missing": 0},
        {"name": "joined", "kind": "datetime", "parts": ["year", "month", "hour"],
         "part_ranges": {"year": {"min": 2010.0, "max": 2020.0}}, "missing": 0},
    ]
}  # fmt: skip


def test_each_column_gets_the_field_its_kind_needs():
    fields = {field.name: field for field in form_fields(SCHEMA)}
    assert fields["age"].kind == "number"
    assert (fields["age"].min, fields["age"].max, fields["age"].integer) == (18.0, 90.0, True)
    assert fields["city"].kind == "select" and fields["city"].options == ("Paris", "Lyon")
    assert fields["shop"].kind == "text", "too many categories to list: free text"
    assert fields["joined"].kind == "date" and fields["joined"].with_time
    assert fields["joined"].default == dt.date(2015, 1, 1)
    assert default_values(SCHEMA)["age"] == 41.0


def test_values_become_one_typed_row_in_schema_order():
    values = {
        "age": "37",
        "city": "Lyon",
        "shop": " new shop ",
        "joined": dt.datetime(2019, 5, 1, 8),
    }
    row = row_from_values(SCHEMA, values)
    assert list(row.columns) == ["age", "city", "shop", "joined"]
    assert row["age"].dtype == "float64" and row["age"].iloc[0] == 37.0
    assert row["shop"].iloc[0] == "new shop"
    assert row["joined"].iloc[0] == pd.Timestamp("2019-05-01 08:00")


def test_empty_fields_are_missing_values():
    row = row_from_values(SCHEMA, {"age": None, "city": None, "shop": "  ", "joined": None})
    assert math.isnan(row["age"].iloc[0])
    assert row["city"].iloc[0] is None and row["shop"].iloc[0] is None
    assert pd.isna(row["joined"].iloc[0])


@pytest.mark.parametrize(("column", "value"), [("age", "old"), ("age", True), ("joined", "soon")])
def test_a_value_of_the_wrong_kind_names_its_column(column, value):
    with pytest.raises(UserError) as caught:
        row_from_values(SCHEMA, {column: value})
    assert column in caught.value.text("en") and caught.value.text("zh") != caught.value.text("en")


def test_numbers_outside_the_training_range_are_flagged_not_refused():
    assert range_warnings(SCHEMA, {"age": 50}) == []
    (warning,) = range_warnings(SCHEMA, {"age": 120})
    assert warning.params == {"column": "age", "value": "120", "min": "18", "max": "90"}
    assert "120" in warning.text("en")
    assert not row_from_values(SCHEMA, {"age": 120}).empty


def test_prediction_summary_sorts_classes_by_probability():
    table = pd.DataFrame(
        {"prediction": ["b"], "probability_a": [0.2], "probability_b": [0.7],
         "probability_c": [0.1], "error": [""]}
    )  # fmt: skip
    summary = prediction_summary(table, ["a", "b", "c"])
    assert summary["class"].tolist() == ["b", "a", "c"]
    value = prediction_summary(pd.DataFrame({"prediction": [3.5], "error": [""]}), [])
    assert value["value"].tolist() == [3.5]
