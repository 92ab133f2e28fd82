"""One graph from the raw row to the prediction: the fitted preprocessing as TensorFlow operations
in front of the network, so a SavedModel (TensorFlow Serving), an ONNX file (onnxruntime) and
`python -m core serve` all run the same computation as the app.

The signature (`serving_default`) takes one input per original column, keyed by `input_key(name)`
(TensorFlow allows only letters, digits, `_`, `.` and `-` in a key):

    numeric columns      float64, NaN for a missing value
    categorical columns  string, the value as text ("" for a missing value; whole numbers
                         without ".0", booleans as True/False: how the app reads a table)
    date columns         float64, seconds since 1970-01-01 00:00 of the date's own clock
                         time (UTC for a text with an offset), NaN for missing; `date_seconds`
                         turns texts into them as the app reads them. Numbers, not texts,
                         because ONNX has no standard operator that parses a date.

and returns, for a classifier, `classes` (the class names, [rows, k] strings), `scores` (their
probabilities, [rows, k] float32, same order) and `label` ([rows] string); for a regressor,
`value` ([rows] float32, in the target's own units).

How it stays exact: every categorical column's fitted steps (imputer, encoder with its "other"
bucket, scaler of ordinal codes) map one input text to one output row, so the graph is a table
lookup whose rows are computed by the fitted scikit-learn steps themselves (every category seen
in training, one unseen text, the missing value); numbers and date parts repeat the fitted
imputer, clip and scaler arithmetic in float64, as scikit-learn does, before the float32 cast.
`raw_row_plan` holds those constants as numpy (no TensorFlow); TensorFlow is imported only in
the functions that build the graph.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import keras

    from core.prep.preprocessing import Preprocessor

SIGNATURE = "serving_default"
# A text no table holds: its row is what any category unseen in training becomes.
UNSEEN = "\x00modeldesk-unseen\x00"
INPUT_DTYPES = {"numeric": "float64", "categorical": "string", "datetime": "float64"}
EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class GraphInput:
    """One input of the signature: the original column, its key, kind and dtype."""

    column: str
    key: str
    kind: str  # numeric, categorical, datetime

    @property
    def dtype(self) -> str:
        """float64 for numbers, string otherwise."""
        return INPUT_DTYPES[self.kind]


@dataclass(frozen=True, eq=False)
class Block:
    """One block of model inputs, in the fitted ColumnTransformer's order.

    kind "numbers": the input's values (one column, or a date's parts) through an imputer
    (`fill`, NaN where none), clip (`low`/`high`) and an affine scaler (`scaler`: standard,
    minmax, robust or none, with `center` and `scale` so that out = (x - center) / scale,
    or x * scale + center for minmax). kind "lookup": `keys` (texts seen in training) to rows
    of `rows`, then one row for an unseen text and one for a missing value. kind "missing":
    one 0/1 column, was the value missing.
    """

    kind: str
    input: int  # index into RawRowPlan.inputs
    parts: tuple[str, ...] = ()  # date parts, for a date input
    fill: np.ndarray | None = None
    low: float | None = None
    high: float | None = None
    scaler: str = "none"
    center: np.ndarray | None = None
    scale: np.ndarray | None = None
    keys: tuple[str, ...] = ()
    rows: np.ndarray | None = None  # (len(keys) + 2, width) float64

    @property
    def width(self) -> int:
        """Model inputs this block gives."""
        if self.kind == "lookup":
            assert self.rows is not None
            return int(self.rows.shape[1])
        if self.kind == "missing":
            return 1
        return max(len(self.parts), 1)


@dataclass(frozen=True, eq=False)
class RawRowPlan:
    """Everything the raw-row graph needs, as plain data from a fitted Preprocessor."""

    task: str
    classes: tuple[str, ...]
    inputs: tuple[GraphInput, ...]
    blocks: tuple[Block, ...]
    features: int
    keys: dict[str, str] = field(default_factory=dict)  # column -> signature key

    def signature(self) -> dict[str, Any]:
        """The documented signature: inputs (column, key, kind, dtype) and outputs."""
        if self.task == "regression":
            outputs = {"value": {"dtype": "float32", "shape": [-1]}}
        else:
            k = len(self.classes)
            outputs = {
                "classes": {"dtype": "string", "shape": [-1, k]},
                "scores": {"dtype": "float32", "shape": [-1, k]},
                "label": {"dtype": "string", "shape": [-1]},
            }
        return {
            "signature_name": SIGNATURE,
            "task": self.task,
            "classes": list(self.classes),
            "inputs": [
                {"column": i.column, "key": i.key, "kind": i.kind, "dtype": i.dtype}
                for i in self.inputs
            ],
            "outputs": outputs,
        }


def input_key(name: str, taken: set[str] | None = None) -> str:
    """A signature key for a column name: lower case, TensorFlow's allowed characters, unique
    in `taken`."""
    # Lower case: TensorFlow names a signature's placeholders in lower case, and the ONNX
    # converter takes its input names from them, so one spelling serves both.
    key = re.sub(r"[^a-z0-9_.\-]", "_", str(name).lower())
    if not key or not re.match(r"[a-z0-9.]", key[0]):
        key = "c" + key
    if taken is not None:
        base, number = key, 2
        while key in taken:
            key, number = f"{base}_{number}", number + 1
        taken.add(key)
    return key


def raw_row_plan(preprocessor: Preprocessor) -> RawRowPlan:
    """The fitted preprocessing as constants for the graph (no TensorFlow)."""
    schema = preprocessor.schema_
    taken: set[str] = set()
    inputs = tuple(
        GraphInput(item["name"], input_key(item["name"], taken), item["kind"]) for item in schema
    )
    index_of = {item["name"]: position for position, item in enumerate(schema)}
    kept = preprocessor.spec.kept
    blocks: list[Block] = []
    for step, fitted, _columns in preprocessor.transformer_.transformers_:
        if step == "remainder":
            continue
        plan = kept[int(step[1:])]
        position = index_of[plan.name]
        if step.startswith("m"):
            blocks.append(Block("missing", position))
        elif plan.kind == "categorical":
            blocks.append(_lookup_block(position, plan.name, fitted))
        else:
            parts = tuple(plan.datetime_parts) if plan.kind == "datetime" else ()
            blocks.append(_number_block(position, parts, fitted))
    features = sum(block.width for block in blocks)
    if features != len(preprocessor.feature_names_):
        expected = len(preprocessor.feature_names_)
        raise ValueError(f"the graph gives {features} features, the pipeline {expected}")
    return RawRowPlan(
        task=preprocessor.spec.task,
        classes=tuple(str(label) for label in preprocessor.classes_),
        inputs=inputs,
        blocks=tuple(blocks),
        features=features,
        keys={i.column: i.key for i in inputs},
    )


def _number_block(position: int, parts: tuple[str, ...], fitted: Any) -> Block:
    width = max(len(parts), 1)
    fill = low = high = center = scale = None
    scaler = "none"
    steps = [] if isinstance(fitted, str) else [step for _name, step in fitted.steps]
    for step in steps:
        kind = type(step).__name__
        if kind == "SimpleImputer":
            fill = np.asarray(step.statistics_, dtype=np.float64).reshape(width)
        elif kind == "FunctionTransformer":
            low, high = float(step.kw_args["a_min"]), float(step.kw_args["a_max"])
        elif kind == "StandardScaler":
            scaler = "standard"
            center = _vector(step.mean_, 0.0, width)
            scale = _vector(step.scale_, 1.0, width)
        elif kind == "RobustScaler":
            scaler = "robust"
            center = _vector(step.center_, 0.0, width)
            scale = _vector(step.scale_, 1.0, width)
        elif kind == "MinMaxScaler":
            scaler = "minmax"
            center = _vector(step.min_, 0.0, width)
            scale = _vector(step.scale_, 1.0, width)
        else:
            raise ValueError(f"no graph for the fitted step {kind}")
    return Block(
        "numbers",
        position,
        parts=parts,
        fill=fill,
        low=low,
        high=high,
        scaler=scaler,
        center=center,
        scale=scale,
    )


def _vector(values: Any, neutral: float, width: int) -> np.ndarray:
    if values is None:
        return np.full(width, neutral, dtype=np.float64)
    return np.asarray(values, dtype=np.float64).reshape(width)


def _lookup_block(position: int, name: str, fitted: Any) -> Block:
    encoder = next(step for _n, step in fitted.steps if hasattr(step, "categories_"))
    known = [value for value in encoder.categories_[0] if isinstance(value, str) and value != ""]
    values = [*known, UNSEEN, np.nan]
    frame = pd.DataFrame({name: pd.Series(values, dtype=object)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unknown categories" is the point of the UNSEEN row
        rows = np.asarray(fitted.transform(frame), dtype=np.float64)
    return Block("lookup", position, keys=tuple(known), rows=rows)


def category_text(value: object) -> str:
    """A categorical value as the graph's input text, as the app reads it: 1, 1.0 and "1" are
    one category, booleans are True/False, and a missing value is ""."""
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def date_seconds(column: pd.Series) -> np.ndarray:
    """Date values as the graph's input: seconds since 1970-01-01 of their clock time, NaN where
    missing or not a date. Parsed as the app parses them (prepare_frame): as given, then mixed
    formats, then mixed with UTC offsets, keeping the reading that understands the most."""
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column
    else:
        parsed = None
        for options in ({}, {"format": "mixed"}, {"format": "mixed", "utc": True}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    attempt = pd.to_datetime(column, errors="coerce", **options)
                except (ValueError, TypeError, OverflowError):
                    continue
            if parsed is None or attempt.isna().sum() < parsed.isna().sum():
                parsed = attempt
            if parsed.isna().sum() == column.isna().sum():
                break
        if parsed is None:
            return np.full(len(column), np.nan)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    seconds = (parsed - EPOCH) / pd.Timedelta(seconds=1)
    return np.asarray(seconds, dtype=np.float64)


def feed_frame(plan: RawRowPlan, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A table's rows as the graph's inputs, keyed by signature key (missing columns: KeyError)."""
    feed: dict[str, np.ndarray] = {}
    for item in plan.inputs:
        column = frame[item.column]
        if item.kind == "numeric":
            if isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype(object)
            numbers = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
            feed[item.key] = np.where(np.isfinite(numbers), numbers, np.nan)
        elif item.kind == "categorical":
            feed[item.key] = np.array([category_text(v) for v in column.tolist()], dtype=object)
        else:
            feed[item.key] = date_seconds(column.reset_index(drop=True))
    return feed


