"""Train page, Search: a search on a sample fills the leaderboard live, a trial joins the run
history, and in a shared room a search leaves slots for everyone else."""

from __future__ import annotations

import time

import pytest
from apptest_helpers import open_app, poll_until_done

import core.train.jobs as jobs
from core.train.jobs import JobLimiter

pytestmark = pytest.mark.pages


def train_page():
    return open_app("en", "pages/train.py", timeout=120)


def scratch(at, name):
    return at.session_state["_scratch"].get(name)


def start_search(at, trials: int, epochs: int):
    at.button(key="train_preset").click().run()
    at.number_input(key="search_trials").set_value(trials).run()
    at.number_input(key="search_epochs").set_value(epochs).run()
    at.button(key="search_start").click().run()
    assert not at.exception, at.exception
    return scratch(at, "search.current")


@pytest.fixture
def room(monkeypatch):
    """A fresh server queue with two slots (the process-wide one is made once per process)."""
    limiter = JobLimiter(max_jobs=2, reap_every=None)
    monkeypatch.setattr(jobs, "_SERVER_LIMITER", limiter)
    monkeypatch.delenv("MODELDESK_SEARCH_MAX_SLOTS", raising=False)
    return limiter


def test_a_search_fills_the_leaderboard_and_a_trial_joins_the_history(room):
    at = train_page()
    search = start_search(at, trials=3, epochs=3)
    assert search is not None and search.slots == 1
    rows_seen = []
    deadline = time.monotonic() + 180
    while not search.done and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
        board = [frame for frame in at.dataframe if "val_loss" in frame.value.columns]
        rows_seen.append(len(board[0].value) if board else 0)
    assert search.done
    at.run()
    board = next(frame.value for frame in at.dataframe if "val_loss" in frame.value.columns)
    assert len(board) == 3 and board["rank"].tolist() == [1, 2, 3]
    assert max(rows_seen) >= 1, "the leaderboard was drawn while the search ran"
    assert at.get("plotly_chart"), "best-so-far curve"
    before = set(at.session_state["runs"])
    at.button(key="search_use").click().run()
    assert not at.exception, at.exception
    added = set(at.session_state["runs"]) - before
    assert len(added) == 1
    run = at.session_state["runs"][added.pop()]
    assert run.name.startswith("Search trial") and run.weights is not None
    assert [event.kind for event in at.session_state["audit"].events][-1] == "train"


def test_a_second_sessions_run_starts_while_a_search_runs(room):
    alice = train_page()
    search = start_search(alice, trials=40, epochs=30)
    bob = train_page()
    bob.button(key="train_preset").click().run()
    bob.slider(key="train_epochs").set_value(5).run()
    bob.button(key="train_train").click().run()
    job = bob.session_state["job"]
    deadline = time.monotonic() + 60
    while job.snapshot().status == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.snapshot().status in ("running", "finished"), "Bob's run got a slot at once"
    assert not search.done, "while Alice's search still runs"
    assert room.running <= 2
    poll_until_done(bob)
    search.stop()
    assert search.join(timeout=60)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_tabm_model_has_its_controls_and_explanation(lang):
    from core.i18n import t

    at = open_app(lang, "pages/train.py", timeout=120)
    at.button(key="train_preset").click().run()
    at.radio(key="train_kind").set_value("tabm").run()
    assert not at.exception, at.exception
    at.slider(key="train_layers").set_value(2).run()
    at.slider(key="train_ensemble_size").set_value(4).run()
    config = at.session_state["train_config"]
    assert config.model.kind == "tabm" and config.model.ensemble_size == 4
    assert config.model.hidden_layers, "TabM keeps the hidden layers' controls"
    assert any(e.label == t("tabular.explain.title", lang) for e in at.expander)
    layers = [row for table in at.dataframe for row in table.value.to_dict("records")]
    assert any("ensemble_mean" in str(row) for row in layers), "the layer table shows the heads"
