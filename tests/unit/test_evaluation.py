"""Held-out metrics equal scikit-learn's, baselines sit on the run's split; no TensorFlow here."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn import metrics
from sklearn.linear_model import LogisticRegression

import core.evaluate.metrics as evaluation
from core.data.loading import load_sample
from core.prep.pipeline import prepare
from core.train.runner import default_config

Y_BINARY = np.array([0, 1, 1, 0, 1, 0, 1, 1])
P_BINARY = np.array([0.1, 0.8, 0.4, 0.3, 0.9, 0.6, 0.7, 0.55])
Y_MULTI = np.array([0, 1, 2, 2, 1, 0, 2, 1])
P_MULTI = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.6, 0.3],
        [0.2, 0.2, 0.6],
        [0.3, 0.4, 0.3],
        [0.2, 0.5, 0.3],
        [0.5, 0.4, 0.1],
        [0.1, 0.1, 0.8],
        [0.6, 0.3, 0.1],
    ]
)
Y_REGRESSION = np.array([1.0, 2.5, 3.0, 4.5, 6.0])
P_REGRESSION = np.array([1.2, 2.0, 3.3, 4.0, 6.5])


@pytest.fixture(scope="module")
def iris():
    frame = load_sample("iris").frame
    return prepare(frame, default_config(frame, "species").preprocess)


@pytest.fixture(scope="module")
def diabetes():
    frame = load_sample("diabetes").frame
    return prepare(frame, default_config(frame, "progression").preprocess)


def test_binary_metrics_match_scikit_learn():
    found = evaluation.test_metrics("binary", Y_BINARY, P_BINARY)
    predicted = (P_BINARY >= 0.5).astype(int)
    assert found["accuracy"] == metrics.accuracy_score(Y_BINARY, predicted)
    assert found["balanced_accuracy"] == metrics.balanced_accuracy_score(Y_BINARY, predicted)
    assert found["f1"] == pytest.approx(metrics.f1_score(Y_BINARY, predicted, average="macro"))
    assert found["roc_auc"] == pytest.approx(metrics.roc_auc_score(Y_BINARY, P_BINARY))
    assert found["log_loss"] == pytest.approx(metrics.log_loss(Y_BINARY, P_BINARY))
    assert list(found) == list(evaluation.CLASSIFICATION_METRICS)


def test_multiclass_metrics_match_scikit_learn_with_one_vs_rest_auc():
    found = evaluation.test_metrics("multiclass", Y_MULTI, P_MULTI)
    predicted = P_MULTI.argmax(axis=1)
    assert found["accuracy"] == metrics.accuracy_score(Y_MULTI, predicted)
    assert found["f1"] == pytest.approx(metrics.f1_score(Y_MULTI, predicted, average="macro"))
    assert found["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(Y_MULTI, P_MULTI, multi_class="ovr", average="macro")
    )
    assert found["log_loss"] == pytest.approx(metrics.log_loss(Y_MULTI, P_MULTI))


def test_undefined_metrics_are_none_not_nan():
    # Test rows of one class only: ROC AUC is undefined in both tasks.
    binary = evaluation.test_metrics("binary", np.ones(4, int), np.array([0.2, 0.6, 0.7, 0.9]))
    assert binary["roc_auc"] is None
    assert binary["accuracy"] == 0.75
    multi = evaluation.test_metrics("multiclass", Y_MULTI[Y_MULTI < 2], P_MULTI[Y_MULTI < 2])
    assert multi["roc_auc"] is None
    assert multi["log_loss"] is not None
    empty = evaluation.test_metrics("regression", np.array([]), np.array([]))
    assert empty == dict.fromkeys(evaluation.REGRESSION_METRICS)


def test_regression_metrics_match_scikit_learn_and_mape_needs_nonzero_truth():
    found = evaluation.test_metrics("regression", Y_REGRESSION, P_REGRESSION)
    assert found["r2"] == pytest.approx(metrics.r2_score(Y_REGRESSION, P_REGRESSION))
    assert found["rmse"] == pytest.approx(
        metrics.root_mean_squared_error(Y_REGRESSION, P_REGRESSION)
    )
    assert found["mae"] == pytest.approx(metrics.mean_absolute_error(Y_REGRESSION, P_REGRESSION))
    assert found["mape"] == pytest.approx(
        metrics.mean_absolute_percentage_error(Y_REGRESSION, P_REGRESSION)
    )
    with_zero = evaluation.test_metrics(
        "regression", np.r_[Y_REGRESSION, 0.0], np.r_[P_REGRESSION, 1]
    )
    assert with_zero["mape"] is None
    assert with_zero["rmse"] is not None


def test_values_are_plain_floats_that_json_accepts():
    for task, y, scores in (
        ("binary", Y_BINARY, P_BINARY),
        ("multiclass", Y_MULTI, P_MULTI),
        ("regression", Y_REGRESSION, P_REGRESSION),
    ):
        found = evaluation.test_metrics(task, y, scores)
        assert all(value is None or type(value) is float for value in found.values())
        json.dumps(found, allow_nan=False)


def test_classification_baselines_on_the_same_split(iris):
    baselines = evaluation.baseline_metrics(iris)
    assert list(baselines) == ["majority", "logistic", "boosting"]
    train_majority = np.bincount(iris.y_train).argmax()
    share = float(np.mean(iris.y_test == train_majority))
    assert baselines["majority"]["accuracy"] == pytest.approx(share)
    assert baselines["majority"]["roc_auc"] == pytest.approx(0.5)
    assert baselines["logistic"]["accuracy"] > baselines["majority"]["accuracy"]
    json.dumps(baselines, allow_nan=False)


def test_binary_baseline_scores_the_positive_class():
    frame = load_sample("breast_cancer").frame
    prepared = prepare(frame, default_config(frame, "diagnosis").preprocess)
    baselines = evaluation.baseline_metrics(prepared)
    assert baselines["logistic"]["roc_auc"] > 0.9  # well above chance: columns are the right way
    assert baselines["logistic"]["accuracy"] > baselines["majority"]["accuracy"]
    assert baselines["boosting"]["roc_auc"] > 0.9
    assert baselines["boosting"]["accuracy"] > baselines["majority"]["accuracy"]


def test_regression_baselines_mean_and_linear(diabetes):
    baselines = evaluation.baseline_metrics(diabetes)
    assert list(baselines) == ["mean", "linear", "boosting"]
    assert baselines["mean"]["r2"] <= 0.05  # the mean explains (almost) nothing on new rows
    assert baselines["linear"]["r2"] > baselines["mean"]["r2"]
    assert set(baselines["linear"]) == set(evaluation.REGRESSION_METRICS)
    assert set(baselines["boosting"]) == set(evaluation.REGRESSION_METRICS)
    again = evaluation.baseline_metrics(diabetes)["boosting"]  # fixed seed: the same numbers
    assert again == baselines["boosting"]


class _Stub:
    """A stand-in for a trained Keras model: called as a Keras model is, from a fitted sklearn."""

    def __init__(self, model):
        self.model = model

    def __call__(self, X, training=False):  # as a Keras model is called for inference
        return self.model.predict_proba(X).astype(np.float32)


def test_evaluate_run_scores_test_and_validation_and_lays_out_metrics_json(iris):
    logistic = LogisticRegression(max_iter=1000).fit(iris.X_train, iris.y_train)
    run = as_run(_Stub(logistic))
    result = evaluation.evaluate_run(iris, run)
    assert set(result) == {"test", "validation", "baselines"}
    # The stub is the logistic baseline, so its test metrics are the baseline's.
    for key, value in result["baselines"]["logistic"].items():
        assert result["test"][key] == pytest.approx(value, abs=1e-6), key
    document = evaluation.metrics_document(result)
    assert {"accuracy", "balanced_accuracy", "f1", "roc_auc"} <= set(document)
    assert document["validation"] == result["validation"]
    assert set(document["baselines"]) == {"majority", "logistic", "boosting"}
    json.dumps(document, allow_nan=False)


def test_predict_scores_shapes_follow_the_task():
    class Outputs:
        def __init__(self, columns):
            self.columns = columns

        def __call__(self, X, training=False):  # as a Keras model is called for inference
            return np.full((len(X), self.columns), 0.5, dtype=np.float32)

    X = np.zeros((3, 2))
    assert evaluation.predict_scores(Outputs(1), X).shape == (3,)
    assert evaluation.predict_scores(Outputs(4), X).shape == (3, 4)
    assert evaluation.predict_scores(as_run(Outputs(1)), X).dtype == np.float64


def as_run(model):
    """A minimal run: what evaluate_run and predict_scores need from core.train.engine.Run."""

    class _Run:
        def build_model(self):
            return model

    return _Run()


def test_headline_metric_per_task():
    assert evaluation.headline_metric("binary") == "accuracy"
    assert evaluation.headline_metric("regression") == "r2"


def test_run_metrics_is_computed_once_and_kept_on_the_run(monkeypatch):
    import core.evaluate.metrics as evaluation

    calls = []
    document = {"accuracy": 1.0, "validation": {}, "baselines": {}}
    monkeypatch.setattr(evaluation, "evaluate_run", lambda p, r: calls.append(r) or {})
    monkeypatch.setattr(evaluation, "metrics_document", lambda e, privacy=None: document)
    monkeypatch.setattr(evaluation, "run_privacy", lambda p, r: calls.append(r) or {})
    run = SimpleNamespace(metrics={})
    assert evaluation.run_metrics(None, run) is document
    assert evaluation.run_metrics(None, run) is document
    assert len(calls) == 2  # the metrics and the privacy block (membership attack), once each
