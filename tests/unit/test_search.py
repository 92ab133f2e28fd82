"""Hyperparameter search: Optuna trials that are training jobs, ranked on validation only."""

from __future__ import annotations

import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from quick_training import fresh_python

from core.data.loading import load_sample
from core.evaluate.metrics import run_metrics
from core.i18n import UserError
from core.train.jobs import JobLimiter
from core.train.runner import default_config
from core.train.search import (
    Param,
    Search,
    SearchSettings,
    SearchSpace,
    best_so_far,
    default_space,
    importance_figure,
    leaderboard,
    max_slots,
    parallel_figure,
    trial_config,
)

SPACE = SearchSpace(
    (
        Param("kind", "categorical", choices=("mlp", "tabm")),
        Param("units", "int", 4, 16, log=True),
        Param("learning_rate", "float", 1e-3, 3e-2, log=True),
        Param("ensemble_size", "categorical", choices=(2, 4)),
    )
)


def _iris():
    frame = load_sample("iris").frame
    return frame, default_config(frame, "species")


def _search(trials=3, **settings):
    frame, config = _iris()
    options = {"trials": trials, "budget_seconds": None, "max_epochs": 4, "seed": 3, **settings}
    return Search(frame, config, SPACE, SearchSettings(**options))


def test_a_seeded_search_gives_the_same_leaderboard_twice():
    boards = []
    for _ in range(2):
        search = _search().start()
        assert search.join(timeout=120)
        snapshot = search.snapshot()
        assert snapshot.status == "finished"
        assert len(snapshot.trials) == 3
        boards.append(leaderboard(snapshot.trials, SPACE, snapshot.metric).drop(columns="seconds"))
    assert boards[0].equals(boards[1])
    board = boards[0]
    assert list(board.columns[:3]) == ["rank", "number", "state"]
    assert {"kind", "units", "learning_rate", "val_loss", "val_accuracy", "epochs"} <= set(board)
    assert board["val_loss"].is_monotonic_increasing  # ranked by validation loss
    assert (board["epochs"] > 0).all()


def test_the_best_trial_is_promoted_with_weights_and_evaluates_like_a_run():
    search = _search().start()
    assert search.join(timeout=120)
    snapshot = search.snapshot()
    run, prepared, config = search.trial_run(snapshot.best)
    assert run.weights is not None and run.model is None
    assert config.model.kind in ("mlp", "tabm")
    metrics = run_metrics(prepared, run)  # the test rows, touched only now
    assert 0 <= metrics["accuracy"] <= 1 and "baselines" in metrics
    times, values = best_so_far(snapshot.trials)
    assert len(times) == len(values) >= 1 and values == sorted(values, reverse=True)
    assert importance_figure(search.study) is not None
    assert parallel_figure(search.study) is not None


def test_stop_mid_search_keeps_the_finished_trials():
    search = _search(trials=50, max_epochs=30, pruner="none").start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        finished = [t for t in search.snapshot().trials if t.state == "complete"]
        if len(finished) >= 1:
            break
        time.sleep(0.05)
    search.stop()
    assert search.join(timeout=60)
    snapshot = search.snapshot()
    assert snapshot.status == "stopped"
    assert len(snapshot.trials) < 50
    complete = [t for t in snapshot.trials if t.state == "complete"]
    assert complete and all(t.value is not None for t in complete)
    assert snapshot.best is not None
    run, _prepared, _config = search.trial_run(snapshot.best)
    assert run.weights is not None


def test_a_search_in_a_shared_room_takes_at_most_its_slots():
    limiter = JobLimiter(max_jobs=2, reap_every=None)
    frame, config = _iris()
    settings = SearchSettings(trials=4, budget_seconds=None, max_epochs=3, slots=5)
    search = Search(frame, config, SPACE, settings, limiter=limiter, owner="alice")
    assert search.slots == 1  # half the server's two slots
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(limiter.running)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    search.start()
    assert search.join(timeout=120)
    stop.set()
    watcher.join()
    assert max(seen) == 1
    assert all(t.state in ("complete", "pruned") for t in search.snapshot().trials)


def test_max_slots_reads_the_setting(monkeypatch):
    limiter = JobLimiter(max_jobs=8, reap_every=None)
    assert max_slots(limiter) == 4
    monkeypatch.setenv("MODELDESK_SEARCH_MAX_SLOTS", "3")
    assert max_slots(limiter) == 3
    monkeypatch.setenv("MODELDESK_SEARCH_MAX_SLOTS", "99")
    assert max_slots(limiter) == 8


