"""Profile a table: each column's role, missing values, distinct values and statistics, plus alerts.

Roles, decided per column in this order (`infer_role` applies the same rules):

- constant: at most one distinct non-missing value (an all-missing column is constant).
- boolean: exactly two distinct values that read as a yes/no pair: bool dtype, 0/1,
  "yes"/"no", "true"/"false", "y"/"n", "t"/"f", "on"/"off", "是"/"否" (case-insensitive).
- datetime: a datetime dtype (or Python date objects), or strings of which >= 95% of a sample
  contain a digit and parse as dates in the one format guessed from the first sampled value.
- identifier: distinct in >= 95% of non-missing rows, with more than 50 distinct values or a
  name such as "id", "user_id", "UserID", "uuid", "key"; and either strings without whitespace
  (codes, UUIDs, digit strings) or integers that are named like an id or look issued: a dense
  run (range at most twice the distinct count: row numbers, shuffled or not) or random-digit
  codes of one fixed width of 8+ digits. A wide-range integer measurement (income, price) and a
  float measurement are not identifiers (a whole-number float column only when named like one).
- group: a grouping key: whole numbers or short codes named like an identifier of an entity
  ("townid", "person_id", "nr", "household", "panel", "编号", "code", "no") whose values repeat
  (at least GROUP_MIN_REPEAT rows per value on average, at least GROUP_MIN_GROUPS values): the
  rows of one town, person or household. Neither a feature nor a target; the split can keep
  each group whole.
- numeric: a numeric dtype, or strings of which > 95% parse as numbers, that is none of the
  above and not a small integer code (below).
- categorical: a category dtype; whole numbers with <= 10 distinct values that repeat (at most
  half as many values as rows); strings with <= 50 distinct values or distinct values in <= 5%
  of rows; and many short one-word strings that repeat (codes, postcodes).
- text: other strings: mostly with whitespace, 30 characters or longer on average, or distinct
  in more than half of the rows.

A string column is flagged `mixed_types` when between 5% and 95% of its non-missing values parse
as numbers; it keeps a string role (categorical or text).

Counts (missing, unique, infinities, zeros, duplicate rows) and statistics are exact over the
whole table. What runs on a fixed-seed sample, so that profiling a million rows costs about as
much as reading them: parsing strings as numbers or dates and the whitespace test (2,000 values
per column); the Pearson correlations behind near-duplicate columns (100,000 rows, fewer for very
wide tables, first 300 numeric columns); the choice between counting and sorting a numeric column
(it changes the cost, never the result); and the memory of object columns over 100,000 rows
(pandas' deep count visits every Python object; 2,000 of them are measured and scaled up).
Duplicate rows are counted by hashing whole rows, only among the rows whose value in the most
distinct column repeats (a row unique in any one column cannot be duplicated). Columns are
profiled in a small thread pool: numpy, pandas and Arrow release the GIL in the sorting and
hashing that dominate the cost.
"""

from __future__ import annotations

import functools
import math
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes
from pandas.tseries.api import guess_datetime_format

from core.i18n import Message

ROLES = (
    "numeric",
    "categorical",
    "boolean",
    "datetime",
    "text",
    "identifier",
    "group",
    "constant",
)
ALERT_KINDS = (
    "constant",
    "many_missing",
    "identifier",
    "group",
    "duplicate_rows",
    "near_duplicate_columns",
    "infinities",
    "mixed_types",
)
MANY_MISSING_SHARE = 0.30
NEAR_DUPLICATE_R = 0.95
IDENTIFIER_UNIQUE_SHARE = 0.95
GROUP_MIN_REPEAT = 1.5  # rows per value, on average, for a named key to be a grouping key
GROUP_MIN_GROUPS = 3
CATEGORICAL_MAX_UNIQUE = 50
CATEGORICAL_MAX_SHARE = 0.05
INTEGER_CATEGORICAL_MAX_UNIQUE = 10
TEXT_MIN_LENGTH = 30
TEXT_MIN_UNIQUE_SHARE = 0.5
PARSE_SHARE = 0.95
MIXED_MIN_SHARE = 0.05
STRING_SAMPLE_ROWS = 2_000
CORRELATION_SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0

