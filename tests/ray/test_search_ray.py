"""The search on an embedded Ray cluster (MODELDESK_RAY_ADDRESS): each trial is a cluster
training job, and the leaderboard has the same form and the same numbers as in threads."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from core.data.loading import load_sample  # noqa: E402
from core.train.runner import default_config  # noqa: E402
from core.train.search import Param, Search, SearchSettings, SearchSpace, leaderboard  # noqa: E402

SPACE = SearchSpace(
    (
        Param("units", "int", 4, 16, log=True),
        Param("learning_rate", "float", 1e-3, 3e-2, log=True),
    )
)


def board():
    frame = load_sample("iris").frame
    settings = SearchSettings(trials=2, budget_seconds=None, max_epochs=3, seed=2)
    search = Search(frame, default_config(frame, "species"), SPACE, settings).start()
    assert search.join(timeout=300)
    snapshot = search.snapshot()
    assert snapshot.status == "finished", snapshot.message
    return leaderboard(snapshot.trials, SPACE, snapshot.metric).drop(columns="seconds"), search


def test_the_ray_route_gives_the_same_leaderboard_as_threads(monkeypatch, embedded_ray):
    threads, _ = board()
    monkeypatch.setenv("MODELDESK_RAY_ADDRESS", "local")
    on_ray, search = board()
    run, _prepared, _config = search.trial_run(int(on_ray.iloc[0]["number"]))
    assert run.weights is not None
    assert list(on_ray.columns) == list(threads.columns)
    assert on_ray.equals(threads)