def test_trial_config_applies_the_hyperparameters_and_keeps_the_rest():
    _frame, config = _iris()
    settings = SearchSettings(max_epochs=7, seed=5)
    params = {"kind": "tabm", "layers": 3, "units": 24, "ensemble_size": 8}
    params |= {"numeric_encoding": "ple", "batch_size": 64, "learning_rate": 0.01}
    found = trial_config(config, params, settings)
    assert found.model.kind == "tabm" and found.model.hidden_layers == (24, 24, 24)
    assert found.model.ensemble_size == 8 and found.model.loss == config.model.loss
    assert found.train.epochs == 7 and found.train.early_stopping and found.train.seed == 5
    assert found.train.batch_size == 64 and found.train.learning_rate == 0.01
    assert {plan.scale for plan in found.preprocess.kept} == {"ple"}
    assert found.preprocess.seed == config.preprocess.seed  # the same split for every trial


def test_default_space_follows_the_table_size():
    small = {p.name: p for p in default_space("binary", 500).params}
    large = {p.name: p for p in default_space("binary", 50_000).params}
    assert max(small["batch_size"].choices) < min(large["batch_size"].choices) * 2
    assert small["units"].high < large["units"].high
    assert SearchSpace.from_dict(default_space("regression", 100).to_dict()).params


@pytest.mark.parametrize(
    "data",
    [{"params": [{"name": "nope", "type": "int", "low": 1, "high": 2}]},
     {"params": [{"name": "units", "type": "int", "low": 0, "high": 2}]},
     {"params": [{"name": "learning_rate", "type": "float", "low": 0.1, "high": 0.01}]},
     {"params": [{"name": "l2", "type": "float", "low": 0, "high": 0.1, "log": True}]},
     {"params": [{"name": "kind", "type": "categorical", "choices": ["linear"]}]},
     {"params": [{"name": "batch_size", "type": "categorical", "choices": [3]}]},
     {"params": [{"name": "units", "type": "int", "low": 1, "high": 2, "evil": 1}]},
     {"params": "all"}],
)  # fmt: skip
def test_a_bad_space_is_a_user_error(data):
    with pytest.raises(UserError):
        SearchSpace.from_dict(data)


@pytest.mark.parametrize(
    "fields", [{"trials": 0}, {"budget_seconds": 0}, {"pruner": "magic"}, {"slots": 0}]
)
def test_bad_settings_are_user_errors(fields):
    with pytest.raises(UserError):
        SearchSettings(**fields)


def test_a_plain_training_run_imports_neither_optuna_nor_ray(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from core.data.loading import load_sample
        from core.prep.pipeline import prepare
        from core.train.runner import default_config, start_training
        import core.train.search
        frame = load_sample("iris").frame
        config = default_config(frame, "species")
        job = start_training(prepare(frame, config.preprocess), config.model,
                             config.train.__class__(epochs=1))
        assert job.join(120) and job.result().status == "finished"
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("optuna", "ray")))
        """
    )
    done = fresh_python("-c", f"import sys; sys.path.insert(0, {str(_root())!r})\n" + script,
                        cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_pruning_stops_trailing_trials_early():
    frame, config = _iris()
    space = SearchSpace((Param("learning_rate", "float", 1e-5, 1e-1, log=True),))
    settings = SearchSettings(
        trials=6, budget_seconds=None, max_epochs=15, patience=15, seed=1, pruner="hyperband"
    )
    search = Search(frame, config, space, settings).start()
    assert search.join(timeout=180)
    trials = search.snapshot().trials
    pruned = [t for t in trials if t.state == "pruned"]
    assert pruned, [(t.state, t.epochs) for t in trials]
    assert all(t.epochs < 15 for t in pruned)
    assert sys.modules.get("optuna") is not None
    assert np.isfinite([t.value for t in pruned]).all()


def test_a_broken_trial_fails_alone_and_the_search_ends(monkeypatch):
    import core.train.search as search_module

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(search_module, "trial_config", broken)
    search = _search(trials=2).start()
    assert search.join(timeout=60)
    snapshot = search.snapshot()
    assert snapshot.status == "finished" and snapshot.best is None
    assert [t.state for t in snapshot.trials] == ["failed", "failed"]
    assert "boom" in snapshot.trials[0].message.params["error"]
