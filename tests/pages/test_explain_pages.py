"""Shapley attributions through app.py: Evaluate's Explain tab, Deploy's waterfall and reasons,
and the Compliance checklist's explainability item, for a classifier and a regressor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from apptest_helpers import open_app
from streamlit.testing.v1 import AppTest

from core.deploy.bundle import predictions_csv
from core.export_safety import FORMULA_STARTS
from core.prep.pipeline import prepare
from core.train.runner import start_training

ROWS = 120


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    size = rng.uniform(0, 10, ROWS)
    return pd.DataFrame(
        {
            "size": size,
            "=colour": rng.choice(["red", "green", "blue"], ROWS),  # a formula-like name
            "noise": rng.normal(0, 1, ROWS),
            "price": 2 * size + rng.normal(0, 2, ROWS),
            "big": np.where(size + rng.normal(0, 2, ROWS) > 5, "yes", "no"),
        }
    )


def _run(target: str, other: str):
    from dataclasses import replace

    from core.train.runner import default_config

    frame = _frame().drop(columns=[other])
    config = default_config(frame, target)
    config = replace(config, train=replace(config.train, epochs=4, early_stopping=False))
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, config.train, name=f"{target} run")
    assert job.join(timeout=120)
    run = job.result()
    assert run.status == "finished", run.message
    return prepared, run


@pytest.fixture(scope="module")
def runs():
    return {"classifier": _run("big", "price"), "regressor": _run("price", "big")}


def _open(page: str, found, lang: str) -> AppTest:
    prepared, run = found
    state = {"runs": {run.run_id: run}, "run_data": {run.run_id: prepared}}
    return open_app(lang, page, state=state, timeout=180)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(element.value) for element in getattr(at, kind)]
    return "\n".join(parts)


WORDS = {
    "en": ("Why each prediction", "Check: base value + attributions", "What is explained"),
    "zh": ("每个预测的原因", "校验：每一行的基准值", "解释的对象"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("model", ["classifier", "regressor"])
def test_evaluate_explain_tab_draws_importance_beeswarm_dependence_and_a_row(runs, model, lang):
    at = _open("pages/evaluate.py", runs[model], lang)
    title, check, output = WORDS[lang]
    assert title in _texts(at)
    before = len(_charts(at))
    at.button(key="ev_explain_go").click().run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert check in text and output in text
    charts = _charts(at)
    types = [trace["type"] for chart in charts for trace in chart["data"]]
    assert len(charts) == before + 4  # importance, beeswarm, dependence, waterfall
    assert "waterfall" in types and "bar" in types
    bars = next(c for c in charts if c["data"][0]["type"] == "bar" and "error_x" in c["data"][0])
    assert "size" in bars["data"][0]["y"]  # keyed by the table's own columns
    assert "=colour" in bars["data"][0]["y"]
    prepared, run = runs[model]
    kept = at.session_state["explanations"][run.run_id]
    assert kept.additivity_error() < 1e-4
    assert kept.rows == len(prepared.splits.X_test)
    # Another column for the partial dependence, another row for the waterfall.
    at.selectbox(key="ev_explain_pd_column").set_value("noise").run()
    at.selectbox(key="ev_explain_row").set_value(1).run()
    assert not at.exception, at.exception


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("model", ["classifier", "regressor"])
def test_deploy_one_row_shows_a_waterfall_beside_the_prediction(runs, model, lang):
    at = _open("pages/deploy.py", runs[model], lang)
    at.number_input[0].set_value(9.0)
    at.button(key="deploy_predict_one").click().run()
    assert not at.exception, at.exception
    result = at.session_state["_scratch"]["deploy_one"]
    explanation = result["explanation"]
    (waterfall,) = [c for c in _charts(at) if c["data"][0]["type"] == "waterfall"]
    table = result["table"]
    if model == "regressor":
        predicted = float(table["prediction"].iloc[0])
    else:
        predicted = float(table["probability_yes"].iloc[0])
    assert waterfall["data"][0]["x"][-1] == pytest.approx(predicted, rel=1e-3)
    assert explanation.base_values[0] + explanation.values[0].sum() == pytest.approx(
        predicted, rel=1e-3
    )
    assert WORDS[lang][2] in _texts(at)


def test_deploy_batch_adds_three_reasons_and_the_download_neutralises_formulas(runs):
    prepared, _run = runs["classifier"]
    at = _open("pages/deploy.py", runs["classifier"], "en")
    rows = prepared.splits.X_test.head(5).astype(object)
    rows.iloc[1, 0] = "not a number"
    at.get("file_uploader")[0].set_value(
        ("rows.csv", rows.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert not at.exception, at.exception
    at.toggle(key="deploy_reasons").set_value(True).run()
    assert not at.exception, at.exception
    reasons = at.session_state["_scratch"]["deploy_batch"]["reasons"]
    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert reasons.iloc[1].tolist() == ["", "", ""]  # the unreadable row has no reasons
    assert all(reasons.iloc[0].str.len() > 0)
    shown = next(df.value for df in at.dataframe if "reason_1" in df.value.columns)
    cells = [v for c in shown.columns for v in shown[c].tolist() if isinstance(v, str)]
    assert not [v for v in cells if v.startswith(FORMULA_STARTS)]
    # Three columns, three reasons: "=colour ..." is one of them, and stays text everywhere.
    assert any(v.startswith("'=colour") for v in cells)
    table = at.session_state["_scratch"]["deploy_batch"]["table"]
    download = predictions_csv(pd.concat([table, reasons], axis=1)).decode("utf-8-sig")
    assert "'=colour" in download and ",=colour" not in download


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_checklist_item_turns_evidence_backed_once_explained(runs, lang):
    from core.compliance.checklist import load_checklist

    _prepared, run = runs["classifier"]
    at = _open("pages/compliance.py", runs["classifier"], lang)
    not_yet = {"en": "Not assessed yet", "zh": "尚未评估"}[lang]
    computed = {"en": "Shapley attributions computed for run", "zh": "已为运行"}[lang]
    title = load_checklist().item("model.explainability").text("title", lang)
    assert title in "\n".join(str(e.label) for e in at.expander)
    assert not_yet in _texts(at) and computed not in _texts(at)
    at.switch_page("pages/evaluate.py")
    at.run()
    at.button(key="ev_explain_go").click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/compliance.py")
    at.run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert computed in text and run.name in text and not_yet not in text
