"""Bootstrap intervals, thresholds, confusion matrices, importance and prediction rows."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.linear_model import LogisticRegression

import core.evaluate.metrics as evaluation
from core.data.loading import load_sample
from core.prep.pipeline import prepare
from core.train.runner import default_config

RNG = np.random.default_rng(7)
Y_BINARY = RNG.integers(0, 2, 120)
P_BINARY = np.clip(0.35 * Y_BINARY + 0.65 * RNG.random(120), 0, 1)
P_BINARY[:6] = 0.5  # ties, and rows exactly at the default threshold
Y_MULTI = RNG.integers(0, 3, 60)
P_MULTI = RNG.dirichlet([1, 1, 1], 60)
P_MULTI[np.arange(60), Y_MULTI] += 0.6
P_MULTI /= P_MULTI.sum(axis=1, keepdims=True)
Y_REGRESSION = RNG.normal(5, 2, 80)
P_REGRESSION = Y_REGRESSION + RNG.normal(0, 1, 80)
CASES = [
    ("binary", Y_BINARY, P_BINARY),
    ("multiclass", Y_MULTI, P_MULTI),
    ("regression", Y_REGRESSION, P_REGRESSION),
]


@pytest.mark.parametrize(("task", "y", "scores"), CASES)
def test_each_resample_equals_test_metrics_on_the_resampled_rows(task, y, scores):
    samples = evaluation.bootstrap_metrics(task, y, scores, n_resamples=40, seed=3)
    rows = np.random.default_rng(3).integers(0, len(y), size=(40, len(y)))
    for r in range(40):
        expected = evaluation.test_metrics(task, y[rows[r]], scores[rows[r]])
        for name, value in expected.items():
            if value is None:
                assert np.isnan(samples[name][r]), (name, r)
            else:
                assert samples[name][r] == pytest.approx(value, abs=1e-12), (name, r)


@pytest.mark.parametrize(("task", "y", "scores"), CASES)
def test_intervals_hold_the_point_estimate_and_repeat_with_the_seed(task, y, scores):
    found = evaluation.metrics_with_intervals(task, y, scores, n_resamples=300, seed=1)
    assert list(found) == list(evaluation.metric_names(task))
    point = evaluation.test_metrics(task, y, scores)
    for name, estimate in found.items():
        assert estimate.value == point[name]
        assert estimate.low <= estimate.value <= estimate.high, name
        assert estimate.low < estimate.high, name
    assert evaluation.metrics_with_intervals(task, y, scores, n_resamples=300, seed=1) == found
    other = evaluation.metrics_with_intervals(task, y, scores, n_resamples=300, seed=2)
    assert other != found
    json.dumps({name: estimate.to_dict() for name, estimate in found.items()}, allow_nan=False)


def test_more_resamples_keep_the_interval_in_place():
    small = evaluation.metrics_with_intervals("binary", Y_BINARY, P_BINARY, n_resamples=200)
    large = evaluation.metrics_with_intervals("binary", Y_BINARY, P_BINARY, n_resamples=2000)
    assert large["accuracy"].low == pytest.approx(small["accuracy"].low, abs=0.03)
    assert large["accuracy"].high == pytest.approx(small["accuracy"].high, abs=0.03)


def test_classes_missing_from_resamples_leave_only_defined_values():
    # Class 2 has two rows: many resamples miss it, so one-vs-rest AUC is undefined there.
    y = np.r_[np.zeros(20, int), np.ones(20, int), [2, 2]]
    scores = np.full((42, 3), 0.2)
    scores[np.arange(42), y] = 0.6
    samples = evaluation.bootstrap_metrics("multiclass", y, scores, n_resamples=200, seed=0)
    missing = np.isnan(samples["roc_auc"])
    assert 0 < missing.sum() < 200
    assert not np.isnan(samples["accuracy"]).any()
    found = evaluation.metrics_with_intervals("multiclass", y, scores, n_resamples=200)
    assert found["roc_auc"].low is not None
    per_class = evaluation.per_class_metrics("multiclass", y, scores, n_resamples=200)
    assert per_class[2].support == 2
    assert per_class[2].recall.value == 1.0


def test_a_class_seen_in_too_few_resamples_gets_no_interval():
    y = np.r_[np.zeros(300, int), [1]]
    scores = np.r_[np.full(300, 0.2), [0.9]]
    found = evaluation.metrics_with_intervals("binary", y, scores, n_resamples=30, seed=0)
    # About a third of resamples lack the one positive row: fewer than 20 defined AUCs.
    assert found["roc_auc"].value == 1.0
    assert found["roc_auc"].low is None and found["roc_auc"].high is None
    assert found["accuracy"].low is not None


def test_undefined_metrics_have_no_interval():
    found = evaluation.metrics_with_intervals(
        "regression", np.r_[Y_REGRESSION, 0.0], np.r_[P_REGRESSION, 1.0], n_resamples=50
    )
    assert found["mape"] == evaluation.Estimate(None)
    empty = evaluation.metrics_with_intervals("binary", np.array([]), np.array([]))
    assert all(estimate.value is None for estimate in empty.values())


def test_per_class_metrics_match_scikit_learn():
    found = evaluation.per_class_metrics("multiclass", Y_MULTI, P_MULTI, n_resamples=200)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        Y_MULTI, P_MULTI.argmax(axis=1), labels=[0, 1, 2]
    )
    for item in found:
        assert item.support == support[item.code]
        assert item.precision.value == pytest.approx(precision[item.code])
        assert item.recall.value == pytest.approx(recall[item.code])
        assert item.f1.value == pytest.approx(f1[item.code])
        assert item.f1.low <= item.f1.value <= item.f1.high


def test_a_class_never_predicted_has_no_precision():
    y = np.array([0, 0, 1, 1, 2, 2])
    scores = np.array(
        [[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0.6, 0.4, 0]] + [[0.5, 0.5, 0]] * 2
    )
    found = evaluation.per_class_metrics("multiclass", y, scores, n_resamples=50)
    assert found[2].precision.value is None
    assert found[2].recall.value == 0.0


def test_threshold_moves_the_confusion_matrix_and_the_metrics():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.4, 0.6, 0.3, 0.7, 0.9])
    middle = evaluation.at_threshold(y, p, 0.5)
    assert middle.confusion.tolist() == [[2, 1], [1, 2]]
    assert middle.metrics["sensitivity"] == pytest.approx(2 / 3)
    assert middle.metrics["specificity"] == pytest.approx(2 / 3)
    low = evaluation.at_threshold(y, p, 0.25)
    assert low.confusion.tolist() == [[1, 2], [0, 3]]
    assert low.metrics["sensitivity"] == 1.0
    high = evaluation.at_threshold(y, p, 0.95)
    assert high.confusion.tolist() == [[3, 0], [3, 0]]
    assert high.metrics["positive_precision"] is None  # nothing called positive
    assert high.metrics["accuracy"] == 0.5
    # At 0.5 the threshold view agrees with the held-out metrics.
    held_out = evaluation.test_metrics("binary", y, p)
    for name in ("accuracy", "balanced_accuracy", "precision", "recall", "f1"):
        assert middle.metrics[name] == pytest.approx(held_out[name]), name


def test_threshold_is_inclusive_and_matches_predicted_codes_at_one_half():
    p = np.array([0.49, 0.5, 0.51])
    assert evaluation.codes_at_threshold(p, 0.5).tolist() == [0, 1, 1]
    assert evaluation.codes_at_threshold(p, 0.5).tolist() == (
        evaluation.predicted_codes("binary", p).tolist()
    )
    assert evaluation.codes_at_threshold(p, 0.0).tolist() == [1, 1, 1]


def test_confusion_counts_and_normalised_rows():
    counts = evaluation.confusion("multiclass", Y_MULTI, P_MULTI, 3)
    assert counts.sum() == len(Y_MULTI)
    assert counts.tolist() == metrics.confusion_matrix(Y_MULTI, P_MULTI.argmax(axis=1)).tolist()
    shares = evaluation.confusion("multiclass", Y_MULTI, P_MULTI, 3, normalize=True)
    assert shares.sum(axis=1) == pytest.approx(np.ones(3))
    binary = evaluation.confusion(
        "binary", np.array([0, 1]), np.array([0.4, 0.45]), 2, threshold=0.42
    )
    assert binary.tolist() == [[1, 0], [0, 1]]
    absent = evaluation.confusion(
        "multiclass", np.array([0, 0]), np.eye(3)[[0, 1]], 3, normalize=True
    )
    assert absent[2].tolist() == [0, 0, 0]


def test_importance_finds_the_decisive_column_and_ignores_noise():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "signal": rng.normal(size=400),
            "noise": rng.normal(size=400),
            "city": rng.choice(["a", "b"], 400),
        }
    )
    y = (frame["signal"] > 0).astype(int).to_numpy()

    def predict(rows: pd.DataFrame) -> np.ndarray:  # a model that reads only "signal"
        return 1 / (1 + np.exp(-5 * rows["signal"].to_numpy()))

    found = evaluation.permutation_importance(predict, frame, y, "binary", n_repeats=5, seed=0)
    by_column = {item.column: item for item in found}
    assert found[0].column == "signal"
    assert by_column["signal"].mean > 0.3
    assert by_column["noise"].mean == 0 and by_column["noise"].std == 0
    assert by_column["city"].mean == 0
    assert len(by_column["signal"].drops) == 5
    assert by_column["signal"].std > 0
    again = evaluation.permutation_importance(predict, frame, y, "binary", n_repeats=5, seed=0)
    assert again == found


def test_importance_for_regression_uses_r2_and_a_lower_is_better_metric_flips_sign():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200), "junk": rng.normal(size=200)})
    y = 3 * frame["x"].to_numpy()

    def predict(rows):
        return 3 * rows["x"].to_numpy()

    by_r2 = {
        i.column: i for i in evaluation.permutation_importance(predict, frame, y, "regression")
    }
    assert by_r2["x"].mean > 1.5  # R² falls from 1 to about -1
    assert by_r2["junk"].mean == 0
    by_mae = evaluation.permutation_importance(predict, frame, y, "regression", metric="mae")
    assert by_mae[0].column == "x" and by_mae[0].mean > 0


def test_importance_batches_many_rows(monkeypatch):
    monkeypatch.setattr(evaluation, "IMPORTANCE_BATCH_ROWS", 50)
    calls = []
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.zeros(20)})

    def predict(rows):
        calls.append(len(rows))
        return rows["a"].to_numpy()

    evaluation.permutation_importance(
        predict, frame, frame["a"].to_numpy(), "regression", n_repeats=3
    )
    assert max(calls) <= 50 and sum(calls) == 20 + 2 * 3 * 20


@pytest.fixture(scope="module")
def iris_frame():
    frame = load_sample("iris").frame
    return frame


def test_worst_rows_lead_with_true_predicted_and_probability(iris_frame):
    X = iris_frame.drop(columns="species").head(6)
    classes = ["setosa", "versicolor", "virginica"]
    y = np.array([0, 1, 2, 0, 1, 2])
    scores = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]] * 2)
    rows = evaluation.worst_rows(X, y, scores, "multiclass", classes, n=2)
    assert list(rows.columns[:3]) == ["True value", "Predicted", "Probability of the true class"]
    assert list(rows.columns[3:]) == list(X.columns)
    assert rows.iloc[0]["True value"] == "virginica" and rows.iloc[0]["Predicted"] == "setosa"
    assert rows.iloc[0]["Probability of the true class"] == pytest.approx(0.1)
    assert list(rows.index) == [2, 5]  # the original row labels stay
    chinese = evaluation.worst_rows(X, y, scores, "multiclass", classes, lang="zh")
    assert chinese.columns[0] == "真实值"


def test_worst_rows_for_regression_sort_by_absolute_error_and_avoid_name_clashes():
    X = pd.DataFrame({"Predicted": [1, 2, 3], "x": [0.1, 0.2, 0.3]})
    rows = evaluation.worst_rows(
        X, np.array([1.0, 2.0, 3.0]), np.array([1.5, 0.0, 3.1]), "regression", []
    )
    assert list(rows.columns) == [
        "True value",
        "Predicted (2)",
        "Error (predicted − true)",
        "Predicted",
        "x",
    ]
    assert rows["Error (predicted − true)"].tolist() == pytest.approx([-2.0, 0.5, 0.1])


def test_cell_rows_pick_one_confusion_matrix_cell_at_the_threshold():
    X = pd.DataFrame({"v": [10, 20, 30, 40]}, index=[5, 6, 7, 8])
    y = np.array([0, 0, 1, 1])
    p = np.array([0.3, 0.6, 0.4, 0.8])
    false_positive = evaluation.cell_rows(X, y, p, "binary", ["no", "yes"], 0, 1)
    assert false_positive["v"].tolist() == [20]
    assert evaluation.cell_rows(X, y, p, "binary", ["no", "yes"], 1, 1, threshold=0.35)[
        "v"
    ].tolist() == [30, 40]
    assert evaluation.cell_rows(X, y, p, "binary", ["no", "yes"], 1, 0, threshold=0.35).empty


def test_baseline_verdict_names_the_best_baseline():
    baselines = {"mean": {"r2": 0.0}, "linear": {"r2": 0.6}}
    better = evaluation.baseline_verdict("regression", {"r2": 0.7}, baselines)
    assert better.key == "evaluation.verdict.better"
    assert better.params["baseline"] == "linear"
    assert evaluation.baseline_verdict("regression", {"r2": 0.5}, baselines).key.endswith("worse")
    assert evaluation.baseline_verdict("regression", {"r2": None}, baselines).key.endswith(
        "unknown"
    )
    # When gradient boosting is the baseline that wins, the verdict says so plainly.
    boosted = {**baselines, "boosting": {"r2": 0.8}}
    verdict = evaluation.baseline_verdict("regression", {"r2": 0.7}, boosted)
    assert verdict.key == "evaluation.verdict.boosting_wins"
    assert "0.800" in verdict.text("en") and "梯度提升" in verdict.text("zh")
    assert evaluation.baseline_verdict("regression", {"r2": 0.9}, boosted).key.endswith("better")


def test_formatting_reads_like_a_report():
    assert evaluation.format_value("accuracy", 0.93333) == "0.933"
    assert evaluation.format_value("mape", 0.1234) == "12.3%"
    assert evaluation.format_value("rmse", 12345.6) == "12,346"
    assert evaluation.format_value("roc_auc", None) == "—"
    estimate = evaluation.Estimate(0.9, 0.85, 0.95)
    assert evaluation.format_estimate("accuracy", estimate) == "0.900 (0.850–0.950)"
    assert evaluation.format_estimate("accuracy", evaluation.Estimate(0.9)) == "0.900"


class _Stub:
    def __init__(self, model):
        self.model = model

    def __call__(self, X, training=False):  # as a Keras model is called for inference
        return self.model.predict_proba(X).astype(np.float32)


class _Run:
    def __init__(self, model):
        self.model = model

    def build_model(self):
        return self.model


def test_evaluate_with_intervals_gathers_what_the_page_shows(iris_frame):
    prepared = prepare(iris_frame, default_config(iris_frame, "species").preprocess)
    logistic = LogisticRegression(max_iter=1000).fit(prepared.X_train, prepared.y_train)
    report = evaluation.evaluate_with_intervals(prepared, _Run(_Stub(logistic)), n_resamples=100)
    assert report.task == "multiclass"
    assert report.test_scores.shape == (len(prepared.y_test), 3)
    assert report.test["accuracy"].value == pytest.approx(
        report.baselines["logistic"]["accuracy"], abs=1e-6
    )
    assert len(report.per_class) == 3
    assert set(report.validation) == set(evaluation.CLASSIFICATION_METRICS)
    predict = evaluation.run_predictor(_Run(_Stub(logistic)), prepared.preprocessor)
    assert predict(prepared.splits.X_test).shape == report.test_scores.shape


def test_run_settings_are_plain_values():
    from core.train.engine import Run, TrainSpec
    from core.train.models import ModelSpec

    run = Run(
        run_id="r", name="n", model_spec=ModelSpec(hidden_layers=(8, 4), dropout=0.1),
        train_spec=TrainSpec(learning_rate=0.01, batch_size=None), task="binary", n_features=3,
        n_classes=2, history={"loss": [1.0, 0.5]}, status="finished", duration_s=1.0, created_at="",
    )  # fmt: skip
    settings = evaluation.run_settings(run)
    assert settings["hidden_layers"] == 2 and settings["units"] == 12
    assert settings["batch_size"] is None and settings["epochs_trained"] == 2
    json.dumps(settings)