_CODE_MIN_DIGITS = 8  # random-digit codes (accounts, phone numbers) are at least this wide
_MAX_CORRELATED_COLUMNS = 300  # beyond that, near-duplicate pairs are checked among the first
_EXACT_OBJECT_MEMORY_ROWS = 100_000  # larger object columns: memory estimated from the sample
_BOOLEAN_PAIRS = (
    {"true", "false"},
    {"yes", "no"},
    {"y", "n"},
    {"t", "f"},
    {"on", "off"},
    {"0", "1"},
    {"0.0", "1.0"},
    {"是", "否"},
)
_ID_WORDS = frozenset({"id", "uuid", "guid", "key", "identifier"})
# Glued onto "id" ("userid", "orderid"); a closed list, so that "paid" or "valid" never match.
_ID_PREFIXES = frozenset(
    [
        "user",
        "customer",
        "client",
        "order",
        "account",
        "row",
        "record",
        "item",
        "product",
        "session",
        "patient",
        "person",
        "member",
        "employee",
        "transaction",
        "device",
    ]
)
# Entities whose rows a table repeats: a town's houses, a person's years, a school's pupils.
_GROUP_PREFIXES = frozenset(
    [
        "town",
        "city",
        "county",
        "district",
        "state",
        "country",
        "region",
        "household",
        "hh",
        "family",
        "firm",
        "company",
        "store",
        "shop",
        "school",
        "class",
        "student",
        "subject",
        "participant",
        "respondent",
        "panel",
        "group",
        "cluster",
        "site",
        "hospital",
        "p",
        "pers",
        "ind",
        "indiv",
        "individual",
    ]
)
_GROUP_WORDS = frozenset({"nr", "pid", "hhid", "idcode", "household", "panel", "cluster"})
_GROUP_SUFFIXES = frozenset({"no", "nr", "num", "code", "number", "key"})
_GROUP_ZH = ("编号", "代码", "户号", "学号", "工号")
_DIGIT = re.compile(r"\d")
TARGET_ROLES = ("numeric", "categorical", "boolean")
_TARGET_WORDS = frozenset(
    {
        "target",
        "label",
        "y",
        "outcome",
        "price",
        "class",
        "response",
        "result",
        "medv",
        "survived",
        "churn",
        "deny",
        "default",
    }
)
_TARGET_ZH = ("目标", "标签", "结果", "价格", "房价")


@dataclass(frozen=True)
class ColumnProfile:
    """One column's role, missing and distinct counts, and role-specific statistics."""

    name: str
    dtype: str
    role: str
    missing: int
    missing_share: float
    unique: int
    stats: dict
    mixed_types: bool = False

    def to_dict(self) -> dict:
        """This column as JSON-safe plain data."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "role": self.role,
            "missing": self.missing,
            "unique": self.unique,
            "missing_share": _json_float(self.missing_share),
            "mixed_types": self.mixed_types,
            "stats": {key: _json_value(value) for key, value in self.stats.items()},
        }


@dataclass(frozen=True)
class Alert:
    """Something in the table worth a person's attention before training on it."""

    kind: str
    columns: tuple[str, ...]
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> Message:
        """What was found, naming the column(s)."""
        return Message(f"profile.alert.{self.kind}", {**self.params, **self._column_params()})

    @property
    def why(self) -> Message:
        """One line on why it matters and what to do about it."""
        return Message(f"profile.why.{self.kind}", {**self.params, **self._column_params()})

    def to_dict(self) -> dict:
        """This alert as JSON-safe plain data."""
        return {
            "kind": self.kind,
            "columns": list(self.columns),
            "params": {key: _json_value(value) for key, value in self.params.items()},
        }

    def _column_params(self) -> dict:
        # Catalog texts name one column as {column}; a pair as {column} and {other}.
        params: dict = {"columns": ", ".join(self.columns)}
        if self.columns:
            params["column"] = self.columns[0]
        if len(self.columns) > 1:
            params["other"] = self.columns[1]
        return params


@dataclass(frozen=True)
class Profile:
    """A whole table's profile: size, one ColumnProfile per column, and alerts."""

    rows: int
    memory_bytes: int
    columns: tuple[ColumnProfile, ...]
    alerts: tuple[Alert, ...]
    duplicate_rows: int

    def column(self, name: str) -> ColumnProfile:
        """The profile of the column called `name` (KeyError if there is none)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict:
        """JSON-safe plain data: the `profile --json` contract plus size and per-column extras."""
        return {
            "rows": self.rows,
            "memory_bytes": self.memory_bytes,
            "duplicate_rows": self.duplicate_rows,
            "columns": [column.to_dict() for column in self.columns],
            "alerts": [alert.to_dict() for alert in self.alerts],
        }


def profile_frame(df: pd.DataFrame) -> Profile:
    """Profile every column of `df` and raise the alerts that apply."""
    rows = len(df)
    series = [df.iloc[:, position] for position in range(df.shape[1])]
    # Costliest columns first, so that no thread is left with a long one at the end.
    order = sorted(range(len(series)), key=lambda i: _cost_rank(series[i].dtype))
    with ThreadPoolExecutor(max_workers=_workers(len(series))) as pool:
        futures = {i: pool.submit(_summarise, series[i]) for i in order}
        summaries = [futures[i].result() for i in range(len(series))]
    duplicates = _count_duplicate_rows(df, summaries)
    alerts = _alerts(summaries, duplicates, rows)
    memory = int(df.index.memory_usage(deep=True)) + sum(item.memory for item in summaries)
    return Profile(
        rows=rows,
        memory_bytes=memory,
        columns=tuple(item.profile for item in summaries),
        alerts=tuple(alerts),
        duplicate_rows=duplicates,
    )


def infer_role(series: pd.Series) -> str:
    """The role of one column: one of ROLES, by the rules in this module's docstring."""
    return _summarise(series).profile.role


