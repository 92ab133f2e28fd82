"""The per-column preprocessing plan as an editable table (the Preprocess page edits it)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd

from core.i18n import DEFAULT_LANGUAGE
from core.prep.preprocessing import (
    USER_CHOICE,
    ColumnPlan,
    PreprocessSpec,
)

# Columns of the table the page edits; "column" and "reason" are read-only there.
TABLE_COLUMNS = (
    "column", "action", "kind", "impute", "add_indicator", "scale", "encoding",
    "clip_low", "clip_high", "datetime_parts", "reason",
)  # fmt: skip
DEFAULT_DATE_PARTS = ("year", "month", "dayofweek")
NUMBER_ONLY_IMPUTES = ("mean", "median")


def plan_table(spec: PreprocessSpec, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """One row per input column with the plan's codes, and its reason in `lang`."""
    rows = [
        {
            "column": plan.name,
            "action": plan.action,
            "kind": plan.kind,
            "impute": plan.impute,
            "add_indicator": plan.add_indicator,
            "scale": plan.scale,
            "encoding": plan.encoding,
            "clip_low": plan.clip[0] if plan.clip else None,
            "clip_high": plan.clip[1] if plan.clip else None,
            "datetime_parts": list(plan.datetime_parts),
            "reason": plan.reason.text(lang),
        }
        for plan in spec.columns
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def apply_plan_table(spec: PreprocessSpec, table: pd.DataFrame) -> PreprocessSpec:
    """The spec with the table's edits; an edited row's reason becomes "set by you".

    Edits that only make sense together are completed rather than refused (a column switched
    to category cannot keep a median fill; a column switched to date needs some parts), so the
    user is never stuck in the editor. Invalid values still raise the spec's UserError.
    """
    edits = {str(row["column"]): row for row in table.to_dict("records")}
    plans = []
    for plan in spec.columns:
        row = edits.get(plan.name)
        plans.append(plan if row is None else _edited(plan, row))
    return replace(spec, columns=tuple(plans))


def _edited(plan: ColumnPlan, row: dict) -> ColumnPlan:
    changes: dict[str, Any] = {
        "action": str(row["action"]),
        "kind": str(row["kind"]),
        "impute": str(row["impute"]),
        "add_indicator": bool(row["add_indicator"]),
        "scale": str(row["scale"]),
        "encoding": str(row["encoding"]),
        "clip": _clip(row.get("clip_low"), row.get("clip_high")),
        "datetime_parts": tuple(_parts(row.get("datetime_parts"))),
    }
    if all(getattr(plan, field) == value for field, value in changes.items()):
        return plan
    if changes["kind"] == "categorical" and changes["impute"] in NUMBER_ONLY_IMPUTES:
        changes["impute"] = "most_frequent"
    if changes["kind"] == "datetime" and not changes["datetime_parts"]:
        changes["datetime_parts"] = DEFAULT_DATE_PARTS
    if changes["kind"] != "datetime":
        changes["datetime_parts"] = ()
    if changes["kind"] != "numeric":
        changes["clip"] = None
    return replace(plan, **changes, reason=USER_CHOICE)


def _clip(low: object, high: object) -> tuple[float, float] | None:
    low, high = _number(low), _number(high)
    if low is None and high is None:
        return None
    return (0.0 if low is None else low, 1.0 if high is None else high)


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _parts(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]
