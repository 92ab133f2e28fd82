"""The Train page with MODELDESK_RAY_ADDRESS set: jobs of two sessions train on one embedded
Ray cluster (loopback) at the same time; each session gets its own run, curves and device line,
and never the other's."""

from __future__ import annotations

import time

import pytest

from tests.pages.apptest_helpers import open_app

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.pages, pytest.mark.ray]


@pytest.fixture(scope="module")
def ray_cluster(embedded_ray):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELDESK_RAY_ADDRESS", "local")  # connect() reuses the shared cluster
        yield


def start_first_model(epochs: int):
    at = open_app(page="pages/train.py")
    at.button(key="train_preset").click().run()
    at.slider(key="train_epochs").set_value(epochs).run()
    at.button(key="train_train").click().run()
    assert not at.exception, at.exception
    return at


def test_two_sessions_train_on_the_cluster_and_see_only_their_own_run(ray_cluster):
    from core.train.cluster import ClusterTrainingJob

    sessions = {5: start_first_model(5), 8: start_first_model(8)}
    jobs = {epochs: at.session_state["job"] for epochs, at in sessions.items()}
    assert all(isinstance(job, ClusterTrainingJob) for job in jobs.values())
    deadline = time.monotonic() + 480  # a deadline, not a speed check: a loaded machine is slow
    while not all(job.done for job in jobs.values()) and time.monotonic() < deadline:
        time.sleep(0.3)
        for at in sessions.values():
            at.run()
            assert not at.exception, at.exception
    assert all(job.done for job in jobs.values()), "training did not end in time"
    for at in sessions.values():
        at.run()  # collects the finished job into the session's runs
        at.run()
        assert not at.exception, at.exception
    ids = {epochs: job.run_id for epochs, job in jobs.items()}
    for epochs, at in sessions.items():
        runs = at.session_state["runs"]
        assert list(runs) == [ids[epochs]]
        run = runs[ids[epochs]]
        assert run.status == "finished" and run.epochs_trained == epochs
        assert run.weights is not None
        other = ids[13 - epochs]
        assert other not in runs
        captions = " ".join(c.value for c in at.caption)
        assert "Trained on:" in captions and "Ray node" in captions