@dataclass(frozen=True)
class TargetSuggestion:
    """The column proposed as the target, why, and whether a person should confirm it."""

    column: str
    reason: Message
    sure: bool

    def to_dict(self) -> dict:
        """JSON-safe plain data (reason as its catalog key and parameters)."""
        return {
            "column": self.column,
            "sure": self.sure,
            "reason": {"key": self.reason.key, "params": dict(self.reason.params)},
        }


def target_suggestion(profile: Profile) -> TargetSuggestion | None:
    """The target a person most likely means, and why; never an identifier or a grouping key.

    A column named like a target ("target", "label", "y", "outcome", "price", "是否…") wins, the
    last such first; otherwise the last usable column, marked as a guess to confirm.
    """
    usable = [column for column in profile.columns if column.role in TARGET_ROLES]
    for column in reversed(usable):
        if _named_like_target(column.name):
            return TargetSuggestion(
                column.name, Message("special.target.named", {"column": column.name}), True
            )
    if usable:
        column = usable[-1]
        return TargetSuggestion(
            column.name, Message("special.target.last", {"column": column.name}), False
        )
    return None


def suggest_target(profile: Profile) -> str | None:
    """A sensible default target (see `target_suggestion`), else None."""
    found = target_suggestion(profile)
    return None if found is None else found.column


def _named_like_target(name: str) -> bool:
    text = name.strip()
    if text.startswith("是否") or any(word in text for word in _TARGET_ZH):
        return True
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    words = re.findall(r"[a-z0-9]+", spaced.lower())
    return bool(words) and (words[-1] in _TARGET_WORDS or words[0] in _TARGET_WORDS)


def correlation_matrix(
    frame: pd.DataFrame, max_rows: int = CORRELATION_SAMPLE_ROWS, seed: int = SAMPLE_SEED
) -> pd.DataFrame:
    """Pearson correlations between the numeric-dtype columns, on a fixed-seed row sample."""
    numeric = [
        position
        for position in range(frame.shape[1])
        if is_real_number_dtype(frame.dtypes.iloc[position])
    ]
    names = [str(frame.columns[position]) for position in numeric]
    if not numeric:
        return pd.DataFrame(index=names, columns=names, dtype="float64")
    rows = _sample_positions(len(frame), max_rows, seed)
    matrix = np.column_stack([_as_float(frame.iloc[rows, position]) for position in numeric])
    return pd.DataFrame(_pearson(matrix), index=names, columns=names)


def is_real_number_dtype(dtype: object) -> bool:
    """Integers and floats (numpy, nullable or Arrow); not booleans, not complex numbers."""
    return (
        ptypes.is_numeric_dtype(dtype)
        and not ptypes.is_bool_dtype(dtype)
        and not ptypes.is_complex_dtype(dtype)
    )


# --- per-column summary ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Summary:
    """A ColumnProfile plus what the table-level checks need from the column."""

    profile: ColumnProfile
    memory: int
    numeric_share: float = 0.0
    values: np.ndarray | None = None  # float values of numeric columns, for correlations


def _summarise(series: pd.Series) -> _Summary:
    name = str(series.name)
    dtype = series.dtype
    memory = _memory(series)
    missing = int(series.isna().sum())
    if ptypes.is_bool_dtype(dtype):
        return _summarise_strings(series, name, memory, missing, native_bool=True)
    if isinstance(dtype, pd.CategoricalDtype):
        return _summarise_strings(series, name, memory, missing)
    if ptypes.is_datetime64_any_dtype(dtype):
        return _summarise_datetime(series, name, str(dtype), memory, missing, None)
    if isinstance(dtype, pd.PeriodDtype):
        inner = _summarise_datetime(
            series.dt.to_timestamp(), name, str(dtype), memory, missing, None
        )
        return _Summary(inner.profile, memory)
    if ptypes.is_timedelta64_dtype(dtype):
        seconds = series.dt.total_seconds()
        return _summarise_numeric(seconds, name, str(dtype), memory, missing)
    if is_real_number_dtype(dtype):
        return _summarise_numeric(series, name, str(dtype), memory, missing)
    if ptypes.is_object_dtype(dtype):
        converted = _convert_objects(series)
        if converted is not None:
            inner = _summarise(converted)
            profile = replace(inner.profile, name=name, dtype=str(dtype))
            return _Summary(profile, memory, inner.numeric_share, inner.values)
    return _summarise_strings(series, name, memory, missing)


