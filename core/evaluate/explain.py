"""Why a prediction: Shapley attributions on the table's own columns, and what the model learned.

What is explained is the raw-row prediction function: the run's fitted preprocessing, then its
Keras model. A column is one player, however many model inputs it became (a one-hot group, a
date's parts, an embedded or scaled number, its missing-value flag). The output explained is
stated with every explanation (`Explanation.output`):

- regression: the predicted value, in the target's units;
- binary: the probability of the positive class (the second class label);
- multiclass: the probability of the class predicted for that row.

`base value + sum of a row's attributions = the explained output` (Shapley efficiency). The base
value is the mean output over a small background sample of training rows, drawn with a seed.

Method: interventional Shapley values against the background sample. Columns hidden from a
coalition take the background rows' values; the value of a coalition is the mean output over the
background. With few columns every coalition is evaluated (exact Shapley values); with more,
antithetic permutation sampling (a permutation and its reverse), the algorithm of
`shap.PermutationExplainer`, which keeps efficiency exact because each permutation's marginal
contributions add up to f(x) - E[f]. The same permutations serve every row, so a row's
attributions do not depend on the other rows explained with it.

Why not call `shap` itself: shap 0.51's Permutation explainer JIT-compiles its masking with numba
on first use in every process, 5-8 s on our 2 shared cores before the first row comes back (one
row must take well under a second on Deploy), and it explains one row at a time where a batch of
rows here goes through the model in a few large calls. Every step below is plain numpy over a
matrix of coalitions; shap's ExactExplainer is the reference the tests compare against (to 1e-6)
and bench/explain.py measures shap's Permutation and Kernel explainers beside this one.

The preprocessing is a scikit-learn ColumnTransformer whose steps each read one original column,
so a row whose columns come from different source rows encodes to the same model input as the
corresponding encoded slices put side by side. Coalitions are therefore built on the encoded
matrix (one transform of the rows and of the background, no pandas per coalition); the tests
check this equals transforming the mixed raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.i18n import DEFAULT_LANGUAGE, Message, t
from core.prep.preprocessing import Preprocessor

BACKGROUND_ROWS = 50  # training rows the hidden columns are drawn from
EXACT_MAX_COLUMNS = 9  # up to 2**9 = 512 coalitions per row: every one is evaluated
COALITION_BUDGET = 512  # coalitions per row with permutation sampling (more columns)
MIN_PERMUTATIONS = 4  # two antithetic pairs at least
BLOCK_CELLS = 8_000_000  # model-input numbers built and scored at once (about 32 MB)
# Rows per model call: each eager Keras call costs ~2 ms of Python however many rows it has,
# and one row's coalitions are ~25,000 rows; 64k rows of a 1024-unit layer are 256 MB.
MODEL_BATCH = 65_536
TOP_REASONS = 3
PD_GRID = 20  # partial dependence grid points for a number
PD_ROWS = 100  # rows whose ICE lines are drawn
METHOD_EXACT = "exact"
METHOD_PERMUTATION = "permutation"


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions of some rows, one per original column, and what they explain."""

    columns: tuple[str, ...]  # the original input columns, in the plan's order
    values: np.ndarray  # (rows, columns): each column's share of (output - base value)
    base_values: np.ndarray  # (rows,): mean output over the background
    outputs: np.ndarray  # (rows,): the explained output; base + sum(values) equals it
    task: str
    explained_class: tuple[str, ...]  # per row, the class whose probability is explained
    data: pd.DataFrame  # the rows explained (original columns), for colouring and display
    method: str  # METHOD_EXACT or METHOD_PERMUTATION
    permutations: int  # permutations sampled (0 when exact)
    background_rows: int
    seed: int

    @property
    def rows(self) -> int:
        return len(self.values)

    def row(self, position: int) -> dict[str, float]:
        """One row's attributions by column name."""
        return {
            name: float(value)
            for name, value in zip(self.columns, self.values[position], strict=True)
        }

    def additivity_error(self) -> float:
        """Largest |base + sum(attributions) - output| over the rows."""
        if not self.rows:
            return 0.0
        return float(np.max(np.abs(self.base_values + self.values.sum(axis=1) - self.outputs)))

    def importance(self) -> pd.DataFrame:
        """Per column: mean |attribution| and its spread (standard deviation over the rows),
        largest first."""
        magnitude = np.abs(self.values)
        frame = pd.DataFrame(
            {
                "column": list(self.columns),
                "mean_abs": magnitude.mean(axis=0) if self.rows else 0.0,
                "std_abs": magnitude.std(axis=0) if self.rows else 0.0,
            }
        )
        return frame.sort_values("mean_abs", ascending=False, kind="stable").reset_index(drop=True)

    def top_reasons(self, position: int, count: int = TOP_REASONS) -> list[tuple[str, float]]:
        """The row's `count` columns with the largest |attribution|, with their signed value."""
        values = self.values[position]
        order = np.argsort(-np.abs(values), kind="stable")[:count]
        return [(self.columns[index], float(values[index])) for index in order]

    def output_text(self, lang: str = DEFAULT_LANGUAGE, target: str = "") -> str:
        """What the attributions explain, in plain words."""
        return output_text(self.task, lang, target=target, label=_one_label(self))

    def summary(self, run_name: str = "", target: str = "") -> dict[str, Any]:
        """Plain JSON-safe facts: the evidence the compliance checklist and report show."""
        importance = self.importance()
        return {
            "run": run_name,
            "target": target,
            "label": _one_label(self),
            "method": self.method,
            "permutations": self.permutations,
            "background_rows": self.background_rows,
            "rows": self.rows,
            "seed": self.seed,
            "task": self.task,
            "additivity_error": self.additivity_error(),
            "importance": {
                str(name): float(value)
                for name, value in zip(importance["column"], importance["mean_abs"], strict=True)
            },
        }

    def to_json_dict(self, lang: str = DEFAULT_LANGUAGE, target: str = "") -> dict[str, Any]:
        """{"output", "method", "base_value", "rows": [{"prediction", "base_value",
        "attributions": {column: a}}]} (the CLI's --json)."""
        rows = []
        for position in range(self.rows):
            item: dict[str, Any] = {
                "prediction": float(self.outputs[position]),
                "base_value": float(self.base_values[position]),
                "attributions": self.row(position),
            }
            if self.task != "regression":
                item["class"] = self.explained_class[position]
            rows.append(item)
        base = float(self.base_values[0]) if self.rows else None
        return {
            "output": self.output_text(lang, target),
            "method": self.method,
            "base_value": base,
            "rows": rows,
        }


