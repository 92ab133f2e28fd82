"""The Evaluate page through app.py: no run yet, then real trained runs of each task."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from apptest_helpers import open_app, train_first_model
from streamlit.testing.v1 import AppTest

from core.data.loading import load_sample
from core.prep.pipeline import prepare
from core.train.runner import default_config, first_model_setup, start_training


def trained(sample: str, target: str, epochs: int = 6, seed: int = 0, name: str = "Run 1"):
    """A real run of the default model on a sample, a few epochs: (run, prepared)."""
    frame = load_sample(sample).frame
    config = default_config(frame, target, seed=seed)
    prepared = prepare(frame, config.preprocess)
    train = replace(config.train, epochs=epochs, early_stopping=False)
    job = start_training(prepared, config.model, train, name=name)
    assert job.join(timeout=120)
    return job.result(), prepared


@pytest.fixture(scope="module")
def iris_runs():
    first = trained("iris", "species", name="Run 1")
    second = trained("iris", "species", epochs=8, seed=1, name="Run 2")
    return [first, second]


@pytest.fixture(scope="module")
def cancer_run():
    return trained("breast_cancer", "diagnosis")


@pytest.fixture(scope="module")
def line_run():
    dataset, spec, model_spec, train_spec = first_model_setup()
    prepared = prepare(dataset.frame, spec)
    job = start_training(prepared, model_spec, replace(train_spec, epochs=20), name="Line")
    assert job.join(timeout=120)
    return job.result(), prepared


def evaluate_page(runs=(), lang: str = "en") -> AppTest:
    state = {}
    if runs:
        state["runs"] = {run.run_id: run for run, _ in runs}
        state["run_data"] = {run.run_id: prepared for run, prepared in runs}
    return open_app(lang, "pages/evaluate.py", state=state, timeout=120)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def table_with(at: AppTest, column: str, nth: int = 0):
    """The nth table that has this column (AppTest does not expose dataframe keys)."""
    return [e.value for e in at.dataframe if column in e.value.columns][nth]


def frame_texts(at: AppTest) -> list[str]:
    return [element.value.to_csv() for element in at.dataframe]


@pytest.mark.parametrize(("lang", "text"), [("en", "Train a model first"), ("zh", "请先训练")])
def test_without_a_run_it_says_train_first_and_links_there(lang, text):
    at = evaluate_page(lang=lang)
    assert any(text in info.value for info in at.info)
    assert not at.get("plotly_chart")
    links = at.get("page_link")
    assert links and "train" in links[0].proto.page


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_multiclass_run_shows_metrics_intervals_charts_baselines(iris_runs, lang):
    at = evaluate_page(iris_runs[:1], lang)
    assert at.selectbox(key="ev_run").value == iris_runs[0][0].run_id
    tables = frame_texts(at)
    held_out = tables[0]
    assert ("Accuracy" if lang == "en" else "准确率") in held_out
    assert "–" in held_out  # value (low–high)
    baselines = tables[1]
    for label in (("Your network", "Majority class", "Logistic regression") if lang == "en"
                  else ("你的网络", "多数类", "逻辑回归")):  # fmt: skip
        assert label in baselines
    assert "setosa" in tables[2]  # per-class table
    titles = [figure["layout"].get("title", {}).get("text", "") for figure in charts(at)]
    assert any(("Confusion" if lang == "en" else "混淆") in title for title in titles)
    assert any(("Calibration" if lang == "en" else "校准") in title for title in titles)
    assert at.metric and at.metric[0].value
    # Learning curves with a plain-language diagnosis and what to try next.
    assert at.success or at.warning
    assert not at.slider  # no threshold for multiclass


def test_binary_threshold_slider_moves_the_confusion_matrix(cancer_run):
    at = evaluate_page([cancer_run])

    def matrix() -> list:
        figure = next(f for f in charts(at) if f["data"][0]["type"] == "heatmap")
        return figure["data"][0]["z"]

    at.slider(key="ev_threshold").set_value(0.5).run()
    middle = matrix()
    assert sum(map(sum, middle)) == len(cancer_run[1].y_test)
    at.slider(key="ev_threshold").set_value(0.0).run()
    assert not at.exception, at.exception
    everything_positive = matrix()
    assert everything_positive != middle
    assert everything_positive[0][0] == 0 and everything_positive[1][0] == 0
    roc = next(f for f in charts(at) if "ROC" in f["layout"]["title"]["text"])
    assert roc["data"][-1]["x"] == [1.0] and roc["data"][-1]["y"] == [1.0]
    assert any("0.00" in text for text in [m.value for m in at.markdown])


def test_binary_cell_rows_and_worst_rows(cancer_run):
    at = evaluate_page([cancer_run])
    at.selectbox(key="ev_cell_true").set_value(1).run()
    at.selectbox(key="ev_cell_predicted").set_value(1).run()
    assert not at.exception, at.exception
    _, prepared = cancer_run
    positives = str(prepared.preprocessor.classes_[1])
    caption = [c.value for c in at.caption if "were predicted" in c.value]
    assert caption and positives in caption[0]
    worst = table_with(at, "True value")
    assert len(worst) == 10
    assert list(worst.columns[:3]) == ["True value", "Predicted", "Probability of the true class"]
    cell = table_with(at, "True value", 1)
    assert set(cell["True value"]) == set(cell["Predicted"]) == {positives}


def test_importance_on_demand_then_cached(iris_runs):
    at = evaluate_page(iris_runs[:1])
    assert not [
        f for f in charts(at) if "Permutation" in f["layout"].get("title", {}).get("text", "")
    ]
    at.button(key="ev_importance").click().run()
    assert not at.exception, at.exception
    table = table_with(at, "Input column")
    assert set(table["Input column"]) == set(iris_runs[0][1].splits.X_test.columns)
    at.run()  # still shown on the next rerun
    assert table_with(at, "Input column").equals(table)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_compare_two_runs(iris_runs, lang):
    at = evaluate_page(iris_runs, lang)
    assert at.multiselect(key="ev_compare").value == [run.run_id for run, _ in iris_runs]
    table = table_with(at, "Run" if lang == "en" else "运行")
    assert list(table.iloc[:, 0]) == ["Run 1", "Run 2"]
    types = [figure["data"][0]["type"] for figure in charts(at)]
    assert "parcoords" in types
    at.multiselect(key="ev_compare").set_value([iris_runs[0][0].run_id]).run()
    assert not at.exception, at.exception
    assert any(("at least two" if lang == "en" else "至少") in info.value for info in at.info)


def test_regression_run_shows_its_own_charts(line_run):
    at = evaluate_page([line_run], "zh")
    titles = [figure["layout"].get("title", {}).get("text", "") for figure in charts(at)]
    assert any("预测值与实际值" in title for title in titles)
    assert any("残差" in title for title in titles)
    held_out = frame_texts(at)[0]
    assert "R²" in held_out
    with pytest.raises(KeyError):
        at.selectbox(key="ev_cell_true")


def test_a_run_trained_on_the_train_page_is_evaluated(monkeypatch):
    at = train_first_model(open_app("en", "pages/train.py", timeout=120), epochs=10)
    at.switch_page("pages/evaluate.py")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ev_run").value in at.session_state["runs"]
    assert "Root mean squared error" in frame_texts(at)[0]
    assert table_with(at, "Model").shape[0] == 4  # the network and three baselines (HGB too)
