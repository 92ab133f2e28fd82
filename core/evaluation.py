"""Held-out metrics for a run and for simple baselines on the same split, via scikit-learn.

Every number here comes from `sklearn.metrics`, never by hand, and is a plain float (or None
where it is undefined, e.g. ROC AUC when the test rows hold a single class), so the result goes
straight into JSON. TensorFlow is never imported here: a run's model is only asked to predict.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from core.plan_table import Prepared
    from core.training import Run

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
)
REGRESSION_METRICS: tuple[str, ...] = ("r2", "rmse", "mae", "mape")
# The one held-out number a summary leads with, and whether larger is better for each metric.
HEADLINE_METRICS: dict[str, str] = {
    "binary": "accuracy",
    "multiclass": "accuracy",
    "regression": "r2",
}
LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "rmse", "mae", "mape"})
# Baselines in the order they are shown: the trivial one first, then the classic model.
BASELINES: dict[str, tuple[str, ...]] = {
    "binary": ("majority", "logistic"),
    "multiclass": ("majority", "logistic"),
    "regression": ("mean", "linear"),
}
PREDICT_BATCH = 4096
LOGISTIC_MAX_ITER = 1000


def metric_names(task: str) -> tuple[str, ...]:
    """The metric keys `test_metrics` returns for a task (in display order)."""
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def headline_metric(task: str) -> str:
    """The held-out metric a summary leads with: accuracy for classifiers, R² for regression."""
    return HEADLINE_METRICS[task]


def predict_scores(run_or_model: Run | Any, X: np.ndarray) -> np.ndarray:
    """Model output for rows X: positive-class probability (binary, shape (n,)), class
    probabilities (multiclass, (n, k)) or predicted values (regression, (n,))."""
    model = run_or_model.build_model() if hasattr(run_or_model, "build_model") else run_or_model
    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        units = int(model.outputs[0].shape[-1]) if hasattr(model, "outputs") else 1
        return np.empty((0,) if units == 1 else (0, units), dtype=np.float64)
    scores = np.asarray(model.predict(X, batch_size=PREDICT_BATCH, verbose=0), dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    return scores


def predicted_codes(task: str, scores: np.ndarray) -> np.ndarray:
    """Class codes from probabilities (0.5 threshold for binary, arg max for multiclass)."""
    scores = np.asarray(scores)
    if task == "binary":
        return (scores >= 0.5).astype(np.int64)
    return np.argmax(scores, axis=1).astype(np.int64)


def test_metrics(task: str, y_true: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """Held-out metrics of one set of scores; keys from `metric_names(task)`, JSON-safe values."""
    y_true = np.asarray(y_true).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64)
    if len(y_true) != len(scores):
        raise ValueError(f"{len(y_true)} targets but {len(scores)} scores")
    if len(y_true) == 0:
        return dict.fromkeys(metric_names(task))
    with warnings.catch_warnings():
        # Undefined cases (one class in y_true, a class never predicted) come back as None or 0.
        warnings.simplefilter("ignore")
        if task == "regression":
            values = _regression_metrics(y_true.astype(np.float64), scores)
        else:
            values = _classification_metrics(task, y_true.astype(np.int64), scores)
    return {name: _json_float(values.get(name)) for name in metric_names(task)}


test_metrics.__test__ = False  # type: ignore[attr-defined]  # a metric, not a pytest test


def baseline_metrics(prepared: Prepared) -> dict[str, dict[str, float | None]]:
    """Majority/mean and logistic/linear regression, fitted on the training split, scored on the
    test split with `test_metrics`: what the network has to beat."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    task = prepared.spec.task
    if task == "regression":
        models = {"mean": DummyRegressor(strategy="mean"), "linear": LinearRegression()}
    else:
        # "prior" predicts the majority class, with the training shares as probabilities, so
        # log loss and ROC AUC stay defined.
        models = {
            "majority": DummyClassifier(strategy="prior"),
            "logistic": LogisticRegression(max_iter=LOGISTIC_MAX_ITER),
        }
    n_classes = len(prepared.preprocessor.classes_)
    results: dict[str, dict[str, float | None]] = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: the score still stands
            model.fit(prepared.X_train, prepared.y_train)
            scores = _sklearn_scores(model, prepared.X_test, task, n_classes)
        results[name] = test_metrics(task, prepared.y_test, scores)
    return results


