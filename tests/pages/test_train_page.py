"""The Train page through app.py: preset, a real background run polled to the end, Stop, history."""

from __future__ import annotations

import time

import pytest
from apptest_helpers import open_app, poll_until_done, train_first_model
from streamlit.testing.v1 import AppTest

from core.i18n import t as tr_en
from core.train.models import resolved_loss


def train_page(lang: str = "en") -> AppTest:
    return open_app(lang, "pages/train.py", timeout=120)


def test_train_needs_prepared_data_but_offers_the_preset():
    at = train_page()
    assert any("Preprocess" in w.value for w in at.warning)
    assert at.button(key="train_preset")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_first_model_preset_trains_and_learns_the_line(lang: str):
    at = train_page(lang)
    at.button(key="train_preset").click().run()
    assert not at.exception, at.exception
    assert at.radio(key="train_kind").value == "linear"
    train_first_model(at, epochs=30)
    runs = at.session_state["runs"]
    assert len(runs) == 1
    run = next(iter(runs.values()))
    assert run.status == "finished"
    assert {"r2", "rmse", "mae", "baselines"} <= run.metrics.keys(), "test metrics come with a run"
    history = (
        next(df.value for df in at.dataframe if "Test metric" in df.value.columns)
        if lang == "en"
        else None
    )
    assert history is None or history["Test metric"].iloc[0].startswith("R²")
    assert [event.kind for event in at.session_state["audit"].events][-1] == "train"
    assert abs(run.parameters["w"][-1] - 2) < 0.3
    assert at.get("plotly_chart"), "curves and parameters are drawn"
    assert at.dataframe, "run history table"


def test_stop_keeps_the_model_and_marks_the_run_stopped(monkeypatch):
    monkeypatch.setenv("MODELDESK_SHARED", "1")  # a workshop server: runs never touch its disk
    at = train_page()
    at.button(key="train_preset").click().run()
    at.slider(key="train_epochs").set_value(500).run()
    at.select_slider(key="train_batch").set_value(1).run()
    at.button(key="train_train").click().run()
    time.sleep(1.0)
    at.run()
    at.button(key="train_stop").click().run()
    poll_until_done(at)
    run = next(iter(at.session_state["runs"].values()))
    assert run.status == "stopped"
    assert run.weights is not None or run.model is not None
    assert run.epochs_trained < 500
    assert not [b for b in at.button if b.key == "train_save"], "no saving on a shared server"
    assert any("shared" in c.value for c in at.caption)


def test_untouched_controls_give_the_same_config_as_the_cli_default():
    from core.train.runner import default_model_spec, default_train_spec

    at = open_app("en", "pages/data.py", timeout=120)
    at.selectbox(key="sample_choice").set_value("iris").run()
    at.button(key="load_sample").click().run()
    at.switch_page("pages/preprocess.py")
    at.run()
    at.button(key="pp_prepare").click().run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    config = at.session_state["train_config"]
    assert config.model == default_model_spec()
    assert config.train == default_train_spec(0)
    assert config.preprocess == at.session_state["prepared"].spec


def test_a_run_that_finished_while_away_is_ready_on_the_next_page():
    at = train_page()
    at.button(key="train_preset").click().run()
    at.slider(key="train_epochs").set_value(5).run()
    at.button(key="train_train").click().run()
    at.session_state["job"].join(timeout=120)  # it ends while no page is polling it
    at.switch_page("pages/deploy.py")
    at.run()
    assert not at.exception, at.exception
    assert len(at.session_state["runs"]) == 1
    needs_run = tr_en("deploy.needs_run")
    assert not any(needs_run in w.value for w in at.warning)


def test_the_first_model_targets_are_forgotten_with_its_dataset():
    at = train_page()
    at.button(key="train_preset").click().run()
    assert at.session_state["first_model"] is True
    at.switch_page("pages/data.py")
    at.run()
    at.selectbox(key="sample_choice").set_value("iris").run()
    at.button(key="load_sample").click().run()
    assert "first_model" not in at.session_state, "w = 2, b = 1 belong to the line sample only"


@pytest.mark.parametrize(
    ("lang", "says"), [("en", "only inside the folder runs/"), ("zh", "runs/")]
)
def test_save_runs_stays_inside_the_runs_folder(tmp_path, monkeypatch, lang, says):
    # A visitor's folder name is hostile: "Save runs" once wrote wherever a visitor typed,
    # ../../.. included.
    import numpy as np

    from core.train.engine import Run, TrainSpec
    from core.train.models import ModelSpec

    monkeypatch.delenv("MODELDESK_SHARED", raising=False)
    monkeypatch.chdir(tmp_path)
    run = Run(
        run_id="abc123", name="Run 1", model_spec=ModelSpec(kind="linear", hidden_layers=()),
        train_spec=TrainSpec(epochs=2), task="regression", n_features=1, n_classes=0,
        history={"loss": [2.0, 1.0]}, status="finished", duration_s=0.5,
        created_at="2026-11-28T00:00:00+00:00",
        weights=[np.array([[2.0]], np.float32), np.array([1.0], np.float32)],
    )  # fmt: skip
    at = open_app(lang, "pages/train.py", state={"runs": {run.run_id: run}}, timeout=120)
    at.button(key="train_preset").click().run()  # data prepared: the page shows the run history
    for typed in ("../../..", "/tmp/elsewhere"):
        at.text_input(key="train_folder").input(typed).run()
        at.button(key="train_save").click().run()
        assert not at.exception, at.exception
        assert any(says in e.value for e in at.error), [e.value for e in at.error]
    assert list(tmp_path.iterdir()) == [], "nothing written anywhere"
    at.text_input(key="train_folder").input("exp-1").run()
    at.button(key="train_save").click().run()
    assert (tmp_path / "runs" / "exp-1" / "abc123" / "run.json").is_file()
    assert at.success


@pytest.mark.parametrize(("loss", "said"), [("huber", True), ("mse", False)])
def test_the_curves_say_when_the_loss_is_on_the_standardised_target(loss: str, said: bool):
    at = train_page()
    at.button(key="train_preset").click().run()
    at.selectbox(key="train_loss_regression").set_value(loss).run()
    at.slider(key="train_epochs").set_value(5).run()
    at.button(key="train_train").click().run()
    assert not at.exception, at.exception
    poll_until_done(at)
    run = next(iter(at.session_state["runs"].values()))
    assert resolved_loss(run.model_spec, run.task) == loss
    captions = " ".join(caption.value for caption in at.caption)
    assert ("standardised target" in captions) is said, captions