# --- TensorFlow ---------------------------------------------------------------------------------


def build_module(plan: RawRowPlan, model: keras.Model) -> Any:
    """A tf.Module whose `serve` is the raw-row signature (positional inputs in plan order)."""
    import tensorflow as tf

    class RawRowModel(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="modeldesk_raw_row")
            self.model = model
            self.tables: list[Any] = []
            for block in plan.blocks:
                if block.kind != "lookup":
                    self.tables.append(None)
                    continue
                # Known texts to their rows, "" to the missing row (after the unseen one).
                keys = tf.constant([*block.keys, ""], dtype=tf.string)
                codes = tf.constant([*range(len(block.keys)), len(block.keys) + 1], tf.int64)
                initializer = tf.lookup.KeyValueTensorInitializer(keys, codes)
                self.tables.append(
                    tf.lookup.StaticHashTable(initializer, default_value=len(block.keys))
                )
            specs = [
                tf.TensorSpec(
                    [None], tf.string if i.kind == "categorical" else tf.float64, name=i.key
                )
                for i in plan.inputs
            ]
            self.serve = tf.function(self._serve, input_signature=specs, autograph=False)

        def _serve(self, *values: Any) -> dict[str, Any]:
            features = graph_features(plan, values, self.tables)
            outputs = self.model(features, training=False)
            return graph_outputs(plan, outputs)

    return RawRowModel()


