"""The Deploy page's one-row form, as data: which field each input column gets, and how the
values typed into it become the one-row table the model predicts from.

Plain Python, so the form's rules are unit-tested without streamlit: numbers carry the training
range as a hint (not a hard limit: extrapolating is allowed, and flagged), categories become a
select of the training categories (or free text when there were too many to list), dates a date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.i18n import Message, UserError

FIELD_KINDS: tuple[str, ...] = ("number", "select", "text", "date")


@dataclass(frozen=True)
class FormField:
    """One input of the form: widget kind, default, training range, choices."""

    name: str
    kind: str  # FIELD_KINDS
    default: Any = None
    min: float | None = None
    max: float | None = None
    integer: bool = False
    options: tuple[str, ...] = ()
    with_time: bool = False  # a date whose hour matters to the model


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """One field per input column of a bundle's schema.json, in the schema's order."""
    fields = []
    for column in schema["columns"]:
        name, kind = column["name"], column["kind"]
        if kind == "numeric":
            fields.append(
                FormField(
                    name,
                    "number",
                    default=column.get("default"),
                    min=column.get("min"),
                    max=column.get("max"),
                    integer=bool(column.get("integer")),
                )
            )
        elif kind == "categorical":
            options = tuple(column.get("categories") or ())
            listed = options and not column.get("more_categories")
            fields.append(
                FormField(
                    name,
                    "select" if listed else "text",
                    default=column.get("default"),
                    options=options,
                )
            )
        else:
            fields.append(_date_field(name, column))
    return fields


def row_from_values(schema: Mapping[str, Any], values: Mapping[str, Any]) -> pd.DataFrame:
    """The one-row table the model predicts from; an empty field is a missing value (the
    fitted imputation fills it), a value of the wrong kind is a UserError naming the column."""
    row: dict[str, list[Any]] = {}
    for field in form_fields(schema):
        value = values.get(field.name)
        if field.kind == "number":
            row[field.name] = [_number(field.name, value)]
        elif field.kind == "date":
            row[field.name] = [_date(field.name, value)]
        else:
            text = None if value is None else str(value).strip()
            row[field.name] = [text or None]
    frame = pd.DataFrame(row)
    for field in form_fields(schema):
        if field.kind == "number":
            frame[field.name] = frame[field.name].astype("float64")
        elif field.kind == "date":
            frame[field.name] = pd.to_datetime(frame[field.name])
        else:
            frame[field.name] = frame[field.name].astype(object)
    return frame


def range_warnings(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[Message]:
    """Numbers outside the training range: the model extrapolates there, so say so."""
    found = []
    for field in form_fields(schema):
        if field.kind != "number" or field.min is None or field.max is None:
            continue
        value = _number(field.name, values.get(field.name))
        if not math.isnan(value) and not field.min <= value <= field.max:
            found.append(
                Message(
                    "deploy.form.outside_range",
                    {
                        "column": field.name,
                        "value": _short(value),
                        "min": _short(field.min),
                        "max": _short(field.max),
                    },
                )
            )
    return found


def default_values(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Each field's starting value: the training median, the most frequent category, a date."""
    return {field.name: field.default for field in form_fields(schema)}


def prediction_summary(table: pd.DataFrame, classes: Sequence[Any]) -> pd.DataFrame:
    """A one-row prediction as a small table: one row per class with its probability (highest
    first), or one row with the predicted value."""
    row = table.iloc[0]
    if not classes:
        return pd.DataFrame({"value": [float(row["prediction"])]})
    probabilities = [float(row[f"probability_{label}"]) for label in classes]
    summary = pd.DataFrame(
        {"class": [str(label) for label in classes], "probability": probabilities}
    )
    return summary.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)


# --- helpers -----------------------------------------------------------------------------------


def _date_field(name: str, column: Mapping[str, Any]) -> FormField:
    parts = tuple(column.get("parts") or ())
    years = (column.get("part_ranges") or {}).get("year") or {}
    low, high = years.get("min"), years.get("max")
    year = round((low + high) / 2) if low is not None and high is not None else None
    default = dt.date(year, 1, 1) if year else dt.date.today()
    return FormField(name, "date", default=default, with_time="hour" in parts)


def _number(name: str, value: Any) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool | np.bool_):
        raise UserError("deploy.form.error.not_number", column=name, value=str(value))
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise UserError(
            "deploy.form.error.not_number", column=name, value=str(value)[:60]
        ) from None
    if not math.isfinite(number):
        return math.nan
    return number


def _date(name: str, value: Any) -> pd.Timestamp:
    if value is None or (isinstance(value, str) and not value.strip()):
        return pd.NaT
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return pd.Timestamp(value)
    parsed = pd.to_datetime(str(value), errors="coerce")
    if pd.isna(parsed):
        raise UserError("deploy.form.error.not_date", column=name, value=str(value)[:60])
    return parsed


def _short(value: float) -> str:
    return f"{value:g}"


def regression_text(value: float, error: float | None = None) -> str:
    """A predicted number with the precision it warrants: at least three significant digits,
    and one decimal place beyond the leading digit of the test error (RMSE 0.11 -> 0.01), so a
    prediction of 10.04 for a target between 8.5 and 10.8 never reads "10"."""
    if not math.isfinite(value):
        return str(value)
    magnitude = math.floor(math.log10(abs(value))) if value != 0 else 0
    decimals = max(0, 2 - magnitude)
    if error is not None and math.isfinite(error) and error > 0:
        decimals = max(decimals, 1 - math.floor(math.log10(error)))
    return f"{value:,.{min(decimals, 8)}f}"
