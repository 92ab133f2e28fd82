"""Held-out metrics for a run and for simple baselines on the same split, via scikit-learn.

Every metric value comes from `sklearn.metrics`, never by hand, and is a plain float (or None
where it is undefined, e.g. ROC AUC when the test rows hold a single class), so the result goes
straight into JSON. Bootstrap intervals score all resamples at once with scikit-learn's
definitions (the tests hold each resample to `test_metrics`). Also here: binary thresholds,
confusion matrices, permutation importance and the worst-predicted rows. TensorFlow is never
imported here: a run's model is only asked to predict.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.i18n import DEFAULT_LANGUAGE, Message, t
from core.train.models import model_outputs

if TYPE_CHECKING:
    from core.prep.pipeline import Prepared
    from core.train.engine import Run

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
    "binary": ("majority", "logistic", "boosting"),
    "multiclass": ("majority", "logistic", "boosting"),
    "regression": ("mean", "linear", "boosting"),
}
LOGISTIC_MAX_ITER = 1000
BOOSTING_SEED = 0


def metric_names(task: str) -> tuple[str, ...]:
    """The metric keys `test_metrics` returns for a task (in display order)."""
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def headline_metric(task: str) -> str:
    """The held-out metric a summary leads with: accuracy for classifiers, R² for regression."""
    return HEADLINE_METRICS[task]


def predict_scores(run_or_model: Run | Any, X: np.ndarray) -> np.ndarray:
    """Model output for rows X: positive-class probability (binary, shape (n,)), class
    probabilities (multiclass, (n, k)) or predicted values (regression, (n,))."""
    model: Any = (
        run_or_model.build_model() if hasattr(run_or_model, "build_model") else run_or_model
    )
    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        units = int(model.outputs[0].shape[-1]) if hasattr(model, "outputs") else 1
        return np.empty((0,) if units == 1 else (0, units), dtype=np.float64)
    scores = model_outputs(model, X)
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
    """Majority/mean, logistic/linear regression and gradient boosting (scikit-learn's
    HistGradientBoosting, defaults, fixed seed), fitted on the training split, scored on the test
    split with `test_metrics`: what the network has to beat. Boosting is what a tabular expert
    tries first; on small tables it often wins, and the Evaluate page says so."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    task = prepared.spec.task
    models: dict[str, Any]
    if task == "regression":
        models = {
            "mean": DummyRegressor(strategy="mean"),
            "linear": LinearRegression(),
            "boosting": HistGradientBoostingRegressor(random_state=BOOSTING_SEED),
        }
    else:
        # "prior" predicts the majority class, with the training shares as probabilities, so
        # log loss and ROC AUC stay defined.
        models = {
            "majority": DummyClassifier(strategy="prior"),
            "logistic": LogisticRegression(max_iter=LOGISTIC_MAX_ITER),
            "boosting": HistGradientBoostingClassifier(random_state=BOOSTING_SEED),
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


def run_metrics(prepared: Prepared, run: Run | Any) -> dict[str, Any]:
    """The run's metrics.json document, computed once on the data it trained on, kept on the run:
    the metrics, and the privacy block (DP-SGD's ε, δ and the membership-inference attack)."""
    if not getattr(run, "metrics", None):
        run.metrics = metrics_document(evaluate_run(prepared, run), run_privacy(prepared, run))
    return run.metrics


def run_privacy(prepared: Prepared, run: Run | Any) -> dict[str, Any]:
    """The run's privacy block (core.evaluate.membership.privacy_document), attack included
    where the splits allow it."""
    from core.evaluate.membership import membership_audit, privacy_document

    try:
        audit = membership_audit(prepared, run)
    except ValueError:  # no training or no held-out rows: nothing to attack
        audit = None
    return privacy_document(run, audit)


def metrics_document(
    evaluation: Mapping[str, Any], privacy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """metrics.json (docs/ARCHITECTURE.md): test metrics at the top, validation, baselines, and
    the privacy block when given."""
    document = {
        **evaluation["test"],
        "validation": dict(evaluation["validation"]),
        "baselines": {name: dict(values) for name, values in evaluation["baselines"].items()},
    }
    if privacy is not None:
        document["privacy"] = dict(privacy)
    return document


# --- intervals, thresholds, importance, prediction rows (the Evaluate page) -------------------

DEFAULT_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
# Fewer resamples where a metric is defined than this (e.g. a rare class): no interval is shown.
MIN_DEFINED_RESAMPLES = 20
# Rows × resamples held in memory at once while bootstrapping (about 32 MB of float64).
BOOTSTRAP_CELLS = 4_000_000
THRESHOLD_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "sensitivity",
    "specificity",
    "positive_precision",
)
IMPORTANCE_REPEATS = 5
IMPORTANCE_MAX_ROWS = 5000  # permuting more test rows than this adds time, not information
IMPORTANCE_BATCH_ROWS = 100_000  # permuted rows sent to the model in one predict call
WORST_ROWS = 10


@dataclass(frozen=True)
class Estimate:
    """A metric's value on the rows and its bootstrap interval (None where undefined)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready: value, low, high."""
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class ClassMetrics:
    """One class's precision, recall and F1 with intervals, and how many rows hold it."""

    code: int
    support: int
    precision: Estimate
    recall: Estimate
    f1: Estimate


@dataclass(frozen=True)
class ThresholdResult:
    """A binary classifier cut at one threshold: its 2×2 confusion matrix and metrics."""

    threshold: float
    confusion: np.ndarray
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class Importance:
    """How much the metric drops when one input column is shuffled: mean and spread."""

    column: str
    mean: float
    std: float
    drops: tuple[float, ...]


def metrics_with_intervals(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, Estimate]:
    """`test_metrics` with a percentile bootstrap interval for each (rows resampled, fixed seed)."""
    point = test_metrics(task, y_true, scores)
    samples = bootstrap_metrics(task, y_true, scores, n_resamples=n_resamples, seed=seed)
    return {
        name: Estimate(None)
        if value is None
        else Estimate(value, *_interval(samples[name], confidence))
        for name, value in point.items()
    }


def per_class_metrics(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> list[ClassMetrics]:
    """Precision, recall and F1 of each class (undefined ones None), with bootstrap intervals."""
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    probabilities = class_probabilities(task, np.asarray(scores, dtype=np.float64))
    labels = list(range(probabilities.shape[1]))
    y_pred = _codes(task, probabilities)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, support = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=np.nan
        )
    samples = bootstrap_metrics(task, y_true, scores, n_resamples=n_resamples, seed=seed)
    result = []
    for code in labels:
        estimates = []
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            value = _json_float(values[code])
            interval = _interval(samples[f"{name}_per_class"][:, code], confidence)
            estimates.append(Estimate(None) if value is None else Estimate(value, *interval))
        result.append(ClassMetrics(code, int(support[code]), *estimates))
    return result


def bootstrap_metrics(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, np.ndarray]:
    """Every metric of `test_metrics` on each of n_resamples resamples of the rows; NaN where a
    resample leaves it undefined (a class missing, ...). Classification also has
    precision/recall/f1_per_class, shape (n_resamples, n_classes).

    All resamples are scored at once: regression through scikit-learn's multi-output metrics,
    classification from per-resample confusion matrices with scikit-learn's definitions (the
    tests check each resample against `test_metrics`), because calling scikit-learn once per
    resample costs about 20 ms, 10 s for one split.
    """
    y_true = np.asarray(y_true).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64)
    n = len(y_true)
    if n == 0 or n_resamples <= 0:
        return {name: np.full(0, np.nan) for name in metric_names(task)}
    rng = np.random.default_rng(seed)
    chunk = max(1, BOOTSTRAP_CELLS // n)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n_resamples, chunk):
        rows = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        if task == "regression":
            parts.append(_bootstrap_regression(y_true.astype(np.float64), scores, rows))
        else:
            parts.append(_bootstrap_classification(task, y_true.astype(np.int64), scores, rows))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


@dataclass(frozen=True, eq=False)
class RunEvaluation:
    """A run on its test and validation rows: scores, metrics with intervals, per-class
    metrics (test), and the baselines fitted on the same split."""

    task: str
    test_scores: np.ndarray
    val_scores: np.ndarray
    test: dict[str, Estimate]
    validation: dict[str, Estimate]
    per_class: list[ClassMetrics]
    baselines: dict[str, dict[str, float | None]]


def evaluate_with_intervals(
    prepared: Prepared,
    run: Run | Any,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> RunEvaluation:
    """Everything the Evaluate page shows about one run's numbers, computed once."""
    task = prepared.spec.task
    test_scores = predict_scores(run, prepared.X_test)
    val_scores = predict_scores(run, prepared.X_val)
    options = {"n_resamples": n_resamples, "seed": seed}
    return RunEvaluation(
        task=task,
        test_scores=test_scores,
        val_scores=val_scores,
        test=metrics_with_intervals(task, prepared.y_test, test_scores, **options),
        validation=metrics_with_intervals(task, prepared.y_val, val_scores, **options),
        per_class=[]
        if task == "regression"
        else per_class_metrics(task, prepared.y_test, test_scores, **options),
        baselines=run_metrics(prepared, run)["baselines"],
    )


def baseline_verdict(
    task: str, network: Mapping[str, float | None], baselines: Mapping[str, Mapping[str, Any]]
) -> Message:
    """One sentence on the headline metric: does the network beat the best baseline?"""
    metric = headline_metric(task)
    mine = network.get(metric)
    scored: dict[str, float] = {
        name: float(values[metric])
        for name, values in baselines.items()
        if values.get(metric) is not None
    }
    if mine is None or not scored:
        return Message("evaluation.verdict.unknown")
    better = min if metric in LOWER_IS_BETTER else max
    best_name = better(scored, key=scored.__getitem__)
    best = scored[best_name]
    params = {
        "metric": metric,
        "baseline": best_name,
        "network_value": format_value(metric, mine),
        "baseline_value": format_value(metric, best),
    }
    if math.isclose(mine, best, abs_tol=1e-9):
        return Message("evaluation.verdict.tie", params)
    wins = mine < best if metric in LOWER_IS_BETTER else mine > best
    if not wins and best_name == "boosting":
        return Message("evaluation.verdict.boosting_wins", params)
    return Message("evaluation.verdict.better" if wins else "evaluation.verdict.worse", params)


def codes_at_threshold(positive_scores: np.ndarray, threshold: float) -> np.ndarray:
    """Binary class codes: 1 where the positive-class probability is at least the threshold."""
    return (np.asarray(positive_scores, dtype=np.float64) >= threshold).astype(np.int64)


def at_threshold(
    y_true: np.ndarray, positive_scores: np.ndarray, threshold: float
) -> ThresholdResult:
    """Confusion matrix and metrics of a binary classifier saying 'positive' from threshold up."""
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = codes_at_threshold(positive_scores, threshold)
    confusion = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])
    if len(y_true) == 0:
        return ThresholdResult(float(threshold), confusion, dict.fromkeys(THRESHOLD_METRICS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=[0, 1], zero_division=0
        )
        values = {
            "accuracy": metrics.accuracy_score(y_true, y_pred),
            "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
            "precision": precision.mean(),
            "recall": recall.mean(),
            "f1": f1.mean(),
            # Sensitivity and specificity need rows of their class; otherwise they are undefined.
            "sensitivity": recall[1] if confusion[1].sum() else None,
            "specificity": recall[0] if confusion[0].sum() else None,
            "positive_precision": precision[1] if confusion[:, 1].sum() else None,
        }
    return ThresholdResult(
        float(threshold), confusion, {k: _json_float(v) for k, v in values.items()}
    )


def predicted_classes(task: str, scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class codes from scores: the threshold for binary tasks, arg max for multiclass."""
    if task == "binary":
        return codes_at_threshold(np.asarray(scores).reshape(-1), threshold)
    return predicted_codes(task, scores)


def confusion(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    n_classes: int,
    *,
    threshold: float = 0.5,
    normalize: bool = False,
) -> np.ndarray:
    """Confusion matrix (rows: true class, columns: predicted), counts or shares of each row."""
    from sklearn import metrics

    y_pred = predicted_classes(task, scores, threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class without rows: its normalised row stays 0
        return metrics.confusion_matrix(
            np.asarray(y_true, dtype=np.int64),
            y_pred,
            labels=list(range(n_classes)),
            normalize="true" if normalize else None,
        )


def run_predictor(run: Run | Any, preprocessor: Any) -> Callable[[pd.DataFrame], np.ndarray]:
    """Scores for rows in their original columns: the run's preprocessing, then its model."""

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return predict_scores(run, preprocessor.transform(frame))

    return predict


def permutation_importance(
    predict: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    y_true: np.ndarray,
    task: str,
    *,
    metric: str | None = None,
    n_repeats: int = IMPORTANCE_REPEATS,
    seed: int = 0,
) -> list[Importance]:
    """Per input column, how much the metric drops when that column's values are shuffled among
    the rows (mean and spread over n_repeats shuffles), largest first. Near 0: the model does
    not use the column; negative: shuffling it happened to help."""
    from sklearn.utils import check_random_state

    metric = metric or headline_metric(task)
    rng = check_random_state(seed)
    y_true = np.asarray(y_true).reshape(-1)
    if len(X) > IMPORTANCE_MAX_ROWS:
        keep = np.sort(rng.choice(len(X), IMPORTANCE_MAX_ROWS, replace=False))
        X, y_true = X.iloc[keep], y_true[keep]
    X = X.reset_index(drop=True)
    n = len(X)
    base = _one_metric(task, metric, y_true, predict(X))
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    # Shuffles are drawn column by column, repeat by repeat, then scored in large batches.
    jobs = [(column, rng.permutation(n)) for column in X.columns for _ in range(n_repeats)]
    drops: dict[str, list[float]] = {str(column): [] for column in X.columns}
    per_batch = max(1, IMPORTANCE_BATCH_ROWS // max(n, 1))
    for start in range(0, len(jobs), per_batch):
        batch = jobs[start : start + per_batch]
        frames = []
        for column, order in batch:
            frame = X.copy()
            frame[column] = X[column].to_numpy()[order]
            frames.append(frame)
        scores = predict(pd.concat(frames, ignore_index=True))
        for index, (column, _) in enumerate(batch):
            shuffled = _one_metric(task, metric, y_true, scores[index * n : (index + 1) * n])
            drops[str(column)].append(sign * (base - shuffled))
    result = [
        Importance(column, float(np.mean(values)), float(np.std(values)), tuple(values))
        for column, values in drops.items()
    ]
    return sorted(result, key=lambda item: item.mean, reverse=True)


def prediction_rows(
    X: pd.DataFrame,
    y_true: np.ndarray,
    scores: np.ndarray,
    task: str,
    classes: list,
    *,
    threshold: float = 0.5,
    lang: str = DEFAULT_LANGUAGE,
) -> pd.DataFrame:
    """Test rows in their original columns, led by true value, prediction and its error (or the
    probability given to the true class); ordered worst first."""
    y_true = np.asarray(y_true).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64)
    labels = {key: t(f"evaluation.rows.{key}", lang) for key in ("true", "predicted")}
    if task == "regression":
        predicted = scores.reshape(-1)
        error = predicted - y_true
        outcome = {"true": y_true, "predicted": predicted, "error": error}
        labels["error"] = t("evaluation.rows.error", lang)
        badness = np.abs(error)
    else:
        probabilities = class_probabilities(task, scores)
        codes = predicted_classes(task, scores, threshold)
        names = np.array(classes, dtype=object)
        p_true = probabilities[np.arange(len(y_true)), y_true.astype(np.int64)]
        outcome = {
            "true": names[y_true.astype(np.int64)],
            "predicted": names[codes],
            "p_true": p_true,
        }
        labels["p_true"] = t("evaluation.rows.p_true", lang)
        badness = 1.0 - p_true
    taken = {str(column) for column in X.columns}
    front = {}
    for key, values in outcome.items():
        front[_unique_name(labels[key], taken)] = values
    table = pd.concat([pd.DataFrame(front, index=X.index), X], axis=1)
    order = np.argsort(-badness, kind="stable")
    return table.iloc[order]


def worst_rows(
    X: pd.DataFrame,
    y_true: np.ndarray,
    scores: np.ndarray,
    task: str,
    classes: list,
    *,
    n: int = WORST_ROWS,
    threshold: float = 0.5,
    lang: str = DEFAULT_LANGUAGE,
) -> pd.DataFrame:
    """The n test rows the model got most wrong (see `prediction_rows`)."""
    return prediction_rows(X, y_true, scores, task, classes, threshold=threshold, lang=lang).head(n)


def cell_rows(
    X: pd.DataFrame,
    y_true: np.ndarray,
    scores: np.ndarray,
    task: str,
    classes: list,
    true_code: int,
    predicted_code: int,
    *,
    threshold: float = 0.5,
    lang: str = DEFAULT_LANGUAGE,
) -> pd.DataFrame:
    """The rows of one confusion-matrix cell: true class true_code, predicted predicted_code."""
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    codes = predicted_classes(task, scores, threshold)
    inside = (y_true == true_code) & (codes == predicted_code)
    rows = prediction_rows(X, y_true, scores, task, classes, threshold=threshold, lang=lang)
    return rows[pd.Series(inside, index=X.index).reindex(rows.index).to_numpy()]


def run_settings(run: Run | Any) -> dict[str, Any]:
    """A run's hyperparameters as plain values, for comparing runs side by side."""
    model, train = run.model_spec, run.train_spec
    return {
        "kind": model.kind,
        "hidden_layers": len(model.hidden_layers),
        "units": int(sum(model.hidden_layers)),
        "activation": model.activation,
        "dropout": float(model.dropout),
        "l2": float(model.l2),
        "optimizer": train.optimizer,
        "learning_rate": float(train.learning_rate),
        "batch_size": train.batch_size,
        "epochs_trained": int(run.epochs_trained),
        "seed": int(train.seed),
    }


def format_value(metric: str, value: float | None) -> str:
    """A metric as people read it: 3 decimals, MAPE as a percentage, a dash when undefined."""
    if value is None or not math.isfinite(value):
        return "—"
    if metric == "mape":
        return f"{value:.1%}"
    if metric in ("rmse", "mae") and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def format_estimate(metric: str, estimate: Estimate) -> str:
    """'0.933 (0.867–0.967)': the value and its interval, or the value alone without one."""
    text = format_value(metric, estimate.value)
    if estimate.low is None or estimate.high is None or estimate.value is None:
        return text
    return f"{text} ({format_value(metric, estimate.low)}–{format_value(metric, estimate.high)})"


# --- helpers -----------------------------------------------------------------------------------


def _classification_metrics(task: str, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    probabilities = class_probabilities(task, scores)
    n_classes = probabilities.shape[1]
    labels = list(range(n_classes))
    y_pred = _codes(task, probabilities)
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


def class_probabilities(task: str, scores: np.ndarray) -> np.ndarray:
    """Class probabilities (n, k) from a classifier's scores, rows summing to 1."""
    if task == "binary":
        positive = np.clip(np.asarray(scores, dtype=np.float64).reshape(-1), 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])
    probabilities = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    n_classes = probabilities.shape[1]
    # float32 softmax rows can miss 1 by ~1e-7; sklearn's checks want them to sum to 1.
    totals = probabilities.sum(axis=1, keepdims=True)
    return np.divide(
        probabilities,
        totals,
        out=np.full_like(probabilities, 1.0 / n_classes),
        where=totals > 0,
    )


def _codes(task: str, probabilities: np.ndarray) -> np.ndarray:
    """Class codes at the default cut: 0.5 for binary, arg max for multiclass."""
    return predicted_codes(task, probabilities[:, 1] if task == "binary" else probabilities)


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


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if len(finite) < MIN_DEFINED_RESAMPLES:
        return None, None
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _bootstrap_regression(y: np.ndarray, predicted: np.ndarray, rows: np.ndarray) -> dict:
    from sklearn import metrics

    truth, guess = y[rows].T, predicted.reshape(-1)[rows].T  # one column per resample
    r2 = (
        metrics.r2_score(truth, guess, multioutput="raw_values")
        if len(y) >= 2
        else np.full(len(rows), np.nan)
    )
    mape = (
        np.full(len(rows), np.nan)
        if np.any(y == 0)
        else metrics.mean_absolute_percentage_error(truth, guess, multioutput="raw_values")
    )
    return {
        "r2": np.asarray(r2, dtype=np.float64),
        "rmse": metrics.root_mean_squared_error(truth, guess, multioutput="raw_values"),
        "mae": metrics.mean_absolute_error(truth, guess, multioutput="raw_values"),
        "mape": np.asarray(mape, dtype=np.float64),
    }


def _bootstrap_classification(
    task: str, y: np.ndarray, scores: np.ndarray, rows: np.ndarray
) -> dict:
    probabilities = class_probabilities(task, scores)
    n, k = probabilities.shape
    resamples = len(rows)
    # counts[r, i]: how often row i is drawn in resample r.
    offsets = (np.arange(resamples)[:, None] * n + rows).reshape(-1)
    counts = np.bincount(offsets, minlength=resamples * n).reshape(resamples, n).astype(float)
    cells = np.zeros((n, k * k))
    cells[np.arange(n), y * k + _codes(task, probabilities)] = 1.0
    matrices = (counts @ cells).reshape(resamples, k, k)  # [r, true, predicted]
    hits = np.diagonal(matrices, axis1=1, axis2=2)
    support, predicted = matrices.sum(axis=2), matrices.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = hits / support
        precision = hits / predicted
        f1 = 2 * hits / (support + predicted)
        present_recall = np.where(support > 0, recall, np.nan)
        balanced = np.nanmean(present_recall, axis=1)
    # Macro averages as test_metrics has them: an undefined class counts 0 (zero_division=0).
    eps = np.finfo(np.float64).eps
    p_true = np.clip(probabilities[np.arange(n), y], eps, 1 - eps)
    values = {
        "accuracy": hits.sum(axis=1) / n,
        "balanced_accuracy": balanced,
        "precision": np.nan_to_num(precision).mean(axis=1),
        "recall": np.nan_to_num(recall).mean(axis=1),
        "f1": np.nan_to_num(f1).mean(axis=1),
        "roc_auc": _bootstrap_auc(task, y, probabilities, counts),
        "log_loss": counts @ -np.log(p_true) / n,
        "precision_per_class": precision,
        "recall_per_class": recall,
        "f1_per_class": np.where(support > 0, f1, np.nan),
    }
    return values


def _bootstrap_auc(task: str, y: np.ndarray, probabilities: np.ndarray, counts: np.ndarray):
    if task == "binary":
        return _weighted_auc(y == 1, probabilities[:, 1], counts)
    # One-vs-rest macro, defined only when every class is among the resampled rows.
    per_class = [
        _weighted_auc(y == code, probabilities[:, code], counts)
        for code in range(probabilities.shape[1])
    ]
    return np.mean(per_class, axis=0)


def _weighted_auc(positive: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC per resample (rows weighted by how often they were drawn), ties counted half:
    the Mann-Whitney form of the area scikit-learn's roc_auc_score computes."""
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    weights = counts[:, order]
    negatives = np.where(positive[order], 0.0, weights)
    positives = np.where(positive[order], weights, 0.0)
    cumulative = np.concatenate([np.zeros((len(counts), 1)), np.cumsum(negatives, axis=1)], axis=1)
    # Each row's tie group [first, last] among equal scores.
    first = np.searchsorted(sorted_score, sorted_score, side="left")
    last = np.searchsorted(sorted_score, sorted_score, side="right")
    below = cumulative[:, first]
    tied = cumulative[:, last] - below
    area = (positives * (below + 0.5 * tied)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = area / (positives.sum(axis=1) * negatives.sum(axis=1))
    return np.where(np.isfinite(auc), auc, np.nan)


def _one_metric(task: str, metric: str, y_true: np.ndarray, scores: np.ndarray) -> float:
    from sklearn import metrics

    if task == "regression":
        functions = {
            "r2": metrics.r2_score,
            "rmse": metrics.root_mean_squared_error,
            "mae": metrics.mean_absolute_error,
        }
        return float(functions[metric](y_true, scores.reshape(-1)))
    probabilities = class_probabilities(task, scores)
    if metric == "log_loss":
        labels = list(range(probabilities.shape[1]))
        return float(metrics.log_loss(y_true, probabilities, labels=labels))
    predicted = _codes(task, probabilities)
    functions = {
        "accuracy": metrics.accuracy_score,
        "balanced_accuracy": metrics.balanced_accuracy_score,
    }
    return float(functions[metric](y_true, predicted))


def _unique_name(label: str, taken: set[str]) -> str:
    name, number = label, 2
    while name in taken:
        name, number = f"{label} ({number})", number + 1
    taken.add(name)
    return name


# --- no better than the trivial baseline ------------------------------------------------------


def trivial_baseline_verdict(
    task: str, estimate: Estimate, baselines: Mapping[str, Mapping[str, Any]]
) -> Message | None:
    """A warning when the headline metric is no better than always answering the majority class
    (or the mean): the trivial baseline's score reaches into the run's interval. None when the
    run is clearly better, or when either number is undefined.

    Without an interval the point value is compared. Accuracy and R² are both higher-is-better.
    """
    metric = headline_metric(task)
    trivial = BASELINES[task][0]
    base = (baselines.get(trivial) or {}).get(metric)
    if estimate.value is None or base is None:
        return None
    low = estimate.low if estimate.low is not None else estimate.value
    if float(base) < low:
        return None
    return Message(
        f"special.verdict.no_better_{trivial}",
        {
            "metric": metric,
            "value": format_value(metric, estimate.value),
            "baseline": format_value(metric, float(base)),
            "low": format_value(metric, low),
            "high": format_value(metric, estimate.high if estimate.high is not None else low),
        },
    )


def run_trivial_verdict(
    prepared: Prepared,
    run: Run | Any,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> Message | None:
    """`trivial_baseline_verdict` for a run on its own test rows (bootstrap interval); the
    baselines from its metrics.json unless given."""
    task = prepared.spec.task
    if len(prepared.y_test) == 0:
        return None
    scores = predict_scores(run, prepared.X_test)
    estimates = metrics_with_intervals(task, prepared.y_test, scores, n_resamples=n_resamples)
    if baselines is None:
        # The run's metrics.json when it has one; else the baselines alone (run_metrics would
        # also run the membership-inference attack, seconds for nothing here).
        known = (getattr(run, "metrics", None) or {}).get("baselines")
        baselines = known if known else baseline_metrics(prepared)
    return trivial_baseline_verdict(task, estimates[headline_metric(task)], baselines)