def evaluate_run(prepared: Prepared, run: Run | Any) -> dict[str, Any]:
    """A run's metrics on the test and validation splits, and the baselines on the same split."""
    task = prepared.spec.task
    return {
        "test": test_metrics(task, prepared.y_test, predict_scores(run, prepared.X_test)),
        "validation": test_metrics(task, prepared.y_val, predict_scores(run, prepared.X_val)),
        "baselines": baseline_metrics(prepared),
    }


def metrics_document(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """metrics.json as DESIGN.md has it: test metrics at the top, then validation and baselines."""
    return {
        **evaluation["test"],
        "validation": dict(evaluation["validation"]),
        "baselines": {name: dict(values) for name, values in evaluation["baselines"].items()},
    }


# --- helpers -----------------------------------------------------------------------------------


def _classification_metrics(task: str, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    if task == "binary":
        n_classes = 2
        positive = np.clip(scores.reshape(-1), 0.0, 1.0)
        probabilities = np.column_stack([1.0 - positive, positive])
    else:
        probabilities = np.clip(scores, 0.0, None)
        n_classes = probabilities.shape[1]
        # float32 softmax rows can miss 1 by ~1e-7; sklearn's checks want them to sum to 1.
        totals = probabilities.sum(axis=1, keepdims=True)
        probabilities = np.divide(
            probabilities,
            totals,
            out=np.full_like(probabilities, 1.0 / n_classes),
            where=totals > 0,
        )
    labels = list(range(n_classes))
    y_pred = predicted_codes(task, probabilities[:, 1] if task == "binary" else probabilities)
    values: dict[str, Any] = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        "precision": metrics.precision_score(
            y_true, y_pred, labels=labels, average="macro", zero_division=0
        ),
        "recall": metrics.recall_score(
            y_true, y_pred, labels=labels, average="macro", zero_division=0
        ),
        "f1": metrics.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "log_loss": metrics.log_loss(y_true, probabilities, labels=labels),
    }
    present = np.unique(y_true)
    try:
        if task == "binary":
            values["roc_auc"] = metrics.roc_auc_score(y_true, probabilities[:, 1])
        elif len(present) == n_classes:
            values["roc_auc"] = metrics.roc_auc_score(
                y_true, probabilities, multi_class="ovr", average="macro", labels=labels
            )
        else:
            values["roc_auc"] = None  # one-vs-rest needs every class among the test rows
    except ValueError:
        values["roc_auc"] = None  # a single class in y_true: AUC is undefined
    return values


def _regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    y_pred = y_pred.reshape(-1)
    values: dict[str, Any] = {
        "r2": metrics.r2_score(y_true, y_pred) if len(y_true) >= 2 else None,
        "rmse": metrics.root_mean_squared_error(y_true, y_pred),
        "mae": metrics.mean_absolute_error(y_true, y_pred),
        # A percentage of zero is undefined; sklearn would return a huge, meaningless number.
        "mape": None
        if np.any(y_true == 0)
        else metrics.mean_absolute_percentage_error(y_true, y_pred),
    }
    return values


def _sklearn_scores(model: Any, X: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """A scikit-learn model's scores in predict_scores' shapes, columns by class code."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
    if len(X) == 0:
        return np.empty((0,) if task == "binary" else (0, n_classes))
    probabilities = np.zeros((len(X), n_classes))
    probabilities[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(X)
    return probabilities[:, 1] if task == "binary" else probabilities


def _json_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