def _summarise_numeric(
    series: pd.Series,
    name: str,
    dtype: str,
    memory: int,
    missing: int,
    from_strings: pd.Series | None = None,
) -> _Summary:
    integer_dtype = from_strings is None and ptypes.is_integer_dtype(series.dtype)
    if integer_dtype and missing == 0:
        # Exact integers (no float rounding of large ids); they are all finite.
        numbers = series.to_numpy()
        finite, infinities, distinct_inf = numbers, 0, 0
    else:
        numbers = _as_float(series)
        finite = numbers[np.isfinite(numbers)]
        positive, negative = int(np.isposinf(numbers).sum()), int(np.isneginf(numbers).sum())
        infinities, distinct_inf = positive + negative, int(positive > 0) + int(negative > 0)
    # Boolean indexing made `finite` a private copy for floats: sorting it in place is safe.
    unique, stats = _numeric_summary(finite, owned=finite is not numbers)
    unique += distinct_inf
    stats.update(infinities=infinities)
    stats = {key: _json_value(stats[key]) for key in _NUMERIC_STATS}
    integral = integer_dtype or _all_whole(finite)
    rows = len(series)
    present = rows - missing
    # A float column is a measurement: an identifier only when named like one. Integers are
    # one when named so, or when they look issued: a dense run (row numbers) or codes of one
    # fixed width of 8+ digits; a wide-range measurement (income, price) is neither.
    id_candidate = (integral and (from_strings is not None or _named_like_identifier(name))) or (
        integer_dtype and _looks_issued(stats["min"], stats["max"], unique)
    )
    role = "numeric"
    if unique <= 1:
        role = "constant"
    elif unique == 2 and infinities == 0 and stats["min"] == 0 and stats["max"] == 1:
        role = "boolean"
    elif id_candidate and _looks_like_identifier(name, unique, present, spaces=0.0):
        role = "identifier"
    elif integral and _looks_like_group(name, unique, present):
        role = "group"
    elif integral and unique <= INTEGER_CATEGORICAL_MAX_UNIQUE and unique * 2 <= present:
        role = "categorical"
    if role in ("constant", "boolean", "categorical"):
        source = from_strings if from_strings is not None else series
        stats = _top_stats(_value_counts(source))
        if infinities:
            stats["infinities"] = infinities  # still worth an alert
    elif role in ("identifier", "group"):
        stats = {}
    profile = ColumnProfile(
        name=name,
        dtype=dtype,
        role=role,
        missing=missing,
        missing_share=_share(missing, rows),
        unique=unique,
        stats=stats,
    )
    if role != "numeric":
        return _Summary(profile, memory)
    # Keep only the correlation sample: the same rows for every column of this length.
    sampled = np.asarray(numbers[_sample_positions(rows)], dtype="float64")
    return _Summary(profile, memory, values=sampled)


def _summarise_datetime(
    series: pd.Series,
    name: str,
    dtype: str,
    memory: int,
    missing: int,
    unique: int | None,
) -> _Summary:
    if unique is None:
        unique = int(series.nunique())
    present = series.dropna()
    stats = {}
    if len(present):
        stats = {"min": _iso(present.min()), "max": _iso(present.max())}
    role = "constant" if unique <= 1 else "datetime"
    profile = ColumnProfile(
        name=name,
        dtype=dtype,
        role=role,
        missing=missing,
        missing_share=_share(missing, len(series)),
        unique=unique,
        stats=stats,
    )
    return _Summary(profile, memory)


def _summarise_strings(
    series: pd.Series, name: str, memory: int, missing: int, native_bool: bool = False
) -> _Summary:
    """Strings, categories, booleans and other objects: counted by value."""
    dtype = str(series.dtype)
    rows = len(series)
    counts = _value_counts(series)
    unique = counts.unique
    present = rows - missing
    base: dict[str, Any] = {"name": name, "dtype": dtype, "missing": missing, "unique": unique}
    base["missing_share"] = _share(missing, rows)
    if unique <= 1:
        return _Summary(ColumnProfile(role="constant", stats=_top_stats(counts), **base), memory)
    if unique == 2 and (native_bool or _is_boolean_pair(counts.values)):
        return _Summary(ColumnProfile(role="boolean", stats=_top_stats(counts), **base), memory)
    if isinstance(series.dtype, pd.CategoricalDtype):
        stats = _top_stats(counts)
        return _Summary(ColumnProfile(role="categorical", stats=stats, **base), memory)

    sample = _string_sample(series)
    parsed = pd.to_numeric(sample, errors="coerce")
    numeric_share = float(parsed.notna().mean()) if len(sample) else 0.0
    if numeric_share > PARSE_SHARE:
        numbers = pd.to_numeric(series, errors="coerce")
        inner = _summarise_numeric(numbers, name, dtype, memory, missing, from_strings=series)
        profile = replace(inner.profile, unique=unique)
        return _Summary(profile, memory, numeric_share, inner.values)

    mixed = MIXED_MIN_SHARE <= numeric_share <= PARSE_SHARE
    if not mixed and numeric_share < MIXED_MIN_SHARE:
        dates = _parse_dates(series, sample)
        if dates is not None:
            inner = _summarise_datetime(dates, name, dtype, memory, missing, unique)
            return _Summary(inner.profile, memory)

    spaces = float(sample.str.contains(r"\s", regex=True).mean()) if len(sample) else 0.0
    if not mixed and _looks_like_identifier(name, unique, present, spaces):
        role = "identifier"
        stats = {}
    elif not mixed and spaces < 0.1 and _looks_like_group(name, unique, present):
        role = "group"
        stats = {}
    else:
        role = _string_role(unique, present, spaces, sample)
        stats = _top_stats(counts)
        if role == "text":
            stats["mean_length"] = _mean_length(series, sample)
    profile = ColumnProfile(role=role, stats=stats, mixed_types=mixed, **base)
    return _Summary(profile, memory, numeric_share)


