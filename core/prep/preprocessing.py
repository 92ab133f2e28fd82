"""Preprocessing: the task, a per-column plan with reasons, leak-free splits, a fitted pipeline."""

from __future__ import annotations

import inspect
import itertools
import json
import textwrap
import warnings
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as skops_io
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import (
    GroupShuffleSplit,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from core import limits
from core.data.profile import ColumnProfile, Profile, profile_frame
from core.i18n import DEFAULT_LANGUAGE, Message, UserError, t

TASKS = ("regression", "binary", "multiclass")
ACTIONS = ("keep", "drop")
KINDS = ("numeric", "categorical", "datetime")
IMPUTES = ("mean", "median", "most_frequent", "constant", "none")
SCALES = ("standard", "minmax", "robust", "none", "ple")
ENCODINGS = ("onehot", "ordinal")
DATETIME_PARTS = ("year", "month", "dayofweek", "hour")

MAX_CLASS_LEVELS = 20  # whole-number targets with at most this many values are class labels
IMBALANCE_SHARE = 0.10  # a class below this share of rows is severe imbalance
LEAKAGE_SCORE = 0.99  # one column alone scoring this well (0-1) almost surely leaks the target
LEAKAGE_SAMPLE = 2000  # rows used to judge leakage: enough to be sure, cheap on big tables
LEAKAGE_MIN_ROWS = 20  # below this, a perfect score is luck, not leakage
DEFAULT_MAX_CATEGORIES = 20
MAX_CATEGORIES = 1_000  # an uploaded plan cannot ask for more one-hot columns per feature
DEFAULT_MIN_FREQUENCY = 0.01
# Piecewise-linear encoding ("ple"): quantile bins of the training rows (Gorishniy et al., "On
# Embeddings for Numerical Features in Tabular Deep Learning", 2022).
PLE_BINS = 16
SPEC_VERSION = 1
SPLIT_FIELDS = ("val_share", "test_share", "seed", "stratify", "group")
MAX_SEED = 2**32 - 1

# The saved folder: a pure scikit-learn object, its metadata, and the pandas step as source, so
# a fresh Python with only pandas, numpy and scikit-learn can apply it without this package.
TRANSFORMER_FILE = "transformer.skops"
# skops.io refuses every type it does not trust; scikit-learn's own estimators are trusted by
# default, and these are the only others a fitted plan contains. Nothing in the file is executed.
TRUSTED_TYPES: tuple[str, ...] = ("numpy.clip", "numpy.dtype")
METADATA_FILE = "preprocessing.json"
PREPARE_FILE = "prepare.py"
ARTIFACT_FORMAT = "modeldesk.preprocessing"
# The reason a plan row carries once the user has changed it.
USER_CHOICE = Message("preprocess.reason.user")


@dataclass(frozen=True)
class TaskInfo:
    """The detected task, why, and the class labels as text (empty for regression)."""

    task: str
    reason: Message
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnPlan:
    """One row of the editable plan: what happens to one input column, and why."""

    name: str
    action: str = "keep"  # ACTIONS
    kind: str = "numeric"  # KINDS
    impute: str = "median"  # IMPUTES; categories allow most_frequent, constant, none
    fill_value: str | float | None = None  # for impute="constant"; None: 0 or "missing_value"
    add_indicator: bool = False  # one more 0/1 feature: was the value missing?
    scale: str = "standard"  # SCALES; numbers, date parts and ordinal codes (not one-hot)
    encoding: str = "onehot"  # ENCODINGS, categories only
    max_categories: int = DEFAULT_MAX_CATEGORIES  # one-hot columns at most, "other" included
    min_frequency: float = DEFAULT_MIN_FREQUENCY  # share of rows below which a category is "other"
    clip: tuple[float, float] | None = None  # quantiles of the training rows, numbers only
    datetime_parts: tuple[str, ...] = ()  # DATETIME_PARTS, dates only
    reason: Message = USER_CHOICE

    def __post_init__(self) -> None:
        _validate_plan(self)


@dataclass(frozen=True)
class PreprocessSpec:
    """All preprocessing choices: target, task, one plan per input column, and the split."""

    target: str
    task: str
    columns: tuple[ColumnPlan, ...]
    val_share: float = 0.15
    test_share: float = 0.15
    seed: int = 42
    stratify: bool = True
    group: str | None = None  # split by this column's groups: no group in two splits

    def __post_init__(self) -> None:
        _check(isinstance(self.target, str) and self.target != "", "target", self.target, "text")
        _check(self.task in TASKS, "task", self.task, TASKS)
        ok = isinstance(self.columns, list | tuple) and all(
            isinstance(c, ColumnPlan) for c in self.columns
        )
        _check(ok, "columns", type(self.columns).__name__, "a list of column plans")
        object.__setattr__(self, "columns", tuple(self.columns))
        if len(self.columns) > limits.max_columns():  # no table this server loads has more
            raise UserError(
                "limits.error.too_many_columns",
                name="plan",
                columns=len(self.columns),
                limit=limits.max_columns(),
            )
        # One pass with a counter: a plan of 100,000 columns is checked in milliseconds.
        counts = Counter(plan.name for plan in self.columns)
        repeated = sorted(str(name) for name, count in counts.items() if count > 1)
        _check(not repeated, "columns", ", ".join(repeated[:10]), "each column once")
        _check(self.target not in counts, "columns", self.target, "not the target")
        # The seed reaches numpy and scikit-learn, whose generators take 32-bit seeds.
        ok = isinstance(self.seed, int) and not isinstance(self.seed, bool)
        _check(ok and 0 <= self.seed <= MAX_SEED, "seed", self.seed, f"a whole number 0-{MAX_SEED}")
        _check(isinstance(self.stratify, bool), "stratify", self.stratify, "true, false")
        ok = self.group is None or (isinstance(self.group, str) and self.group != self.target)
        _check(ok, "group", self.group, "a column other than the target, or null")
        shares = (self.val_share, self.test_share)
        # Both held-out sets must exist: without validation rows nothing picks the best epoch,
        # without test rows the headline metric has nothing to measure.
        if not all(_is_number(s) and 0 < s < 1 for s in shares) or sum(shares) > 0.9 + 1e-9:
            raise UserError(
                "preprocess.error.shares", val=str(self.val_share), test=str(self.test_share)
            )
        object.__setattr__(self, "val_share", float(self.val_share))
        object.__setattr__(self, "test_share", float(self.test_share))

    @property
    def kept(self) -> tuple[ColumnPlan, ...]:
        """The plans of columns that become features."""
        return tuple(plan for plan in self.columns if plan.action == "keep")

    def column(self, name: str) -> ColumnPlan:
        """The plan for one column."""
        for plan in self.columns:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def to_json(self) -> str:
        """This spec as JSON: what the page downloads and the CLI's --config accepts."""
        data = {
            "version": SPEC_VERSION,
            "target": self.target,
            "task": self.task,
            "val_share": self.val_share,
            "test_share": self.test_share,
            "seed": self.seed,
            "stratify": self.stratify,
            **({"group": self.group} if self.group is not None else {}),
            "columns": [_plan_to_dict(plan) for plan in self.columns],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> PreprocessSpec:
        """The spec a JSON text describes; anything malformed is a UserError that names it."""
        try:
            data = limits.loads(text, what="plan")
        except json.JSONDecodeError as error:
            raise UserError(
                "preprocess.error.spec_not_json", line=error.lineno, column=error.colno
            ) from None
        except UnicodeDecodeError:
            raise UserError("preprocess.error.spec_not_json", line=1, column=1) from None
        if not isinstance(data, dict):
            raise UserError("preprocess.error.spec_not_object")
        if data.get("version", SPEC_VERSION) != SPEC_VERSION:
            raise UserError("preprocess.error.spec_version", version=str(data.get("version")))
        known = {"version", "target", "task", "columns", *SPLIT_FIELDS}
        _check_keys(data, known, required=("target", "task", "columns"), where="")
        columns = data["columns"]
        _check(
            isinstance(columns, list), "columns", type(columns).__name__, "a list of column plans"
        )
        if len(columns) > limits.max_columns():  # before any plan is read
            raise UserError(
                "limits.error.too_many_columns",
                name="plan",
                columns=len(columns),
                limit=limits.max_columns(),
            )
        plans = tuple(_plan_from_dict(item, index) for index, item in enumerate(columns))
        options = {key: data[key] for key in SPLIT_FIELDS if key in data}
        return cls(target=data["target"], task=data["task"], columns=plans, **options)


@dataclass(frozen=True, eq=False)
class Splits:
    """Train, validation and test rows (features keep their original columns), plus notices."""

    X_train: pd.DataFrame
    X_val: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_val: pd.Series
    y_test: pd.Series
    dropped_missing_target: int
    notices: tuple[Message, ...] = ()


@dataclass(frozen=True)
class RowError:
    """One value in one input row that can't be read as its column's kind."""

    position: int  # 0-based position of the row in the batch
    column: str
    value: str
    message: Message


@dataclass(frozen=True)
class InputCheck:
    """What a prediction batch looks like to the fitted pipeline: bad rows and notices."""

    rows: int
    errors: tuple[RowError, ...] = ()
    notices: tuple[Message, ...] = ()

    @property
    def bad_positions(self) -> tuple[int, ...]:
        """Positions of rows with at least one unreadable value."""
        return tuple(sorted({error.position for error in self.errors}))

    def good_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` (the checked batch) that can be transformed safely."""
        mask = np.ones(len(frame), dtype=bool)
        mask[list(self.bad_positions)] = False
        return frame.iloc[mask]


def detect_task(target: pd.Series) -> TaskInfo:
    """Regression or binary/multiclass classification, from the target's type and values."""
    name = str(target.name)
    values = target.dropna()
    if values.empty:
        raise UserError("preprocess.error.target_empty", target=name)
    unique = int(values.nunique())
    if unique < 2:
        raise UserError("preprocess.error.single_class", target=name, value=_text(values.iloc[0]))
    if pd.api.types.is_datetime64_any_dtype(values):
        raise UserError("preprocess.error.target_datetime", target=name)
    if _is_boolean(values):
        reason = Message("preprocess.task.reason.boolean")
    elif pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype="float64")
        whole = bool(np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)))
        if not whole or unique > MAX_CLASS_LEVELS:
            reason = Message(
                "preprocess.task.reason.numeric", {"unique": unique, "limit": MAX_CLASS_LEVELS}
            )
            return TaskInfo("regression", reason)
        reason = Message(
            "preprocess.task.reason.whole_numbers", {"unique": unique, "limit": MAX_CLASS_LEVELS}
        )
    else:
        reason = Message("preprocess.task.reason.labels", {"unique": unique})
    task = "binary" if unique == 2 else "multiclass"
    return TaskInfo(task, reason, tuple(_text(value) for value in _class_values(values)))


def default_spec(
    frame: pd.DataFrame, target: str, task: str | None = None, profile: Profile | None = None
) -> PreprocessSpec:
    """A plan that works without touching anything: each column's default from its profile."""
    _check_frame(frame)
    if target not in frame.columns:
        raise UserError("preprocess.error.target_not_found", target=str(target))
    if task is None:
        task = detect_task(frame[target]).task
    _check(task in TASKS, "task", task, TASKS)
    profile = profile if profile is not None else profile_frame(frame)
    plans = [_default_plan(frame, profile.column(name)) for name in frame.columns if name != target]
    leaks = _leakage_scores(frame, target, task, [plan for plan in plans if plan.action == "keep"])
    kept = [plan for plan in plans if plan.action == "keep"]
    # If every feature looks leaky the table is more likely just easy (a clean line) than
    # all-leaking: keep them, and plan_warnings still says so.
    if leaks and len(leaks) < len(kept):
        plans = [
            _drop(plan, Message("preprocess.reason.leakage", {"score": leaks[plan.name]}))
            if plan.name in leaks
            else plan
            for plan in plans
        ]
    groups = [
        column.name
        for column in profile.columns
        if column.role == "group" and column.name != target and column.name in frame.columns
    ]
    return PreprocessSpec(
        target=target, task=task, columns=tuple(plans), group=groups[0] if groups else None
    )


def split_explanation(spec: PreprocessSpec) -> Message:
    """One line on how the rows are split: by row (stratified or not) or by group."""
    if spec.group is not None:
        key = (
            "special.split.by_group_stratified"
            if spec.task != "regression" and spec.stratify
            else "special.split.by_group"
        )
        return Message(key, {"column": spec.group})
    key = (
        "special.split.by_row_stratified"
        if spec.task != "regression" and spec.stratify
        else "special.split.by_row"
    )
    return Message(key)


def plan_warnings(frame: pd.DataFrame, spec: PreprocessSpec) -> list[Message]:
    """What in this plan will likely hurt the model: imbalance, leakage, mismatches."""
    _check_frame(frame)
    if spec.target not in frame.columns:
        raise UserError("preprocess.error.target_not_found", target=spec.target)
    found: list[Message] = []
    target = frame[spec.target].dropna()
    listed = {plan.name for plan in spec.columns}
    absent = [plan.name for plan in spec.columns if plan.name not in frame.columns]
    if absent:
        found.append(Message("preprocess.warning.columns_absent", {"columns": _names(absent)}))
    unplanned = [str(c) for c in frame.columns if c != spec.target and c not in listed]
    if unplanned:
        found.append(
            Message("preprocess.warning.columns_unplanned", {"columns": _names(unplanned)})
        )
    if target.empty:
        return found
    classes = _class_values(target) if spec.task != "regression" else []
    if spec.task == "regression":
        if _non_numeric_share(target) > 0:
            found.append(
                Message("preprocess.warning.regression_not_numeric", {"target": spec.target})
            )
    elif spec.task == "binary" and len(classes) != 2:
        found.append(Message("preprocess.warning.binary_not_two", {"count": len(classes)}))
    elif len(classes) > MAX_CLASS_LEVELS:
        found.append(Message("preprocess.warning.many_classes", {"count": len(classes)}))
    if spec.task != "regression" and len(classes) >= 2:
        counts = Counter(_plain(value) for value in target.tolist())
        label, count = min(counts.items(), key=lambda item: item[1])
        share = count / len(target)
        if share < IMBALANCE_SHARE:
            found.append(
                Message("preprocess.warning.imbalance", {"label": _text(label), "share": share})
            )
    kept = [plan for plan in spec.kept if plan.name in frame.columns]
    for plan in kept:
        column = frame[plan.name]
        if plan.impute == "none" and plan.kind != "categorical" and column.isna().any():
            found.append(Message("preprocess.warning.missing_not_imputed", {"column": plan.name}))
        if plan.kind == "numeric":
            share = _non_numeric_share(column)
            if share > 0:
                found.append(
                    Message("preprocess.warning.not_numeric", {"column": plan.name, "share": share})
                )
        if plan.kind == "datetime":
            share = _non_date_share(column)
            if share > 0:
                found.append(
                    Message("preprocess.warning.not_dates", {"column": plan.name, "share": share})
                )
    for name, score in _leakage_scores(frame, spec.target, spec.task, kept).items():
        found.append(Message("preprocess.warning.leakage", {"column": name, "score": score}))
    return found


def split_frame(frame: pd.DataFrame, spec: PreprocessSpec) -> Splits:
    """Train/validation/test rows by the spec's shares and seed, stratified for classes."""
    _check_frame(frame)
    if spec.target not in frame.columns:
        raise UserError("preprocess.error.target_not_found", target=spec.target)
    features = [name for name in frame.columns if name != spec.target]
    if not features:
        raise UserError("preprocess.error.target_only_column", target=spec.target)
    if not spec.kept:
        raise UserError("preprocess.error.no_features")
    absent = [plan.name for plan in spec.kept if plan.name not in frame.columns]
    if absent:
        raise UserError("preprocess.error.kept_columns_absent", columns=_names(absent))
    target = frame[spec.target]
    present = target.notna().to_numpy()
    dropped = int((~present).sum())
    if not present.any():
        raise UserError("preprocess.error.no_rows", dropped=dropped, target=spec.target)
    X, y = frame.loc[present, features], target[present]
    _check_target(y, spec.task, spec.target)
    notices = (
        [Message("preprocess.notice.missing_target_dropped", {"count": dropped})] if dropped else []
    )
    stratify = spec.stratify and spec.task != "regression"
    val_of_rest = spec.val_share / (1 - spec.test_share)
    if spec.group is not None:
        if spec.group not in frame.columns:
            raise UserError("special.error.group_not_found", column=spec.group)
        X_rest, X_test, y_rest, y_test = _split_off_groups(
            X, y, spec.group, spec.test_share, spec.seed, stratify, notices
        )
        X_train, X_val, y_train, y_val = _split_off_groups(
            X_rest, y_rest, spec.group, val_of_rest, spec.seed, stratify, notices
        )
    else:
        X_rest, X_test, y_rest, y_test = _split_off(
            X, y, spec.test_share, spec.seed, stratify, notices
        )
        X_train, X_val, y_train, y_val = _split_off(
            X_rest, y_rest, val_of_rest, spec.seed, stratify, notices
        )
    if spec.task != "regression":
        X_train, y_train, X_val, y_val, X_test, y_test = _classes_into_train(
            X_train, y_train, X_val, y_val, X_test, y_test, notices, spec.group
        )
    return Splits(X_train, X_val, X_test, y_train, y_val, y_test, dropped, _unique(notices))


def load_transformer(file: str | Path) -> Any:
    """A fitted ColumnTransformer read from a skops file, as data: ValueError for any type
    beyond scikit-learn's and TRUSTED_TYPES (a planted callable or class is never imported)."""
    untrusted = set(skops_io.get_untrusted_types(file=file)) - set(TRUSTED_TYPES)
    if untrusted:
        raise ValueError(f"untrusted types in {Path(file).name}: {sorted(untrusted)}")
    return skops_io.load(file, trusted=list(TRUSTED_TYPES))


class Preprocessor:
    """The spec's plan as a fitted scikit-learn ColumnTransformer; fit on training rows only."""

    def __init__(self, spec: PreprocessSpec) -> None:
        self.spec = spec

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> Preprocessor:
        """Learn imputation values, scales, categories, clip bounds (and classes) from X, y."""
        kept = self.spec.kept
        if not kept:
            raise UserError("preprocess.error.no_features")
        _require_columns(X, [plan.name for plan in kept])
        if len(X) == 0:
            raise UserError("preprocess.error.too_few_rows", rows=0)
        schema = [_schema_item(plan) for plan in kept]
        prepared = prepare_frame(X, schema)
        _check_feature_count(kept, prepared)
        bounds: dict[str, list[float]] = {}
        transformers: list[tuple[str, Any, list[str]]] = []
        for index, plan in enumerate(kept):
            columns = _prepared_columns(plan)
            if plan.kind == "numeric" and plan.clip is not None:
                bounds.update(_clip_bounds(plan, prepared[plan.name]))
            knots = None
            if plan.scale == "ple":
                knots = ple_knots(prepared[plan.name], bounds.get(plan.name))
            steps = _value_steps(plan, bounds.get(plan.name), knots)
            transformers.append((f"v{index}", steps, columns))
            if plan.add_indicator:
                transformers.append((f"m{index}", MissingIndicator(features="all"), columns[:1]))
        transformer = ColumnTransformer(transformers, sparse_threshold=0.0)
        transformer.fit(prepared)
        self.transformer_ = transformer
        self.schema_ = schema
        self.clip_bounds_ = bounds
        self.feature_names_ = _feature_names(transformer, kept)
        self.classes_ = (
            _fit_classes(y, self.spec) if y is not None and self.spec.task != "regression" else []
        )
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The model's input: float32, one column per name in feature_names_."""
        self._require_fitted()
        _require_columns(X, [item["name"] for item in self.schema_])
        if len(X) == 0:
            return np.empty((0, len(self.feature_names_)), dtype=np.float32)
        values = self.transformer_.transform(prepare_frame(X, self.schema_))
        return np.asarray(values, dtype=np.float32)

    def fit_transform(self, X: pd.DataFrame, y: pd.Series | None = None) -> np.ndarray:
        """fit, then transform the same rows."""
        return self.fit(X, y).transform(X)

    def encode_target(self, y: pd.Series | Sequence) -> np.ndarray:
        """Class codes (int64, in classes_ order) or regression values (float32)."""
        self._require_fitted()
        y = pd.Series(y)
        if self.spec.task == "regression":
            numbers = pd.to_numeric(y, errors="coerce")
            bad = numbers.isna() & y.notna()
            if bad.any():
                value = _text(y[bad].iloc[0])
                raise UserError(
                    "preprocess.error.regression_not_numeric", target=self.spec.target, value=value
                )
            return numbers.to_numpy(dtype=np.float32)
        codes = {label: code for code, label in enumerate(self.classes_)}
        unknown = [value for value in y.tolist() if _plain(value) not in codes]
        if unknown:
            raise UserError(
                "preprocess.error.unknown_label", value=_text(unknown[0]), target=self.spec.target
            )
        return np.array([codes[_plain(value)] for value in y.tolist()], dtype=np.int64)

    def decode_target(self, codes: np.ndarray | Sequence) -> np.ndarray:
        """Class labels for codes (or regression values unchanged)."""
        self._require_fitted()
        if self.spec.task == "regression":
            return np.asarray(codes, dtype=np.float64)
        return np.array(self.classes_)[np.asarray(codes, dtype=np.int64)]

    def check_input(self, X: pd.DataFrame) -> InputCheck:
        """A prediction batch's problems: missing columns raise; bad rows and extras are listed."""
        self._require_fitted()
        required = [item["name"] for item in self.schema_]
        _require_columns(X, required)
        extra = [str(c) for c in X.columns if c not in required]
        notices: tuple[Message, ...] = ()
        if extra:
            notices = (
                Message(
                    "preprocess.notice.extra_columns",
                    {"count": len(extra), "columns": _names(extra)},
                ),
            )
        prepared = prepare_frame(X, self.schema_)
        errors: list[RowError] = []
        for item in self.schema_:
            if item["kind"] == "categorical":
                continue  # any value is a category; unseen ones go to "other"
            name = item["name"]
            raw = X[name]
            read = prepared[_prepared_columns_of(item)[0]]
            key = (
                "preprocess.error.row_not_number"
                if item["kind"] == "numeric"
                else "preprocess.error.row_not_date"
            )
            for position in np.flatnonzero(raw.notna().to_numpy() & read.isna().to_numpy()):
                value = _text(raw.iloc[position])[:60]
                params = {"row": int(position) + 1, "column": name, "value": value}
                errors.append(RowError(int(position), name, value, Message(key, params)))
        errors.sort(key=lambda error: error.position)
        return InputCheck(rows=len(X), errors=tuple(errors), notices=notices)

    def save(self, path: str | Path) -> Path:
        """Write the fitted pipeline into folder `path`: transformer, metadata JSON, prepare.py."""
        self._require_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        skops_io.dump(self.transformer_, folder / TRANSFORMER_FILE)
        metadata = {
            "format": ARTIFACT_FORMAT,
            "version": SPEC_VERSION,
            "spec": json.loads(self.spec.to_json()),
            "schema": self.schema_,
            "feature_names": self.feature_names_,
            "classes": self.classes_,
            "clip_bounds": self.clip_bounds_,
        }
        (folder / METADATA_FILE).write_text(
            json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (folder / PREPARE_FILE).write_text(prepare_source(), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        """The fitted pipeline saved in folder `path`."""
        folder = Path(path)
        try:
            metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
            if metadata.get("format") != ARTIFACT_FORMAT:
                raise ValueError("not a preprocessing folder")
            preprocessor = cls(PreprocessSpec.from_json(json.dumps(metadata["spec"])))
            preprocessor.transformer_ = load_transformer(folder / TRANSFORMER_FILE)
        except (
            OSError,
            ValueError,
            KeyError,
            AttributeError,
            EOFError,
            TypeError,
            zipfile.BadZipFile,
            RecursionError,
        ) as error:
            raise UserError("preprocess.error.load_failed", path=str(folder)) from error
        preprocessor.schema_ = metadata["schema"]
        preprocessor.feature_names_ = metadata["feature_names"]
        preprocessor.classes_ = metadata["classes"]
        preprocessor.clip_bounds_ = metadata["clip_bounds"]
        return preprocessor

    def _require_fitted(self) -> None:
        if not hasattr(self, "transformer_"):
            raise UserError("preprocess.error.not_fitted")


def preview(
    frame: pd.DataFrame, spec: PreprocessSpec, preprocessor: Preprocessor, n: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first n rows before (kept columns and target) and after preprocessing."""
    columns = [plan.name for plan in spec.kept] + (
        [spec.target] if spec.target in frame.columns else []
    )
    before = frame[columns].head(n)
    after = pd.DataFrame(
        preprocessor.transform(before), columns=preprocessor.feature_names_, index=before.index
    )
    return before, after


def split_summary(
    splits: Splits, preprocessor: Preprocessor, lang: str = DEFAULT_LANGUAGE
) -> pd.DataFrame:
    """One row per split: rows, feature count, and each class's share (classification)."""
    parts = (("train", splits.y_train), ("val", splits.y_val), ("test", splits.y_test))
    records = []
    for key, y in parts:
        record: dict[str, object] = {
            t("preprocess.summary.split", lang): t(f"preprocess.summary.{key}", lang),
            t("preprocess.summary.rows", lang): len(y),
            t("preprocess.summary.features", lang): len(preprocessor.feature_names_),
        }
        counts = Counter(_plain(value) for value in y.tolist())
        for label in preprocessor.classes_:
            header = t("preprocess.summary.class_share", lang, label=_text(label))
            record[header] = counts[label] / len(y) if len(y) else float("nan")
        records.append(record)
    return pd.DataFrame.from_records(records)


def prepare_source() -> str:
    """A module holding prepare_frame, to ship beside a bundle's predict.py and import there."""
    header = '"""The pandas step before the saved transformer (written by ModelDesk)."""\n\n'
    future = "from __future__ import annotations\n\n\n"
    return header + future + textwrap.dedent(inspect.getsource(prepare_frame))


def prepare_frame(frame: pd.DataFrame, schema: list[dict]) -> pd.DataFrame:
    """The pandas step before the fitted transformer: each column read as its kind, dates as parts.

    Self-contained on purpose (imports inside, no helpers): prepare_source() ships it in exported
    bundles, which run where only pandas, numpy and scikit-learn are installed.
    `schema` is a list of {"name", "kind", "parts"}; kinds are numeric, categorical, datetime.
    """
    import warnings

    import numpy as np
    import pandas as pd

    def label(value):
        # One text per category however it was read: 1, 1.0 and "1" are the same category.
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return np.nan
        if isinstance(value, bool | np.bool_):
            return str(bool(value))
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value)

    def dates(column):
        if pd.api.types.is_datetime64_any_dtype(column):
            return column
        best = None
        for options in ({}, {"format": "mixed"}, {"format": "mixed", "utc": True}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    parsed = pd.to_datetime(column, errors="coerce", **options)
                except (ValueError, TypeError, OverflowError):
                    continue
            if best is None or parsed.isna().sum() < best.isna().sum():
                best = parsed
            if best.isna().sum() == column.isna().sum():
                break
        if best is None:
            best = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
        return best

    # Part names are the spec's; pandas spells day of week its own way.
    accessors = {"year": "year", "month": "month", "dayofweek": "day_of_week", "hour": "hour"}
    columns = {}
    for item in schema:
        name, kind = item["name"], item["kind"]
        column = frame[name]
        if kind == "numeric":
            if isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype(object)
            numbers = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
            columns[name] = pd.Series(np.where(np.isfinite(numbers), numbers, np.nan))
        elif kind == "categorical":
            # object dtype on purpose: pandas would otherwise infer its own string dtype.
            columns[name] = pd.Series([label(v) for v in column.tolist()], dtype=object)
        elif kind == "datetime":
            parsed = dates(column)
            for part in item["parts"]:
                columns[f"{name}::{part}"] = pd.Series(
                    getattr(parsed.dt, accessors[part]).to_numpy(dtype="float64")
                )
        else:
            raise ValueError(f"unknown column kind {kind!r} for column {name!r}")
    # Built on a fresh index and relabelled after, so duplicate row labels never misalign.
    prepared = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
    prepared.index = frame.index
    return prepared


# Helpers ---------------------------------------------------------------------------------------


def _check(ok: bool, field: str, value: object, allowed: object) -> None:
    if not ok:
        if isinstance(allowed, tuple):
            allowed = ", ".join(allowed)
        raise UserError(
            "preprocess.error.spec_field_invalid",
            field=field,
            value=_text(value)[:60],
            allowed=allowed,
        )


def _validate_plan(plan: ColumnPlan) -> None:
    """Reject values the pipeline can't use, naming the field; turn JSON lists and ints into
    the tuples and floats the dataclass holds, so a JSON round trip compares equal."""
    name = plan.name
    _check(isinstance(name, str) and name != "", "name", name, "text")
    choices = {
        "action": ACTIONS,
        "kind": KINDS,
        "impute": IMPUTES,
        "scale": SCALES,
        "encoding": ENCODINGS,
    }
    if plan.kind == "categorical":
        choices["impute"] = ("most_frequent", "constant", "none")  # no mean of categories
    for attr, allowed in choices.items():
        _check(getattr(plan, attr) in allowed, f"{name}.{attr}", getattr(plan, attr), allowed)
    if plan.scale == "ple":  # bins of one number; a missing value has no bin
        allowed_here = "standard, minmax, robust, none (ple: numbers, imputed)"
        ok = plan.kind == "numeric" and plan.impute != "none"
        _check(ok, f"{name}.scale", plan.scale, allowed_here)
    _check(
        isinstance(plan.add_indicator, bool),
        f"{name}.add_indicator",
        plan.add_indicator,
        "true, false",
    )
    fill = plan.fill_value
    if plan.kind == "categorical":
        _check(fill is None or isinstance(fill, str), f"{name}.fill_value", fill, "text, null")
    else:
        _check(fill is None or _is_number(fill), f"{name}.fill_value", fill, "number, null")
        if fill is not None:
            object.__setattr__(plan, "fill_value", float(fill))
    cap = plan.max_categories
    ok = isinstance(cap, int) and not isinstance(cap, bool) and cap >= 2
    _check(ok, f"{name}.max_categories", cap, "a whole number >= 2")
    if cap > MAX_CATEGORIES:
        raise UserError("limits.error.too_many_categories", value=cap, limit=MAX_CATEGORIES)
    ok = _is_number(plan.min_frequency) and 0 <= plan.min_frequency < 1
    _check(ok, f"{name}.min_frequency", plan.min_frequency, "0 <= x < 1")
    object.__setattr__(plan, "min_frequency", float(plan.min_frequency))
    clip = plan.clip
    if clip is not None:
        ok = isinstance(clip, list | tuple) and len(clip) == 2 and all(map(_is_number, clip))
        ok = ok and 0 <= clip[0] < clip[1] <= 1
        _check(ok, f"{name}.clip", clip, "[low, high] with 0 <= low < high <= 1")
        object.__setattr__(plan, "clip", (float(clip[0]), float(clip[1])))
    parts = plan.datetime_parts
    ok = isinstance(parts, list | tuple) and all(part in DATETIME_PARTS for part in parts)
    ok = ok and len(set(parts)) == len(parts) and (bool(parts) or plan.kind != "datetime")
    _check(ok, f"{name}.datetime_parts", parts, DATETIME_PARTS)
    object.__setattr__(plan, "datetime_parts", tuple(parts))
    _check(isinstance(plan.reason, Message), f"{name}.reason", plan.reason, "{key, params}")


def _check_keys(data: dict, known: set[str], required: Sequence[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise UserError("preprocess.error.spec_unknown_field", field=f"{where}{key}")
    for key in required:
        if key not in data:
            raise UserError("preprocess.error.spec_field_missing", field=f"{where}{key}")


def _plan_to_dict(plan: ColumnPlan) -> dict:
    data = {f.name: getattr(plan, f.name) for f in fields(plan)}
    data["clip"] = list(plan.clip) if plan.clip is not None else None
    data["datetime_parts"] = list(plan.datetime_parts)
    data["reason"] = {"key": plan.reason.key, "params": dict(plan.reason.params)}
    return data


def _plan_from_dict(item: object, index: int) -> ColumnPlan:
    where = f"columns[{index}]."
    _check(isinstance(item, dict), f"columns[{index}]", type(item).__name__, "{name, action, ...}")
    assert isinstance(item, dict)  # _check raised otherwise
    _check_keys(item, {f.name for f in fields(ColumnPlan)}, required=("name",), where=where)
    values = dict(item)
    if "reason" in values:
        reason = values["reason"]
        ok = isinstance(reason, dict) and isinstance(reason.get("key"), str)
        ok = ok and isinstance(reason.get("params", {}), dict) and set(reason) <= {"key", "params"}
        _check(ok, f"{where}reason", reason, "{key, params}")
        values["reason"] = Message(reason["key"], dict(reason.get("params", {})))
    return ColumnPlan(**values)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _is_boolean(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return True
    return values.dtype == object and all(isinstance(v, bool | np.bool_) for v in values.tolist())


def _plain(value: object) -> object:
    """A target value as a plain Python scalar; whole floats as ints (NaN-holed int columns)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _class_values(values: pd.Series) -> list:
    labels = {_plain(value) for value in values.dropna().tolist()}
    try:
        return sorted(labels)
    except TypeError:  # mixed types, e.g. 1 and "a": order by text instead
        return sorted(labels, key=str)


def _text(value: object) -> str:
    return str(_plain(value))


def _unique(messages: Sequence[Message]) -> tuple[Message, ...]:
    """Messages in order, each once (both split stages may say the same thing)."""
    unique: list[Message] = []
    for message in messages:
        if message not in unique:
            unique.append(message)
    return tuple(unique)


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(str(name) for name in names[:10])
    return shown + (", …" if len(names) > 10 else "")


def _check_frame(frame: pd.DataFrame) -> None:
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise UserError(
            "preprocess.error.duplicate_columns", columns=_names([str(c) for c in repeated])
        )


def _require_columns(X: pd.DataFrame, names: Sequence[str]) -> None:
    absent = [name for name in names if name not in X.columns]
    if absent:
        raise UserError(
            "preprocess.error.input_missing_columns", count=len(absent), columns=_names(absent)
        )


def _non_numeric_share(column: pd.Series) -> float:
    present = column.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(present):
        return 0.0
    read = prepare_frame(present.to_frame("c"), [{"name": "c", "kind": "numeric", "parts": []}])[
        "c"
    ]
    return float(read.isna().mean())


def _non_date_share(column: pd.Series) -> float:
    present = column.dropna()
    if present.empty:
        return 0.0
    item = {"name": "c", "kind": "datetime", "parts": ["year"]}
    return float(prepare_frame(present.to_frame("c"), [item])["c::year"].isna().mean())


def _default_plan(frame: pd.DataFrame, column: ColumnProfile) -> ColumnPlan:
    """One column's default, by its profiled role, with its one-line reason."""
    name, role = column.name, column.role
    missing, share = column.missing > 0, float(column.missing_share)
    series = frame[name]
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    drop_reasons = {
        "identifier": Message("preprocess.reason.identifier"),
        "group": Message("special.reason.group"),
        "constant": Message("preprocess.reason.constant"),
        "text": Message("preprocess.reason.text"),
    }
    if share >= 1 or role in drop_reasons:
        reason = Message("preprocess.reason.all_missing") if share >= 1 else drop_reasons[role]
        kind = "numeric" if numeric and role != "text" else "categorical"
        return _plan(name, kind, reason, action="drop")
    if role == "datetime":
        parts = ("year", "month", "dayofweek") + (("hour",) if _has_hours(series) else ())
        key = "preprocess.reason.datetime_missing" if missing else "preprocess.reason.datetime"
        reason = Message(key, {"parts": ", ".join(parts), "share": share})
        return _plan(name, "datetime", reason, datetime_parts=parts, add_indicator=missing)
    if role == "numeric":
        key = "preprocess.reason.numeric_missing" if missing else "preprocess.reason.numeric"
        return _plan(name, "numeric", Message(key, {"share": share}), add_indicator=missing)
    if role == "boolean":
        key = "preprocess.reason.boolean_missing" if missing else "preprocess.reason.boolean"
    else:
        key = (
            "preprocess.reason.categorical_missing" if missing else "preprocess.reason.categorical"
        )
    params = {"max_categories": DEFAULT_MAX_CATEGORIES, "min_frequency": DEFAULT_MIN_FREQUENCY}
    reason = Message(key, {**params, "share": share})
    return _plan(name, "categorical", reason, add_indicator=missing)


def _plan(name: str, kind: str, reason: Message, **changes: Any) -> ColumnPlan:
    """A plan with the defaults of its kind: median and standard scaling, or most frequent."""
    if kind == "categorical":
        defaults = {"impute": "most_frequent", "scale": "none"}
    else:
        defaults = {"impute": "median", "scale": "standard"}
    return ColumnPlan(name, kind=kind, reason=reason, **{**defaults, **changes})


def _drop(plan: ColumnPlan, reason: Message) -> ColumnPlan:
    return replace(plan, action="drop", add_indicator=False, reason=reason)


def _has_hours(column: pd.Series) -> bool:
    item = {"name": "c", "kind": "datetime", "parts": ["hour"]}
    hours = prepare_frame(column.to_frame("c"), [item])["c::hour"]
    return bool((hours.fillna(0) != 0).any())


def _leakage_scores(
    frame: pd.DataFrame, target: str, task: str, plans: Sequence[ColumnPlan]
) -> dict[str, float]:
    """Columns that alone predict the target almost perfectly, with their 0-1 score."""
    candidates = [
        plan
        for plan in plans
        if plan.kind in ("numeric", "categorical") and plan.name in frame.columns
    ]
    rows = frame[frame[target].notna()]
    if not candidates or len(rows) < LEAKAGE_MIN_ROWS:
        return {}
    if len(rows) > LEAKAGE_SAMPLE:
        rows = rows.sample(LEAKAGE_SAMPLE, random_state=0)
    regression = task == "regression"
    if regression:
        y = pd.to_numeric(rows[target], errors="coerce")
        if y.isna().any() or y.nunique() < 2:
            return {}
        folds = KFold(3, shuffle=True, random_state=0)
    else:
        y = pd.Series(
            pd.factorize(pd.Series([_text(v) for v in rows[target].tolist()]))[0], index=rows.index
        )
        smallest = int(y.value_counts().min())
        if y.nunique() < 2:
            return {}
        folds = (
            StratifiedKFold(3, shuffle=True, random_state=0)
            if smallest >= 3
            else KFold(3, shuffle=True, random_state=0)
        )
    scores: dict[str, float] = {}
    schema = [_schema_item(plan) for plan in candidates]
    prepared = prepare_frame(rows, schema)
    for plan in candidates:
        column = prepared[plan.name]
        if plan.kind == "numeric" and regression:
            # Positional: row labels may repeat, and corr would align on them.
            pairs = pd.DataFrame({"x": column.to_numpy(), "y": y.to_numpy()}).dropna()
            score = abs(float(pairs["x"].corr(pairs["y"]))) if len(pairs) > 2 else 0.0
        else:
            # Codes of categories don't depend on the target, so the folds stay honest.
            x = (
                column
                if plan.kind == "numeric"
                else pd.Series(pd.factorize(column)[0], index=column.index)
            )
            model = (
                DecisionTreeRegressor(random_state=0)
                if regression
                else DecisionTreeClassifier(random_state=0)
            )
            scoring = "r2" if regression else "balanced_accuracy"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = float(
                    np.mean(cross_val_score(model, x.to_frame(), y, cv=folds, scoring=scoring))
                )
        if np.isfinite(score) and score >= LEAKAGE_SCORE:
            scores[plan.name] = round(score, 4)
    return scores


def _check_target(y: pd.Series, task: str, name: str) -> None:
    if task == "regression":
        numbers = pd.to_numeric(y, errors="coerce")
        if numbers.isna().any():
            value = _text(y[numbers.isna()].iloc[0])
            raise UserError("preprocess.error.regression_not_numeric", target=name, value=value)
        return
    classes = _class_values(y)
    if len(classes) < 2:
        raise UserError("preprocess.error.single_class", target=name, value=_text(classes[0]))
    if task == "binary" and len(classes) != 2:
        raise UserError("preprocess.error.binary_not_two", target=name, count=len(classes))


def _fit_classes(y: pd.Series, spec: PreprocessSpec) -> list:
    y = pd.Series(y)
    _check_target(y.dropna(), spec.task, spec.target)
    return _class_values(y)


def _split_off(
    X: pd.DataFrame, y: pd.Series, share: float, seed: int, stratify: bool, notices: list[Message]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """(rest X, held-out X, rest y, held-out y) with `share` of the rows held out."""
    if share <= 0:
        return X, X.iloc[:0], y, y.iloc[:0]
    if stratify:
        labels = pd.factorize(pd.Series([_text(v) for v in y.tolist()]))[0]
        try:
            X_rest, X_out, y_rest, y_out = train_test_split(
                X, y, test_size=share, random_state=seed, stratify=labels
            )
            return X_rest, X_out, y_rest, y_out
        except ValueError:
            counts = Counter(_text(v) for v in y.tolist())
            label, count = min(counts.items(), key=lambda item: item[1])
            notices.append(
                Message("preprocess.notice.stratify_fallback", {"label": label, "count": count})
            )
    try:
        X_rest, X_out, y_rest, y_out = train_test_split(X, y, test_size=share, random_state=seed)
    except ValueError:
        raise UserError("preprocess.error.too_few_rows", rows=len(y)) from None
    return X_rest, X_out, y_rest, y_out


def _group_keys(column: pd.Series) -> np.ndarray:
    """Group labels as text; all missing values form one group of their own."""
    return np.array(["\x00missing" if pd.isna(v) else _text(v) for v in column.tolist()])


def _split_off_groups(
    X: pd.DataFrame,
    y: pd.Series,
    group: str,
    share: float,
    seed: int,
    stratify: bool,
    notices: list[Message],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """(rest X, held-out X, rest y, held-out y): about `share` of the rows held out, whole groups.

    Stratified where the groups allow: StratifiedGroupKFold with about 1/share folds, one fold
    held out (it balances the class shares fold by fold); otherwise, or for regression,
    GroupShuffleSplit.
    """
    if share <= 0:
        return X, X.iloc[:0], y, y.iloc[:0]
    keys = _group_keys(X[group])
    count = len(np.unique(keys))
    if count < 2:
        raise UserError("special.error.too_few_groups", column=group, groups=count)
    positions = np.arange(len(y))
    held: np.ndarray | None = None
    folds = max(2, round(1 / share))
    if stratify and count >= folds:
        labels = pd.factorize(pd.Series([_text(v) for v in y.tolist()]))[0]
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "least populated class" when a class is rare
            _, held = next(splitter.split(positions, labels, keys))
    elif stratify:
        notices.append(
            Message("special.notice.group_not_stratified", {"column": group, "groups": count})
        )
    if held is None:
        splitter_shuffle = GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed)
        _, held = next(splitter_shuffle.split(positions, groups=keys))
    mask = np.zeros(len(y), dtype=bool)
    mask[held] = True
    return X.iloc[~mask], X.iloc[mask], y.iloc[~mask], y.iloc[mask]


def _classes_into_train(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_val: pd.DataFrame,
    y_val: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    notices: list[Message],
    group: str | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """Move rows of classes missing from training there: a model can't learn an unseen class.

    With a group column the whole groups holding such rows move, so no group is split."""
    seen = {_plain(v) for v in y_train.tolist()}
    held = [(X_val, y_val), (X_test, y_test)]
    moved: Counter = Counter()
    kept_parts = []
    for X_part, y_part in held:
        mask = np.array([_plain(v) not in seen for v in y_part.tolist()], dtype=bool)
        if group is not None and mask.any():
            keys = _group_keys(X_part[group])
            mask = np.isin(keys, np.unique(keys[mask]))
        if mask.any():
            X_train = pd.concat([X_train, X_part.iloc[mask]])
            y_train = pd.concat([y_train, y_part.iloc[mask]])
            moved.update(_text(v) for v in y_part.iloc[mask].tolist())
        kept_parts.append((X_part.iloc[~mask], y_part.iloc[~mask]))
    for label, count in moved.items():
        notices.append(
            Message("preprocess.notice.class_moved_to_train", {"label": label, "count": count})
        )
    (X_val, y_val), (X_test, y_test) = kept_parts
    return X_train, y_train, X_val, y_val, X_test, y_test


def _schema_item(plan: ColumnPlan) -> dict:
    parts = list(plan.datetime_parts) if plan.kind == "datetime" else []
    return {"name": plan.name, "kind": plan.kind, "parts": parts}


def _prepared_columns(plan: ColumnPlan) -> list[str]:
    return _prepared_columns_of(_schema_item(plan))


def _prepared_columns_of(item: dict) -> list[str]:
    if item["kind"] == "datetime":
        return [f"{item['name']}::{part}" for part in item["parts"]]
    return [item["name"]]


def _check_feature_count(kept: Sequence[ColumnPlan], prepared: pd.DataFrame) -> None:
    """Refuse, before any matrix is built, a plan that would encode too many model inputs."""
    features = 0
    for plan in kept:
        if plan.kind == "datetime":
            features += len(plan.datetime_parts)
        elif plan.kind == "categorical" and plan.encoding == "onehot":
            values = prepared[_prepared_columns(plan)[0]]
            features += min(int(values.nunique(dropna=False)) + 1, plan.max_categories)
        else:
            features += 1
        features += 1 if plan.add_indicator else 0
    if features > limits.max_features():
        raise UserError(
            "limits.error.too_many_features", features=features, limit=limits.max_features()
        )


def _clip_bounds(plan: ColumnPlan, values: pd.Series) -> dict[str, list[float]]:
    present = values.dropna().to_numpy()
    if present.size == 0 or plan.clip is None:
        return {}
    low, high = np.quantile(present, list(plan.clip))
    return {plan.name: [float(low), float(high)]}


def ple_knots(values: pd.Series, bounds: list[float] | None = None) -> np.ndarray | None:
    """The bin edges of a piecewise-linear encoding: PLE_BINS quantile bins of the (training)
    values, repeated edges merged, as a column; None when fewer than three edges remain (a
    two-valued column gains nothing from bins and keeps one standardised feature)."""
    present = values.dropna().to_numpy(dtype=np.float64)
    if bounds is not None:
        present = np.clip(present, bounds[0], bounds[1])
    if present.size == 0:
        return None
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, PLE_BINS + 1)))
    return edges.reshape(-1, 1) if len(edges) >= 3 else None


def _encoding_step(plan: ColumnPlan, knots: np.ndarray | None) -> Any:
    """The scaler, or the piecewise-linear encoding: one feature per bin [b(t-1), b(t)],
    clip(x, b(t-1), b(t)) mapped onto 0..1, so a value inside bin t reads 1, ..., 1, its place
    in bin t, 0, ..., 0 (Gorishniy et al.'s PLE; outside the training range the edge values
    hold). Built from scikit-learn's own parts (np.clip as the clip step already is, and a
    MinMaxScaler per bin, fitted on the clipped training rows, whose range is exactly the bin:
    the edges are quantiles of those rows), so the saved preprocessing stays pure scikit-learn
    and loads with nothing new trusted."""
    if plan.scale == "ple":
        if knots is None:
            return StandardScaler()
        edges = knots.ravel()
        bins = [
            (
                f"bin{t}",
                Pipeline(
                    [
                        (
                            "clip",
                            FunctionTransformer(
                                np.clip,
                                kw_args={"a_min": float(low), "a_max": float(high)},
                                feature_names_out="one-to-one",
                            ),
                        ),
                        ("unit", MinMaxScaler()),
                    ]
                ),
            )
            for t, (low, high) in enumerate(itertools.pairwise(edges), start=1)
        ]
        return FeatureUnion(bins)
    return {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}[
        plan.scale
    ]()


def _value_steps(
    plan: ColumnPlan, bounds: list[float] | None, knots: np.ndarray | None = None
) -> Any:
    """The scikit-learn steps for one column's values, by its plan."""
    steps: list[tuple[str, Any]] = []
    if plan.impute != "none":
        fill = plan.fill_value if plan.impute == "constant" else None
        steps.append(
            (
                "impute",
                SimpleImputer(strategy=plan.impute, fill_value=fill, keep_empty_features=True),
            )
        )
    if plan.kind == "categorical":
        cap = {"max_categories": plan.max_categories, "min_frequency": plan.min_frequency or None}
        if plan.encoding == "onehot":
            encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist", sparse_output=False, **cap
            )
            return Pipeline([*steps, ("encode", encoder)])
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1, **cap
        )
        steps.append(("encode", encoder))
    elif bounds is not None:
        # Bounds are numbers learned from training rows; np.clip keeps the artifact pure sklearn.
        clip = FunctionTransformer(
            np.clip,
            kw_args={"a_min": bounds[0], "a_max": bounds[1]},
            feature_names_out="one-to-one",
        )
        steps.append(("clip", clip))
    if plan.scale != "none":
        steps.append(("scale", _encoding_step(plan, knots)))
    return Pipeline(steps) if steps else "passthrough"


def _feature_names(transformer: ColumnTransformer, kept: Sequence[ColumnPlan]) -> list[str]:
    """Readable, unique output names: age, age_missing, color_red, color_other, date_year."""
    names: list[str] = []
    for step, fitted, _columns in transformer.transformers_:
        if step == "remainder":
            continue
        plan = kept[int(step[1:])]
        if step.startswith("m"):
            names.append(f"{plan.name}_missing")
        elif plan.kind == "datetime":
            names.extend(f"{plan.name}_{part}" for part in plan.datetime_parts)
        elif isinstance(fitted, Pipeline) and isinstance(fitted[-1], FeatureUnion):
            count = len(fitted[-1].transformer_list)
            names.extend(f"{plan.name}_ple{j}" for j in range(1, count + 1))
        elif plan.kind == "categorical" and plan.encoding == "onehot":
            encoder = fitted[-1]
            out = [str(name) for name in encoder.get_feature_names_out([plan.name])]
            if encoder.infrequent_categories_[0] is not None:
                out[-1] = f"{plan.name}_other"
            names.extend(out)
        else:
            names.append(plan.name)
    unique: list[str] = []
    seen: Counter = Counter()
    for name in names:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique
