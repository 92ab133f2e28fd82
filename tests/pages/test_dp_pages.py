"""Private training on the pages: the Train page's DP controls, update rule and live ε; the
Evaluate page's privacy tab (attack AUC, TPR at 1% FPR, ROC chart, side-by-side of the runs)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from apptest_helpers import open_app, poll_until_done

from core.data.loading import load_sample
from core.i18n import t
from core.prep.pipeline import prepare
from core.train.runner import default_config, start_training

pytestmark = pytest.mark.pages


def test_train_page_trains_privately_and_shows_the_epsilon_spent():
    at = open_app("en", "pages/train.py", timeout=120)
    at.button(key="train_preset").click().run()
    at.slider(key="train_epochs").set_value(5).run()
    assert not [n for n in at.number_input if n.key == "train_dp_epsilon"], "DP is off by default"
    at.checkbox(key="train_dp").check().run()
    at.number_input(key="train_dp_epsilon").set_value(2.0).run()
    assert not at.exception, at.exception
    config = at.session_state["train_config"]
    assert config.train.dp and config.train.dp_epsilon == 2.0
    rule = r"\mathcal{N}\!\left(0,\ \sigma^2 C^2 I\right)"
    assert any(rule in latex.value for latex in at.get("latex")), "the DP-SGD update rule"
    at.button(key="train_train").click().run()
    poll_until_done(at)
    run = next(iter(at.session_state["runs"].values()))
    assert run.status == "finished", run.message
    assert run.privacy["dp"] and 0 < run.privacy["epsilon"] <= 2.0 + 1e-9
    assert run.metrics["privacy"]["epsilon"] == run.privacy["epsilon"]
    shown = [m for m in at.metric if m.label == t("dp.live.label", "en")]
    assert shown and shown[0].value == f"{run.privacy['epsilon']:.2f}"
    column = t("dp.column.epsilon", "en")
    history = next(df.value for df in at.dataframe if column in df.value.columns)
    assert list(history[column]) == [f"{run.privacy['epsilon']:.2f}"]


def _trained(dp: bool, name: str):
    frame = load_sample("breast_cancer").frame
    config = default_config(frame, "diagnosis")
    prepared = prepare(frame, config.preprocess)
    train = replace(config.train, epochs=4, early_stopping=False, dp=dp, dp_epsilon=3.0)
    job = start_training(prepared, config.model, train, name=name)
    assert job.join(timeout=120)
    return job.result(), prepared


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_evaluate_shows_the_attack_and_the_runs_side_by_side(lang):
    runs = [_trained(False, "Plain"), _trained(True, "Private")]
    state = {
        "runs": {run.run_id: run for run, _ in runs},
        "run_data": {run.run_id: prepared for run, prepared in runs},
    }
    at = open_app(lang, "pages/evaluate.py", state=state, timeout=180)
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert t("dp.page.auc", lang) in labels and t("dp.page.tpr", lang) in labels
    layouts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text") for layout in layouts]
    assert t("dp.chart.title", lang) in titles
    table = next(df.value for df in at.dataframe if t("dp.column.auc", lang) in df.value.columns)
    assert len(table) == 2
    assert sorted(table[t("dp.column.dp", lang)]) == sorted([t("dp.yes", lang), t("dp.no", lang)])
    private = runs[1][0]
    assert sorted(table[t("dp.column.epsilon", lang)]) == sorted(
        [f"{private.privacy['epsilon']:.2f}", "∞"]  # the plain run has no bound
    )
    assert t("dp.page.lira_auc", lang) not in labels, "LiRA runs only on request"
    if lang == "en":
        at.button(key="ev_lira").click().run()
        assert not at.exception, at.exception
        assert t("dp.page.lira_auc", lang) in [m.label for m in at.metric]


def test_compliance_takes_the_model_privacy_evidence_from_the_attack_and_epsilon():
    from core.evaluate.metrics import run_metrics

    run, prepared = _trained(True, "Private")
    privacy = run_metrics(prepared, run)["privacy"]
    state = {"runs": {run.run_id: run}, "run_data": {run.run_id: prepared}}
    at = open_app("en", "pages/compliance.py", state=state, timeout=180)
    assert not at.exception, at.exception
    kinds = ("markdown", "caption", "info", "warning", "success", "error")
    shown = " ".join(str(el.value) for kind in kinds for el in getattr(at, kind))
    epsilon = f"ε = {privacy['epsilon']:.3g}"
    auc = f"AUC {privacy['membership_inference']['auc']:.3f}"
    assert epsilon in shown and auc in shown, shown[:2000]