def graph_features(plan: RawRowPlan, values: Any, tables: list[Any]) -> Any:
    """The model's float32 input matrix from the raw inputs (TensorFlow ops)."""
    import tensorflow as tf

    columns = []
    dates: dict[int, dict[str, Any]] = {}
    codes: dict[int, Any] = {}  # per categorical input: row of its lookup, "" -> missing row
    for block, table in zip(plan.blocks, tables, strict=True):
        if block.kind == "lookup":
            # "" is a key of the table itself: tf2onnx turns a string Equal into a number cast.
            codes[block.input] = table.lookup(values[block.input])
    for block in plan.blocks:
        raw = values[block.input]
        kind = plan.inputs[block.input].kind
        if block.kind == "missing":
            if kind == "categorical":
                missing = tf.equal(codes[block.input], _missing_code(plan, block.input))
            else:
                missing = tf.math.is_nan(raw)
            columns.append(tf.cast(missing, tf.float64)[:, None])
        elif block.kind == "lookup":
            assert block.rows is not None
            columns.append(tf.gather(tf.constant(block.rows, tf.float64), codes[block.input]))
        else:
            if kind == "numeric":
                x = tf.reshape(raw, [-1, 1])
            else:
                parts = _cached_parts(dates, block.input, raw)
                x = tf.stack([parts[part] for part in block.parts], axis=1)
            columns.append(_numbers(block, x))
    return tf.cast(tf.concat(columns, axis=1), tf.float32)