def _string_role(unique: int, present: int, spaces: float, sample: pd.Series) -> str:
    """Categorical for few distinct values or short repeating codes; text for prose."""
    if unique <= CATEGORICAL_MAX_UNIQUE or unique <= CATEGORICAL_MAX_SHARE * present:
        return "categorical"
    long_values = len(sample) > 0 and float(sample.str.len().mean()) >= TEXT_MIN_LENGTH
    mostly_distinct = unique > TEXT_MIN_UNIQUE_SHARE * present
    if spaces >= 0.5 or long_values or mostly_distinct:
        return "text"
    # Many short one-word values that repeat (product codes, postcodes): still categories.
    return "categorical"


def _convert_objects(series: pd.Series) -> pd.Series | None:
    """An object column holding dates, bools or numbers, as the matching dtype; else None."""
    sample = series.iloc[_sample_positions(len(series), STRING_SAMPLE_ROWS)].dropna()
    if sample.empty:
        sample = series.dropna()
        if sample.empty:
            return None
    kinds = {_object_kind(value) for value in sample.to_numpy()}
    if kinds == {"date"}:
        return pd.to_datetime(series, errors="coerce").rename(series.name)
    # The sample suggests one kind; converting is only safe when every value is of it.
    if kinds == {"bool"} and series.dropna().map(_object_kind).eq("bool").all():
        return series.astype("boolean").rename(series.name)
    if kinds == {"number"} and series.dropna().map(_object_kind).eq("number").all():
        return pd.to_numeric(series, errors="coerce").rename(series.name)
    if "unhashable" in kinds:
        # Lists and dicts cannot be counted by value; their text can.
        return series.map(lambda value: value if value is None else str(value)).astype("str")
    if kinds - {"str"}:
        # Mixed Python objects (numbers next to words): count them as their text.
        return series.where(series.isna(), series.astype("str")).astype("str")
    return None


def _object_kind(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, datetime | date | pd.Timestamp | np.datetime64):
        return "date"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | dict | set):
        return "unhashable"
    return "other"


def _parse_dates(series: pd.Series, sample: pd.Series) -> pd.Series | None:
    """The column parsed as dates when >= 95% of the sample parse in one format, else None."""
    if sample.empty or sample.str.contains(_DIGIT).mean() < PARSE_SHARE:
        return None
    first = str(sample.iloc[0])
    # "03/04/2021" is ambiguous: try month-first and day-first, keep what parses more rows.
    formats = (guess_datetime_format(first), guess_datetime_format(first, dayfirst=True))
    best, best_share = None, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt in dict.fromkeys(fmt for fmt in formats if fmt):
            share = float(pd.to_datetime(sample, format=fmt, errors="coerce").notna().mean())
            if share > best_share:
                best, best_share = fmt, share
        if best is None or best_share < PARSE_SHARE:
            return None
        return pd.to_datetime(series, format=best, errors="coerce")


def _looks_like_identifier(name: str, unique: int, present: int, spaces: float) -> bool:
    nearly_unique = present > 0 and unique >= IDENTIFIER_UNIQUE_SHARE * present
    named = _named_like_identifier(name)
    return nearly_unique and spaces < 0.1 and (unique > CATEGORICAL_MAX_UNIQUE or named)


def _looks_issued(low: float | None, high: float | None, unique: int) -> bool:
    """Whether whole numbers from `low` to `high` look issued: row numbers or fixed-width codes."""
    if low is None or high is None:
        return False
    dense = high - low + 1 <= 2 * unique
    low_digits, high_digits = len(str(abs(int(low)))), len(str(abs(int(high))))
    coded = low >= 0 and low_digits == high_digits >= _CODE_MIN_DIGITS
    return dense or coded


