"""Shapley attributions on the original columns: additivity, the right column, seeds, shap."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import quick_training

from core.deploy.bundle import bundle_from_run, predict_frame, probability_column
from core.evaluate.explain import (
    METHOD_EXACT,
    METHOD_PERMUTATION,
    Explainer,
    column_groups,
    partial_dependence,
    reason_columns,
)
from core.evaluate.explain_figures import (
    beeswarm_figure,
    dependence_figure,
    importance_figure,
    waterfall_figure,
)
from core.train.runner import default_config

ROWS = 240


def _table(seed: int = 0) -> pd.DataFrame:
    """y depends on `signal` only; `noise` and `colour` are kept but irrelevant; `unseen` is
    dropped from the plan, so the model never sees it."""
    rng = np.random.default_rng(seed)
    signal = rng.uniform(-2, 2, ROWS)
    return pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(0, 1, ROWS),
            "colour": rng.choice(["red", "green", "blue"], ROWS),
            "when": pd.date_range("2020-01-01", periods=ROWS, freq="D").astype(str),
            "unseen": rng.normal(0, 1, ROWS),
            "y": 3 * signal + 1,
            "label": np.where(signal > 0, "yes", "no"),
        }
    )


def _config(frame: pd.DataFrame, target: str):
    config = default_config(frame, target)
    # The plan would drop `signal` as a leak (it predicts y almost perfectly): keep it here.
    actions = {"unseen": "drop", "signal": "keep"}
    plans = tuple(
        replace(plan, action=actions.get(plan.name, plan.action))
        for plan in config.preprocess.columns
    )
    return replace(config, preprocess=replace(config.preprocess, columns=plans))


@pytest.fixture(scope="module")
def regressor():
    frame = _table().drop(columns=["label"])
    prepared, run, config = quick_training.trained(
        frame, "y", epochs=40, config=_config(frame, "y")
    )
    return prepared, run, config


@pytest.fixture(scope="module")
def classifier():
    frame = _table(1).drop(columns=["y"])
    prepared, run, config = quick_training.trained(
        frame, "label", epochs=30, config=_config(frame, "label")
    )
    return prepared, run, config


def _explainer(prepared, run, seed: int = 0) -> Explainer:
    return Explainer(prepared.preprocessor, run.build_model(), prepared.splits.X_train, seed=seed)


def _check_additive(explanation, predictions: np.ndarray) -> None:
    total = explanation.base_values + explanation.values.sum(axis=1)
    scale = np.maximum(np.abs(predictions), 1e-6)
    assert np.all(np.abs(total - predictions) / scale <= 1e-3)
    assert np.all(np.abs(explanation.outputs - predictions) / scale <= 1e-3)


def test_a_regressor_adds_up_to_its_prediction_in_target_units(regressor):
    prepared, run, config = regressor
    rows = prepared.splits.X_test
    explanation = _explainer(prepared, run).explain(rows)
    bundle = bundle_from_run(prepared, run, config, {})
    predicted = predict_frame(bundle, rows)["prediction"].to_numpy(dtype=float)
    _check_additive(explanation, predicted)
    assert explanation.method == METHOD_EXACT
    assert explanation.task == "regression"
    assert "y" in explanation.output_text("en", target="y")


def test_a_classifier_adds_up_to_the_positive_class_probability(classifier):
    prepared, run, config = classifier
    rows = prepared.splits.X_test
    explanation = _explainer(prepared, run).explain(rows)
    bundle = bundle_from_run(prepared, run, config, {})
    positive = prepared.preprocessor.classes_[1]
    predicted = predict_frame(bundle, rows)[probability_column(positive)].to_numpy(dtype=float)
    _check_additive(explanation, predicted)
    assert set(explanation.explained_class) == {"yes"}
    assert "yes" in explanation.output_text("en")


@pytest.mark.parametrize("model", ["regressor", "classifier"])
def test_the_column_y_depends_on_wins_and_a_column_never_seen_gets_nothing(model, request):
    prepared, run, _config = request.getfixturevalue(model)
    explanation = _explainer(prepared, run).explain(prepared.splits.X_test)
    # Keyed by the table's own columns, never by encoded features (colour_red, when_year...).
    assert explanation.columns == ("signal", "noise", "colour", "when")
    assert set(explanation.row(0)) == {"signal", "noise", "colour", "when"}
    largest = np.argmax(np.abs(explanation.values), axis=1)
    assert np.mean(largest == explanation.columns.index("signal")) >= 0.9
    importance = explanation.importance().set_index("column")["mean_abs"]
    assert importance.index[0] == "signal"
    assert importance.drop("signal").max() < 0.25 * importance["signal"]
    # The dropped column is no player at all: its attribution is 0 by construction.
    assert "unseen" not in explanation.row(0)
    assert explanation.row(0).get("unseen", 0.0) == 0.0
    assert explanation.top_reasons(0, 1)[0][0] == explanation.columns[largest[0]]


def test_deterministic_for_a_seed_and_one_row_alone_equals_it_in_a_batch(regressor):
    prepared, run, _config = regressor
    rows = prepared.splits.X_test
    first = _explainer(prepared, run, seed=3).explain(rows)
    again = _explainer(prepared, run, seed=3).explain(rows)
    np.testing.assert_array_equal(first.values, again.values)
    np.testing.assert_array_equal(first.base_values, again.base_values)
    alone = _explainer(prepared, run, seed=3).explain(rows.iloc[[4]])
    np.testing.assert_allclose(alone.values[0], first.values[4], atol=1e-6)
    other = _explainer(prepared, run, seed=4).explain(rows)
    assert not np.allclose(other.base_values, first.base_values)  # another background sample


def test_mixing_encoded_slices_equals_encoding_mixed_raw_rows(regressor):
    prepared, _run, _config = regressor
    preprocessor = prepared.preprocessor
    groups = column_groups(preprocessor)
    assert len(groups[0]) == 1  # signal: one scaled number
    assert len(groups[2]) >= 3  # colour: its one-hot group
    rows = prepared.splits.X_test.iloc[:6].reset_index(drop=True)
    other = prepared.splits.X_train.iloc[:6].reset_index(drop=True)
    mixed_raw = rows.copy()
    for name in ("colour", "when"):
        mixed_raw[name] = other[name]
    encoded_rows, encoded_other = preprocessor.transform(rows), preprocessor.transform(other)
    mixed = encoded_rows.copy()
    for column in (2, 3):
        mixed[:, groups[column]] = encoded_other[:, groups[column]]
    np.testing.assert_allclose(mixed, preprocessor.transform(mixed_raw), atol=1e-6)


def test_exact_values_equal_shaps_exact_explainer(regressor):
    """The reference: shap's ExactExplainer over the same grouped columns (each column's
    value is the index of the row it is taken from), against the same background."""
    import shap

    prepared, run, _config = regressor
    explainer = _explainer(prepared, run)
    rows = prepared.splits.X_test.iloc[:3]
    ours = explainer.explain(rows)
    groups = column_groups(prepared.preprocessor)
    background = prepared.preprocessor.transform(explainer.background_sample)
    table = np.vstack([background, prepared.preprocessor.transform(rows)])

    def model(ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        encoded = np.empty((len(ids), table.shape[1]), dtype=np.float32)
        for column, group in enumerate(groups):
            encoded[:, group] = table[ids[:, column]][:, group]
        return explainer.outputs(encoded)

    g = len(groups)
    background_ids = np.repeat(np.arange(len(background))[:, None], g, axis=1)
    row_ids = np.repeat(np.arange(len(background), len(table))[:, None], g, axis=1)
    masker = shap.maskers.Independent(background_ids, max_samples=len(background))
    reference = shap.explainers.Exact(model, masker)(row_ids)
    np.testing.assert_allclose(ours.values, reference.values, atol=1e-5)
    np.testing.assert_allclose(ours.base_values, reference.base_values, atol=1e-5)


def test_many_columns_use_permutations_close_to_exact_and_still_add_up(monkeypatch):
    import core.evaluate.explain as explain

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({f"x{i}": rng.normal(0, 1, 160) for i in range(12)})
    frame["y"] = 3 * frame["x3"] + rng.normal(0, 0.5, 160)
    prepared, run, _config = quick_training.trained(frame, "y", epochs=25)
    rows = prepared.splits.X_test.iloc[:4]
    explanation = _explainer(prepared, run, seed=1).explain(rows)
    assert explanation.method == METHOD_PERMUTATION and explanation.permutations >= 4
    assert explanation.additivity_error() <= 1e-4 * max(1.0, np.abs(explanation.outputs).max())
    again = _explainer(prepared, run, seed=1).explain(rows)
    np.testing.assert_array_equal(explanation.values, again.values)
    assert explanation.importance()["column"].iloc[0] == "x3"
    # The sampled estimate against every one of the 4096 coalitions.
    monkeypatch.setattr(explain, "EXACT_MAX_COLUMNS", 12)
    exact = _explainer(prepared, run, seed=1).explain(rows)
    assert exact.method == METHOD_EXACT
    scale = np.abs(exact.values).max()
    assert np.abs(explanation.values - exact.values).max() <= 0.1 * scale


def test_a_multiclass_row_explains_its_predicted_class():
    from core.data.loading import load_sample

    frame = load_sample("iris").frame
    prepared, run, config = quick_training.trained(frame, "species", epochs=8)
    rows = prepared.splits.X_test.iloc[:8]
    explanation = _explainer(prepared, run).explain(rows)
    table = predict_frame(bundle_from_run(prepared, run, config, {}), rows)
    assert list(explanation.explained_class) == [str(label) for label in table["prediction"]]
    chosen = [
        table[probability_column(label)].iloc[i] for i, label in enumerate(table["prediction"])
    ]
    _check_additive(explanation, np.asarray(chosen, dtype=float))


def test_partial_dependence_reasons_and_figures(regressor, classifier):
    prepared, run, _config = regressor
    explainer = _explainer(prepared, run)
    explanation = explainer.explain(prepared.splits.X_test)
    dependence = partial_dependence(explainer, prepared.splits.X_test, "signal", rows=20)
    assert dependence is not None and not dependence.categorical
    assert dependence.individual.shape == (20, len(dependence.grid))
    np.testing.assert_allclose(dependence.individual.mean(axis=0), dependence.average, atol=1e-6)
    assert dependence.average[-1] > dependence.average[0]  # y = 3 signal + 1 rises
    colour = partial_dependence(explainer, prepared.splits.X_test, "colour", rows=20)
    assert colour is not None and colour.categorical
    assert set(colour.grid) <= {"red", "green", "blue"}
    assert partial_dependence(explainer, prepared.splits.X_test, "when") is None
    reasons = reason_columns(explanation, lang="en")
    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert reasons.iloc[0, 0].startswith(explanation.top_reasons(0, 1)[0][0])
    for lang in ("en", "zh"):
        for figure in (
            importance_figure(explanation, lang=lang),
            beeswarm_figure(explanation, lang=lang),
            dependence_figure(dependence, "y", lang=lang),
            dependence_figure(colour, "y", lang=lang),
            waterfall_figure(explanation, 0, lang=lang, columns=2),
        ):
            assert figure.data
    waterfall = waterfall_figure(explanation, 0, columns=2).data[0]
    assert waterfall.x[-1] == pytest.approx(explanation.outputs[0])
    assert sum(waterfall.x[:-1]) == pytest.approx(explanation.outputs[0], rel=1e-6)


def test_html_in_a_column_name_stays_text():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"<b>x</b>": rng.normal(0, 1, 80), "y": rng.normal(0, 1, 80)})
    prepared, run, _config = quick_training.trained(frame, "y", epochs=2)
    explanation = _explainer(prepared, run).explain(prepared.splits.X_test)
    assert explanation.columns == ("<b>x</b>",)
    figure = importance_figure(explanation)
    assert "&lt;b&gt;" in figure.data[0].y[0]


def test_the_checklist_and_the_report_take_the_explanation_as_evidence(regressor):
    from core.compliance.checklist import ChecklistContext, ModelFacts, evaluate_checklist
    from core.compliance.report import ReportInputs, report_html, report_markdown

    prepared, run, _config = regressor
    explanation = _explainer(prepared, run).explain(prepared.splits.X_test)
    summary = explanation.summary("Run <1>", "y")
    plain = ModelFacts(task="regression", metric="r2", value=0.9)
    explained = replace(plain, explanation=summary)

    def item(facts):
        results = evaluate_checklist(ChecklistContext(model=facts))
        return next(result for result in results if result.id == "model.explainability")

    before, after = item(plain), item(explained)
    assert before.status == "unanswered"  # shown as "not assessed"
    assert [m.key for m in before.evidence] == ["explain.evidence.not_computed"]
    assert after.status == "pass" and after.source == "check"
    keys = [m.key for m in after.evidence]
    assert keys == ["explain.evidence.computed", "explain.method.exact"]
    for lang in ("en", "zh"):
        text = after.evidence[0].text(lang)
        assert "Run <1>" in text and "signal" in text
    inputs = ReportInputs(results=(after,), model=explained)
    markdown = report_markdown(inputs, "en")
    assert "**Explanations**" in markdown
    assert "per column: signal (" in markdown  # the largest first
    assert "Exact Shapley values" in markdown
    assert "解释" in report_markdown(inputs, "zh")
    html_text = report_html(inputs, "en")
    assert "Run &lt;1&gt;" in html_text and "Run <1>" not in html_text
