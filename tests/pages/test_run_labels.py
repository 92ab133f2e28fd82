"""The Train page's run history: default names follow the language; the name field follows
the picked run after a new run lands; a run no better than the mean is called so."""

from __future__ import annotations

import numpy as np
from apptest_helpers import open_app

from core.evaluate.metrics import baseline_metrics
from core.i18n import t
from core.prep.pipeline import prepare
from core.train.engine import Run, TrainSpec
from core.train.models import ModelSpec
from core.train.runner import first_model_setup


def _run(number: int, name: str | None = None, w: float = 2.0, b: float = 1.0) -> Run:
    return Run(
        run_id=f"run{number}", name=name or f"Run {number}",
        model_spec=ModelSpec(kind="linear", hidden_layers=()), train_spec=TrainSpec(epochs=2),
        task="regression", n_features=1, n_classes=0, history={"loss": [2.0, 1.0]},
        status="finished", duration_s=0.5, created_at="2026-11-28T00:00:00+00:00",
        weights=[np.array([[w]], np.float32), np.array([b], np.float32)],
    )  # fmt: skip


def _name_field(at):
    (field,) = [f for f in at.text_input if f.key.startswith("train_name_")]
    return field


def test_default_run_names_follow_the_language_and_the_name_field_follows_new_runs():
    dataset, spec, _, _ = first_model_setup()
    prepared = prepare(dataset.frame, spec)
    # "my baseline" predicts the training mean whatever x is: no better than the mean.
    mean = float(np.mean(prepared.y_train))
    runs = {run.run_id: run for run in (_run(1), _run(2), _run(3, "my baseline", 0.0, mean))}
    baselines = baseline_metrics(prepared)  # what a collected run's metrics.json holds
    for run in runs.values():
        run.metrics = {"baselines": baselines}
    data = dict.fromkeys(runs, prepared)
    at = open_app("zh", "pages/train.py", timeout=180,
                  state={"runs": runs, "run_data": data, "prepared": prepared})  # fmt: skip
    picker = next(s for s in at.selectbox if s.label == t("trainpage.pick_run", "zh"))
    assert picker.options == ["第 1 次训练", "第 2 次训练", "my baseline"]
    assert _name_field(at).value == "my baseline"
    trivial = [w.value for w in at.warning if t("trainpage.pick_run", "zh") not in w.value]
    assert [w for w in trivial if "my baseline" in w and "均值" in w], trivial
    assert not [w for w in trivial if "第 1 次训练" in w], "a fitted line is better than the mean"
    picker.set_value("run2").run()
    assert _name_field(at).value == "第 2 次训练"
    # A new run lands: it is picked, and the name field shows its name, not the last one.
    runs = dict(at.session_state["runs"])
    runs["run4"] = _run(4)
    runs["run4"].metrics = {"baselines": baselines}
    at.session_state["runs"] = runs
    at.session_state["run_data"] = {**data, "run4": prepared}
    at.run()
    assert not at.exception, at.exception
    assert _name_field(at).value == "第 4 次训练"
    at.switch_page("pages/evaluate.py").run()
    labels = [str(option) for select in at.selectbox for option in select.options]
    labels += [str(option) for select in at.multiselect for option in select.options]
    assert not any(label.startswith("Run ") for label in labels), labels