def _named_like_identifier(name: str) -> bool:
    """True for names such as "id", "user_id", "UserID", "customerId", "order key", "uuid"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = re.findall(r"[a-z0-9]+", spaced.lower())
    # "userid" and "orderid" are common enough; "paid" and "valid" are not identifiers.
    glued = bool(words) and words[-1].endswith("id") and words[-1][:-2] in _ID_PREFIXES
    return bool(words) and (words[0] in _ID_WORDS or words[-1] in _ID_WORDS or glued)


def _looks_like_group(name: str, unique: int, present: int) -> bool:
    """A named entity key whose values repeat: the rows of one town, person or household."""
    if unique < GROUP_MIN_GROUPS or unique * GROUP_MIN_REPEAT > present:
        return False
    return _named_like_identifier(name) or _named_like_group(name)


def _named_like_group(name: str) -> bool:
    """Names of grouping keys: "townid", "nr", "hhid", "household", "panel_no", "学校编号"."""
    if any(word in name for word in _GROUP_ZH):
        return True
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = re.findall(r"[a-z0-9]+", spaced.lower())
    if not words:
        return False
    if set(words) & _GROUP_WORDS:
        return True
    last = words[-1]
    glued = last.endswith("id") and last[:-2] in _GROUP_PREFIXES | _ID_PREFIXES
    coded = len(words) > 1 and last in _GROUP_SUFFIXES and bool(set(words[:-1]) & _GROUP_PREFIXES)
    return glued or coded


def _is_boolean_pair(values: tuple) -> bool:
    lowered = {str(value).strip().lower() for value in values}
    return any(lowered == pair for pair in _BOOLEAN_PAIRS)


@dataclass(frozen=True)
class _Counts:
    """Distinct non-missing values of a column: how many, the most common, and (if <= 2) all."""

    unique: int
    top: object
    top_count: int
    values: tuple = ()


def _value_counts(series: pd.Series) -> _Counts:
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        # Arrow's dictionary encoding + bincount: a third cheaper than value_counts, which
        # also sorts and builds an Index of every distinct value.
        values = pa.array(series.array)  # the Arrow data itself, via __arrow_array__
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if values.null_count:
            values = values.drop_null()
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) == 0:
            return _Counts(0, None, 0)
        counts = np.bincount(encoded.indices.to_numpy(), minlength=len(encoded.dictionary))
        top = int(counts.argmax())
        small = tuple(encoded.dictionary.to_pylist()) if len(counts) <= 2 else ()
        return _Counts(len(counts), encoded.dictionary[top].as_py(), int(counts[top]), small)
    counts = series.value_counts(dropna=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        counts = counts[counts > 0]  # unobserved categories are not values of this column
    if counts.empty:
        return _Counts(0, None, 0)
    small = tuple(counts.index) if len(counts) <= 2 else ()
    return _Counts(len(counts), counts.index[0], int(counts.iloc[0]), small)


def _top_stats(counts: _Counts) -> dict:
    if counts.unique == 0:
        return {}
    return {"top": _json_value(counts.top), "top_count": counts.top_count}


_NUMERIC_STATS = ("mean", "std", "min", "p25", "median", "p75", "max", "infinities", "zeros")
_QUANTILES = (("p25", 0.25), ("median", 0.5), ("p75", 0.75))


def _numeric_summary(finite: np.ndarray, owned: bool = False) -> tuple[int, dict]:
    """Distinct count and statistics of finite numbers, by the cheapest exact route.

    `owned`: the array is a private copy that may be sorted in place.
    """
    count = len(finite)
    if count == 0:
        return 0, dict.fromkeys(_NUMERIC_STATS[:-2], None) | {"zeros": 0}
    if count > 1 and bool(np.all(finite[1:] >= finite[:-1])):
        ordered = finite  # row numbers, timestamps in order: nothing to sort
    elif (counted := _counted_summary(finite)) is not None:
        return counted
    elif _few_distinct(finite):
        return _tabulated_summary(finite)
    else:
        # Many distinct values: one sort gives the distinct count, extremes and quantiles in
        # about the time hashing alone would take.
        if owned:
            finite.sort()
            ordered = finite
        else:
            ordered = np.sort(finite)
    stats: dict[str, float | None] = {"min": float(ordered[0]), "max": float(ordered[-1])}
    for key, q in _QUANTILES:
        stats[key] = _sorted_quantile(ordered, q)
    stats["mean"] = float(ordered.mean())
    stats["std"] = float(ordered.std(ddof=1)) if count > 1 else None
    stats["zeros"] = int(np.searchsorted(ordered, 0, "right") - np.searchsorted(ordered, 0, "left"))
    return _sorted_distinct(ordered), stats


def _all_whole(finite: np.ndarray) -> bool:
    """Whether every value is a whole number (a sample rules most float columns out cheaply)."""
    if len(finite) == 0:
        return False
    sample = finite[_sample_positions(len(finite), STRING_SAMPLE_ROWS)]
    return bool(np.all(sample == np.floor(sample))) and bool(np.all(finite == np.floor(finite)))


def _few_distinct(finite: np.ndarray) -> bool:
    """Whether a fixed-seed sample suggests few distinct values (then counting beats sorting)."""
    sample = finite[_sample_positions(len(finite), STRING_SAMPLE_ROWS)]
    return len(np.unique(sample)) * 2 <= len(sample)


def _counted_summary(finite: np.ndarray) -> tuple[int, dict] | None:
    """For integers spanning at most twice their count: one bincount over the range, no sort.

    None for floats and for integers spread wider (then sorting or hashing is cheaper).
    """
    if finite.dtype.kind not in "iu" or len(finite) == 0:
        return None
    low, high = int(finite.min()), int(finite.max())
    if high - low + 1 > 2 * len(finite):
        return None
    counts = np.bincount((finite - finite.dtype.type(low)).astype(np.intp, copy=False))
    present = np.flatnonzero(counts)
    return _table_summary(present.astype("float64") + low, counts[present])


def _tabulated_summary(finite: np.ndarray) -> tuple[int, dict]:
    """Distinct count and statistics from a value -> count table (hash once, sort only uniques)."""
    codes, uniques = pd.factorize(finite)
    counts = np.bincount(codes, minlength=len(uniques))
    order = np.argsort(uniques)
    return _table_summary(uniques[order].astype("float64"), counts[order])


def _table_summary(values: np.ndarray, counts: np.ndarray) -> tuple[int, dict]:
    """Distinct count and statistics from distinct values in ascending order and their counts."""
    ends = np.cumsum(counts)  # values[i] holds ranks ends[i - 1] .. ends[i] - 1
    count = int(ends[-1])

    def at(rank: int) -> float:
        return float(values[np.searchsorted(ends, rank, side="right")])

    stats: dict[str, float | None] = {"min": float(values[0]), "max": float(values[-1])}
    for key, q in _QUANTILES:
        # numpy's default ("linear") interpolation between the two ranks around the position.
        position = q * (count - 1)
        low = math.floor(position)
        low_value, high_value = at(low), at(min(low + 1, count - 1))
        stats[key] = low_value + (high_value - low_value) * (position - low)
    mean = float(values @ counts) / count
    stats["mean"] = mean
    squares = float(((values - mean) ** 2) @ counts)
    stats["std"] = math.sqrt(squares / (count - 1)) if count > 1 else None
    stats["zeros"] = int(counts[values == 0].sum())
    return len(values), stats


def _sorted_quantile(ordered: np.ndarray, q: float) -> float:
    # numpy's default ("linear") interpolation, without re-partitioning a sorted array.
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def _sorted_distinct(ordered: np.ndarray) -> int:
    if len(ordered) == 0:
        return 0
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def _string_sample(series: pd.Series) -> pd.Series:
    """Up to STRING_SAMPLE_ROWS non-missing values as stripped str, picked with a fixed seed."""
    sample = series.iloc[_sample_positions(len(series), STRING_SAMPLE_ROWS)].dropna()
    if len(sample) < STRING_SAMPLE_ROWS // 4 and len(series) > STRING_SAMPLE_ROWS:
        # Mostly missing: sample among the values that are there.
        present = series.dropna()
        sample = present.iloc[_sample_positions(len(present), STRING_SAMPLE_ROWS)]
    return sample.astype("str").str.strip().reset_index(drop=True)


def _mean_length(series: pd.Series, sample: pd.Series) -> float | None:
    # Over Arrow storage the whole column is cheap and exact; Python objects use the sample.
    exact = isinstance(series.dtype, pd.StringDtype)
    mean = (series.str.len() if exact else sample.str.len()).mean()
    return None if pd.isna(mean) else float(mean)


# --- table-level checks ---------------------------------------------------------------------


def _count_duplicate_rows(df: pd.DataFrame, summaries: list[_Summary]) -> int:
    """Rows that repeat an earlier row exactly (missing equals missing)."""
    rows = len(df)
    if rows < 2 or not summaries:
        return 0
    # A row whose value in some column is unique there has no duplicate: start from the column
    # with the most distinct values and hash only the rows whose value there repeats.
    best = max(
        range(len(summaries)),
        key=lambda i: summaries[i].profile.unique + (summaries[i].profile.missing > 0),
    )
    if summaries[best].profile.unique == rows:
        return 0
    try:
        repeats = df.iloc[:, best].duplicated(keep=False).to_numpy()
        candidates = df.iloc[repeats]
        hashes = pd.util.hash_pandas_object(candidates, index=False)
    except TypeError:
        # Unhashable cells (lists, dicts): compare their text instead.
        hashes = pd.util.hash_pandas_object(df.astype("str"), index=False)
    return int(hashes.duplicated().sum())


def _alerts(summaries: list[_Summary], duplicates: int, rows: int) -> list[Alert]:
    alerts: list[Alert] = []
    if duplicates:
        share = _share(duplicates, rows)
        alerts.append(Alert("duplicate_rows", (), {"count": duplicates, "share": share}))
    for summary in summaries:
        column = summary.profile
        name = (column.name,)
        if column.role == "constant":
            alerts.append(Alert("constant", name, {"value": column.stats.get("top")}))
        if column.missing_share > MANY_MISSING_SHARE:
            params = {"share": column.missing_share, "count": column.missing}
            alerts.append(Alert("many_missing", name, params))
        if column.role == "identifier":
            alerts.append(Alert("identifier", name, {"unique": column.unique}))
        if column.role == "group":
            per = round((rows - column.missing) / column.unique, 1)
            alerts.append(Alert("group", name, {"unique": column.unique, "per": per}))
        if column.stats.get("infinities"):
            alerts.append(Alert("infinities", name, {"count": column.stats["infinities"]}))
        if column.mixed_types:
            params = {"share": round(summary.numeric_share, 4)}
            alerts.append(Alert("mixed_types", name, params))
    alerts.extend(_near_duplicate_alerts(summaries))
    return alerts


def _near_duplicate_alerts(summaries: list[_Summary]) -> list[Alert]:
    """Pairs of numeric columns with |Pearson r| > 0.95 on a fixed-seed sample of rows."""
    numeric = [item for item in summaries if item.values is not None][:_MAX_CORRELATED_COLUMNS]
    if len(numeric) < 2:
        return []
    # Pairwise Pearson with gaps costs rows x columns^2: shrink the sample for wide tables.
    columns = [item.values for item in numeric if item.values is not None]
    sampled = len(columns[0])
    budget = max(1_000, int(2e8 // len(numeric) ** 2))
    positions = _sample_positions(sampled, budget) if budget < sampled else slice(None)
    matrix = np.column_stack([values[positions] for values in columns])
    r = _pearson(matrix)
    alerts = []
    first, second = np.triu_indices(len(numeric), k=1)
    for i, j in zip(first, second, strict=True):
        if abs(r[i, j]) > NEAR_DUPLICATE_R:
            pair = (numeric[i].profile.name, numeric[j].profile.name)
            alerts.append(Alert("near_duplicate_columns", pair, {"r": round(float(r[i, j]), 4)}))
    return alerts


def _pearson(matrix: np.ndarray) -> np.ndarray:
    """Pearson r between columns; non-finite cells are left out pair by pair."""
    matrix = np.where(np.isfinite(matrix), matrix, np.nan)
    if not np.isnan(matrix).any():
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.corrcoef(matrix, rowvar=False)
        return np.atleast_2d(result)
    return pd.DataFrame(matrix).corr(min_periods=3).to_numpy()


# --- small helpers --------------------------------------------------------------------------


def _memory(series: pd.Series) -> int:
    """Bytes held by a column; for large object columns, estimated from a sample of objects."""
    if not ptypes.is_object_dtype(series.dtype) or len(series) <= _EXACT_OBJECT_MEMORY_ROWS:
        return int(series.memory_usage(deep=True, index=False))
    # Sizing each of a million Python objects costs more than profiling the column.
    sample = series.iloc[_sample_positions(len(series), STRING_SAMPLE_ROWS)]
    per_row = sample.memory_usage(deep=True, index=False) / len(sample)
    return int(per_row * len(series))


def _cost_rank(dtype: object) -> int:
    """Rough order of profiling cost per row: objects, then strings, then floats, then the rest."""
    if ptypes.is_object_dtype(dtype):
        return 0
    if isinstance(dtype, pd.StringDtype):
        return 1
    if ptypes.is_float_dtype(dtype):
        return 2
    return 3


def _workers(columns: int) -> int:
    return max(1, min(columns, os.cpu_count() or 1, 8))


@functools.lru_cache(maxsize=8)
def _sample_positions(
    rows: int, size: int = CORRELATION_SAMPLE_ROWS, seed: int = SAMPLE_SEED
) -> np.ndarray:
    if rows <= size:
        positions = np.arange(rows)
    else:
        positions = np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))
    positions.flags.writeable = False  # cached and shared between columns and threads
    return positions


def _as_float(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _iso(value: object) -> str:
    """A date or time as ISO 8601 text, with a time part even for plain dates."""
    return pd.Timestamp(value).isoformat()


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_value(value: object) -> object:
    """A value json.dumps accepts: numpy scalars unwrapped, NaN/inf as None, times as ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, np.datetime64 | pd.Timestamp | datetime | date):
        return None if pd.isna(value) else _iso(value)
    if isinstance(value, np.generic):
        value = value.item()  # numpy bool, int, float -> Python's
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return _json_float(value)
    return str(value)