@dataclass(eq=False)
class Explainer:
    """Shapley attributions for rows in their original columns, against a background sample.

    `model` is the Keras model (or any callable from the encoded matrix to model outputs, given
    as `predict`); `background` are training rows in their original columns, of which
    `background_rows` are drawn with `seed`.
    """

    preprocessor: Preprocessor
    model: Any
    background: pd.DataFrame
    background_rows: int = BACKGROUND_ROWS
    seed: int = 0
    predict: Callable[[np.ndarray], np.ndarray] | None = None
    _groups: list[np.ndarray] = field(init=False, repr=False)
    _sample: pd.DataFrame = field(init=False, repr=False)
    _encoded_background: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._groups = column_groups(self.preprocessor)
        rows = len(self.background)
        if rows == 0:
            raise ValueError("the background needs at least one row")
        rng = np.random.default_rng(self.seed)
        take = min(self.background_rows, rows)
        chosen = np.sort(rng.choice(rows, size=take, replace=False))
        self._sample = self.background.iloc[chosen]
        self._encoded_background = self.preprocessor.transform(self._sample)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(item["name"] for item in self.preprocessor.schema_)

    @property
    def task(self) -> str:
        return self.preprocessor.spec.task

    @property
    def background_sample(self) -> pd.DataFrame:
        """The background rows drawn (the session's own training rows)."""
        return self._sample

    def outputs(self, encoded: np.ndarray) -> np.ndarray:
        """Model outputs for encoded rows: (n,) for regression and binary, (n, k) multiclass."""
        if self.predict is not None:
            scores = np.asarray(self.predict(encoded), dtype=np.float64)
        else:
            from core.train.models import model_outputs

            scores = model_outputs(self.model, encoded, batch=MODEL_BATCH)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        return scores

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """The explained output's full scores for rows in their original columns."""
        return self.outputs(self.preprocessor.transform(frame))

    def explain(self, frame: pd.DataFrame) -> Explanation:
        """Attributions of every row of `frame` (original columns; extra columns are ignored)."""
        columns = self.columns
        encoded = self.preprocessor.transform(frame)
        n, g = len(encoded), len(self._groups)
        masks, permutations = _coalitions(g, self.seed)
        exact = permutations == 0
        weights = _exact_weights(g) if exact else None
        # Each row's explained class: its predicted class (multiclass), fixed once per row.
        full = self.outputs(encoded)
        if self.task == "multiclass":
            classes = np.argmax(full, axis=1) if n else np.empty(0, dtype=np.int64)
        else:
            classes = np.zeros(n, dtype=np.int64)
        values = np.zeros((n, g))
        base_values = np.zeros(n)
        outputs = np.zeros(n)
        feature_masks = _feature_masks(masks, self._groups, encoded.shape[1])
        background = self._encoded_background
        per_row = len(masks) * len(background) * max(encoded.shape[1], 1)
        chunk = max(1, BLOCK_CELLS // per_row)
        for start in range(0, n, chunk):
            block = encoded[start : start + chunk]
            coalition_values = self._coalition_values(block, feature_masks, background)
            if coalition_values.ndim == 3:  # multiclass: keep each row's explained class
                picked = classes[start : start + len(block)]
                coalition_values = np.take_along_axis(
                    coalition_values, picked[:, None, None], axis=2
                )[:, :, 0]
            if exact:
                assert weights is not None
                values[start : start + len(block)] = _exact_shapley(coalition_values, g, weights)
            else:
                values[start : start + len(block)] = _permutation_shapley(
                    coalition_values, masks, g, permutations, self.seed
                )
            base_values[start : start + len(block)] = coalition_values[:, 0]
            outputs[start : start + len(block)] = coalition_values[:, -1]
        labels = self._class_labels(classes)
        return Explanation(
            columns=columns,
            values=values,
            base_values=base_values,
            outputs=outputs,
            task=self.task,
            explained_class=labels,
            data=frame[list(columns)].reset_index(drop=True),
            method=METHOD_EXACT if exact else METHOD_PERMUTATION,
            permutations=permutations,
            background_rows=len(background),
            seed=self.seed,
        )

    def _coalition_values(
        self, rows: np.ndarray, feature_masks: np.ndarray, background: np.ndarray
    ) -> np.ndarray:
        """v(S) for each row and coalition: the mean output over the background with the
        coalition's columns taken from the row. (rows, coalitions[, classes])."""
        r, c, b = len(rows), len(feature_masks), len(background)
        mixed = np.where(
            feature_masks[None, :, None, :], rows[:, None, None, :], background[None, None, :, :]
        ).astype(np.float32, copy=False)
        scores = self.outputs(mixed.reshape(r * c * b, -1))
        if self.task == "binary" or scores.ndim == 1:
            return scores.reshape(r, c, b).mean(axis=2)
        return scores.reshape(r, c, b, -1).mean(axis=2)

    def _class_labels(self, classes: np.ndarray) -> tuple[str, ...]:
        labels = [str(label) for label in self.preprocessor.classes_]
        if self.task == "regression":
            return ()
        if self.task == "binary":
            return tuple(labels[1] for _ in classes)
        return tuple(labels[int(code)] for code in classes)


def column_groups(preprocessor: Preprocessor) -> list[np.ndarray]:
    """For each original input column (the schema's order), the model inputs it became."""
    kept = len(preprocessor.schema_)
    groups: list[list[int]] = [[] for _ in range(kept)]
    for step, where in preprocessor.transformer_.output_indices_.items():
        if step == "remainder":
            continue
        groups[int(step[1:])].extend(range(where.start, where.stop))
    width = len(preprocessor.feature_names_)
    covered = sorted(index for group in groups for index in group)
    if covered != list(range(width)):
        raise ValueError("the preprocessing's outputs do not map one-to-one onto its columns")
    return [np.asarray(group, dtype=np.int64) for group in groups]


def output_text(
    task: str, lang: str = DEFAULT_LANGUAGE, *, target: str = "", label: str = ""
) -> str:
    """What the attributions explain for a task, in plain words."""
    if task == "regression":
        return t("explain.output.regression", lang, target=target)
    if task == "binary":
        return t("explain.output.binary", lang, label=label)
    return t("explain.output.multiclass", lang)


def method_message(summary: dict[str, Any]) -> Message:
    """The method of an explanation's summary, as a translatable message."""
    background = summary.get("background_rows", 0)
    if summary.get("method") == METHOD_EXACT:
        return Message("explain.method.exact", {"background": background})
    return Message(
        "explain.method.permutation",
        {"permutations": summary.get("permutations", 0), "background": background},
    )


def method_text(summary: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    """The method of an explanation's summary, in plain words."""
    return method_message(summary).text(lang)


def summary_lines(
    summary: dict[str, Any], lang: str = DEFAULT_LANGUAGE, top: int = 10
) -> list[str]:
    """An explanation's summary as the model card's lines: run, output, method, importance."""
    features = ", ".join(
        f"{name} ({value:.3g})" for name, value in list(summary["importance"].items())[:top]
    )
    return [
        t("explain.card.run", lang, run=summary.get("run", ""), rows=summary.get("rows", 0)),
        output_text(
            summary.get("task", ""),
            lang,
            target=summary.get("target", ""),
            label=summary.get("label", ""),
        ),
        t("explain.card.method", lang, method=method_text(summary, lang)),
        t("explain.card.importance", lang, features=features),
    ]


def reason_columns(
    explanation: Explanation, count: int = TOP_REASONS, lang: str = DEFAULT_LANGUAGE
) -> pd.DataFrame:
    """Per explained row, its `count` strongest reasons as text columns ("age +0.12")."""
    names = [t("explain.reason_column", lang, number=number) for number in range(1, count + 1)]
    records = []
    for position in range(explanation.rows):
        reasons = explanation.top_reasons(position, count)
        texts = [f"{column} {value:+.4g}" for column, value in reasons]
        records.append(texts + [""] * (count - len(texts)))
    return pd.DataFrame(records, columns=names)


@dataclass(frozen=True)
class Dependence:
    """Partial dependence of the explained output on one column, with ICE lines."""

    column: str
    categorical: bool
    grid: list[Any]  # the values the column is set to
    average: np.ndarray  # (grid,): the partial dependence
    individual: np.ndarray  # (rows, grid): one ICE line per row


def partial_dependence(
    explainer: Explainer,
    frame: pd.DataFrame,
    column: str,
    *,
    rows: int = PD_ROWS,
    grid: int = PD_GRID,
    class_label: str | None = None,
) -> Dependence | None:
    """How the explained output moves as `column` alone changes, averaged over `rows` rows of
    `frame` (partial dependence) and row by row (ICE), through scikit-learn's
    `partial_dependence` on an estimator that wraps the raw-row pipeline. None for a date
    column or one with a single value."""
    from sklearn.inspection import partial_dependence as sk_partial_dependence

    item = next((item for item in explainer.preprocessor.schema_ if item["name"] == column), None)
    if item is None or item["kind"] == "datetime":
        return None
    sample = frame[list(explainer.columns)]
    if len(sample) > rows:
        sample = sample.sample(rows, random_state=explainer.seed)
    sample = sample.reset_index(drop=True).copy()
    categorical = item["kind"] == "categorical"
    if categorical:
        sample[column] = sample[column].map(_category_text).astype(object)
    else:
        sample[column] = pd.to_numeric(sample[column], errors="coerce").astype("float64")
    present = sample[column].dropna()
    if present.nunique() < 2:
        return None
    sample = sample.loc[sample[column].notna()].reset_index(drop=True)
    estimator = _raw_row_estimator(explainer, class_label)
    result = sk_partial_dependence(
        estimator,
        sample,
        [column],
        categorical_features=[column] if categorical else None,
        kind="both",
        grid_resolution=grid,
        percentiles=(0.05, 0.95),
        response_method="auto",
    )
    values = list(result["grid_values"][0])
    return Dependence(
        column=column,
        categorical=categorical,
        grid=[str(value) if categorical else float(value) for value in values],
        average=np.asarray(result["average"][0], dtype=np.float64),
        individual=np.asarray(result["individual"][0], dtype=np.float64),
    )


def _raw_row_estimator(explainer: Explainer, class_label: str | None) -> Any:
    """A fitted scikit-learn regressor whose `predict` is the explained output of raw rows:
    what lets `sklearn.inspection.partial_dependence` work on the original columns."""
    from sklearn.base import BaseEstimator, RegressorMixin

    class RawRowEstimator(RegressorMixin, BaseEstimator):
        def __init__(self, explainer: Explainer, class_label: str | None = None) -> None:
            self.explainer = explainer
            self.class_label = class_label

        def fit(self, X: Any, y: Any = None) -> RawRowEstimator:
            return self  # already fitted: the run's preprocessing and model

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def predict(self, X: Any) -> np.ndarray:
            return _explained_scores(self.explainer, pd.DataFrame(X), self.class_label)

    return RawRowEstimator(explainer, class_label)


def _explained_scores(explainer: Explainer, frame: pd.DataFrame, class_label: str | None) -> Any:
    scores = explainer.predict_frame(frame)
    if scores.ndim == 1:
        return scores
    labels = [str(label) for label in explainer.preprocessor.classes_]
    code = labels.index(class_label) if class_label in labels else 0
    return scores[:, code]


# --- helpers -------------------------------------------------------------------------------


def _category_text(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return np.nan
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _one_label(explanation: Explanation) -> str:
    labels = set(explanation.explained_class)
    return next(iter(labels)) if len(labels) == 1 else ""


def _coalitions(columns: int, seed: int) -> tuple[np.ndarray, int]:
    """The coalitions to evaluate as a (coalitions, columns) bool matrix whose first row is the
    empty coalition and last row the full one, and the number of permutations (0: exact)."""
    if columns <= EXACT_MAX_COLUMNS:
        codes = np.arange(2**columns, dtype=np.int64)
        masks = ((codes[:, None] >> np.arange(columns)) & 1).astype(bool)
        return masks, 0
    pairs = max(MIN_PERMUTATIONS // 2, math.ceil(COALITION_BUDGET / (2 * (columns - 1))))
    orders = _permutations(columns, pairs, seed)
    prefixes = np.zeros((len(orders), columns + 1, columns), dtype=bool)
    for p, order in enumerate(orders):
        for k in range(1, columns + 1):
            prefixes[p, k] = prefixes[p, k - 1]
            prefixes[p, k, order[k - 1]] = True
    inner = prefixes[:, 1:-1].reshape(-1, columns)
    unique = np.unique(inner, axis=0)
    empty = np.zeros((1, columns), dtype=bool)
    full = np.ones((1, columns), dtype=bool)
    return np.vstack([empty, unique, full]), len(orders)


def _permutations(columns: int, pairs: int, seed: int) -> list[np.ndarray]:
    """`pairs` random orders of the columns, each followed by its reverse (antithetic)."""
    rng = np.random.default_rng(seed)
    orders: list[np.ndarray] = []
    for _ in range(pairs):
        order = rng.permutation(columns)
        orders += [order, order[::-1]]
    return orders


def _feature_masks(masks: np.ndarray, groups: Sequence[np.ndarray], width: int) -> np.ndarray:
    """Coalitions of columns as masks over the model inputs."""
    features = np.zeros((len(masks), width), dtype=bool)
    for column, group in enumerate(groups):
        features[:, group] = masks[:, [column]]
    return features


def _exact_weights(columns: int) -> np.ndarray:
    """Shapley weight |S|! (n - |S| - 1)! / n! by coalition size |S|."""
    return np.array(
        [
            math.factorial(size) * math.factorial(columns - size - 1) / math.factorial(columns)
            for size in range(columns)
        ]
    )


def _exact_shapley(values: np.ndarray, columns: int, weights: np.ndarray) -> np.ndarray:
    """Shapley values from v(S) of every coalition S (coded by bits), for each row."""
    codes = np.arange(2**columns, dtype=np.int64)
    sizes = np.array([bin(code).count("1") for code in codes])
    result = np.zeros((len(values), columns))
    for column in range(columns):
        bit = 1 << column
        without = codes[(codes & bit) == 0]
        gain = values[:, without | bit] - values[:, without]
        result[:, column] = gain @ weights[sizes[without]]
    return result


def _permutation_shapley(
    values: np.ndarray, masks: np.ndarray, columns: int, permutations: int, seed: int
) -> np.ndarray:
    """The mean marginal contribution of each column along the sampled permutations."""
    index = {mask.tobytes(): position for position, mask in enumerate(masks)}
    orders = _permutations(columns, permutations // 2, seed)
    result = np.zeros((len(values), columns))
    for order in orders:
        current = np.zeros(columns, dtype=bool)
        previous = values[:, 0]
        for column in order:
            current[column] = True
            now = values[:, index[current.tobytes()]]
            result[:, column] += now - previous
            previous = now
    return result / len(orders)