def _missing_code(plan: RawRowPlan, position: int) -> int:
    lookup = next(b for b in plan.blocks if b.kind == "lookup" and b.input == position)
    return len(lookup.keys) + 1


def _cached_parts(dates: dict[int, dict[str, Any]], position: int, raw: Any) -> dict[str, Any]:
    if position not in dates:
        dates[position] = _date_parts(raw)
    return dates[position]


def _numbers(block: Block, x: Any) -> Any:
    import tensorflow as tf

    x = tf.where(tf.math.is_finite(x), x, tf.constant(np.nan, tf.float64))
    if block.fill is not None:
        x = tf.where(tf.math.is_nan(x), tf.constant(block.fill[None, :], tf.float64), x)
    if block.low is not None and block.high is not None:
        # np.clip keeps NaN; so do minimum and maximum here.
        x = tf.where(tf.math.is_nan(x), x, tf.clip_by_value(x, block.low, block.high))
    if block.scaler in ("standard", "robust"):
        x = (x - tf.constant(block.center, tf.float64)) / tf.constant(block.scale, tf.float64)
    elif block.scaler == "minmax":
        x = x * tf.constant(block.scale, tf.float64) + tf.constant(block.center, tf.float64)
    return x


def _date_parts(seconds: Any) -> dict[str, Any]:
    """year, month, dayofweek (Monday 0) and hour of times given as seconds since 1970-01-01
    (float64, NaN where missing), by H. Hinnant's civil_from_days, in float64 floors only so
    the ONNX conversion keeps the same arithmetic."""
    import tensorflow as tf

    def floor_div(a: Any, b: float) -> Any:
        return tf.floor(a / b)

    days = floor_div(seconds, 86400.0)
    hour = floor_div(seconds - days * 86400.0, 3600.0)
    z = days + 719468.0
    era = floor_div(z, 146097.0)
    day_of_era = z - era * 146097.0
    year_of_era = floor_div(
        day_of_era
        - floor_div(day_of_era, 1460.0)
        + floor_div(day_of_era, 36524.0)
        - floor_div(day_of_era, 146096.0),
        365.0,
    )
    day_of_year = day_of_era - (
        365.0 * year_of_era + floor_div(year_of_era, 4.0) - floor_div(year_of_era, 100.0)
    )
    shifted_month = floor_div(5.0 * day_of_year + 2.0, 153.0)
    month = tf.where(shifted_month < 10.0, shifted_month + 3.0, shifted_month - 9.0)
    year = year_of_era + era * 400.0 + tf.cast(month <= 2.0, tf.float64)
    # 1970-01-01 was a Thursday (3 with Monday 0).
    weekday = days + 3.0 - 7.0 * floor_div(days + 3.0, 7.0)
    return {"year": year, "month": month, "dayofweek": weekday, "hour": hour}


def graph_outputs(plan: RawRowPlan, outputs: Any) -> dict[str, Any]:
    """The signature's outputs from the network's output."""
    import tensorflow as tf

    outputs = tf.cast(outputs, tf.float32)
    if plan.task == "regression":
        return {"value": outputs[:, 0]}
    if plan.task == "binary":
        positive = outputs[:, 0]
        scores = tf.stack([1.0 - positive, positive], axis=1)
        codes = tf.cast(positive >= 0.5, tf.int64)
    else:
        scores = outputs
        codes = tf.argmax(outputs, axis=1)
    classes = tf.constant(list(plan.classes), tf.string)
    rows = tf.shape(scores)[0]
    return {
        "classes": tf.tile(classes[None, :], tf.stack([rows, 1])),
        "scores": scores,
        "label": tf.gather(classes, codes),
    }


def save_saved_model(
    preprocessor: Preprocessor, model: keras.Model, folder: str | Path
) -> RawRowPlan:
    """Write the raw-row SavedModel (signature `serving_default`) into `folder`."""
    import tensorflow as tf

    plan = raw_row_plan(preprocessor)
    module = build_module(plan, model)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        tf.saved_model.save(module, str(folder), signatures={SIGNATURE: module.serve})
    return plan
