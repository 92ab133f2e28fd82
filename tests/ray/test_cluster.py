"""Training jobs on an embedded Ray cluster (loopback only): the thread job's history, live
history, Stop, a lost worker, the cluster's queue, separate jobs kept apart.

One cluster of 2 CPUs, shared with the job-contract tests (tests/conftest.py). History is
compared exactly: the task runs the same `TrainingJob` with the same seed and deterministic
ops, so float32 arithmetic is the same in the worker process as in a thread here.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from core.train import cluster  # noqa: E402
from core.train.engine import TrainingJob, TrainSpec  # noqa: E402
from core.train.models import ModelSpec  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
X_OTHER = RNG.normal(size=(160, 3)).astype(np.float32)
Y_OTHER = (X_OTHER @ np.array([1.0, -2.0, 0.5]) + 0.3).astype(np.float32)
MLP = ModelSpec(hidden_layers=(8,))
QUICK = TrainSpec(learning_rate=0.01, batch_size=16, epochs=6, seed=5)
LONG = TrainSpec(learning_rate=1e-4, batch_size=1, epochs=500, seed=5)


@pytest.fixture(scope="module", autouse=True)
def embedded_cluster(embedded_ray):
    return embedded_ray


def binary(job_class, spec=QUICK):
    return job_class(MLP, spec, "binary", 2, X[:150], Y[:150], X[150:], Y[150:])


def regression(job_class, spec=QUICK):
    args = (X_OTHER[:120], Y_OTHER[:120], X_OTHER[120:], Y_OTHER[120:])
    return job_class(MLP, spec, "regression", 1, *args)


def ended(job, timeout=180):
    assert job.join(timeout), "the job did not end in time"
    return job.result()


def wait_for(condition, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("condition not met in time")


def without_time(history):
    return {key: values for key, values in history.items() if key != "time_s"}


def test_the_embedded_cluster_is_on_loopback_only():
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}


def test_ray_jobs_match_thread_jobs_and_two_jobs_at_once_stay_apart():
    threads = [binary(TrainingJob).start(), regression(TrainingJob).start()]
    expected = [ended(job) for job in threads]
    # Two jobs (think: two sessions) on the cluster at once, each with its own arrays.
    on_ray = [binary(cluster.ClusterTrainingJob).start(), regression(cluster.ClusterTrainingJob)]
    on_ray[1].start()
    runs = [ended(job) for job in on_ray]
    for thread_run, ray_run, job in zip(expected, runs, on_ray, strict=True):
        assert ray_run.status == "finished", ray_run.message
        assert without_time(ray_run.history) == without_time(thread_run.history)
        assert ray_run.best_epoch == thread_run.best_epoch
        for ours, theirs in zip(ray_run.weights, thread_run.weights, strict=True):
            np.testing.assert_array_equal(ours, theirs)
        assert ray_run.run_id == job.run_id and ray_run.name == job.name
        assert job.device is not None and job.device.key.startswith("cluster.device.")
    assert runs[0].n_features == 4 and runs[1].n_features == 3
    assert runs[0].task == "binary" and runs[1].task == "regression"
    # The rebuilt model predicts like the thread run's model.
    np.testing.assert_allclose(
        runs[0].build_model().predict(X[150:], verbose=0),
        expected[0].build_model().predict(X[150:], verbose=0),
        atol=1e-6,
    )


def test_history_arrives_while_training_and_stop_keeps_the_best_weights():
    job = binary(cluster.ClusterTrainingJob, LONG).start()
    wait_for(lambda: job.snapshot().epoch >= 3)
    live = job.snapshot()
    assert live.status == "running" and not live.done
    assert len(live.history["val_loss"]) >= 3 and live.eta_seconds is not None
    job.stop()
    run = ended(job, timeout=30)
    assert run.status == "stopped"
    assert run.message is not None and run.message.key == "train.message.stopped"
    losses = run.history["val_loss"]
    assert len(losses) < LONG.epochs
    assert run.best_epoch == int(np.argmin(losses)) + 1
    # The weights kept are the best epoch's: the rebuilt model's validation loss is that epoch's.
    model = run.build_model()
    predictions = model.predict(X[150:], verbose=0).ravel().astype(np.float64)
    p = np.clip(predictions, 1e-7, 1 - 1e-7)
    y = Y[150:]
    bce = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    assert bce == pytest.approx(losses[run.best_epoch - 1], rel=1e-4, abs=1e-5)


def test_a_killed_worker_fails_the_job_clearly_and_frees_its_place(monkeypatch):
    monkeypatch.setenv("MODELDESK_MAX_JOBS", "1")  # one place on the cluster: the next waits
    first = binary(cluster.ClusterTrainingJob, LONG).start()
    wait_for(lambda: first.worker_pid is not None and first.snapshot().epoch >= 1)
    second = binary(cluster.ClusterTrainingJob).start()
    wait_for(lambda: second.snapshot().queue_position == 1)
    assert second.snapshot().status == "queued"
    os.kill(first.worker_pid, signal.SIGKILL)
    run = ended(first, timeout=60)
    assert run.status == "failed"
    assert run.message is not None and run.message.key == "cluster.message.worker_lost"
    assert "lost" in run.message.text("en") and "丢失" in run.message.text("zh")
    assert run.weights is None
    # Its place went to the job waiting behind it, which trains to the end.
    assert ended(second).status == "finished"


def test_stop_while_queued_leaves_the_queue(monkeypatch):
    monkeypatch.setenv("MODELDESK_MAX_JOBS", "1")
    first = binary(cluster.ClusterTrainingJob, LONG).start()
    # The second starts once the first has its place: both pollers join the queue from their
    # own threads, and a second that joined first would train and never wait.
    wait_for(lambda: first.worker_pid is not None)
    second = binary(cluster.ClusterTrainingJob).start()
    wait_for(lambda: second.snapshot().queue_position == 1)
    second.stop()
    assert ended(second, timeout=30).message.key == "train.message.stopped_in_queue"
    first.stop()
    assert ended(first, timeout=60).status == "stopped"


def test_a_dp_job_on_the_cluster_matches_the_thread_job_and_reports_its_epsilon():
    from dataclasses import replace

    spec = replace(QUICK, dp=True, dp_epsilon=4.0)
    thread_run = ended(binary(TrainingJob, spec).start())
    job = binary(cluster.ClusterTrainingJob, spec).start()
    seen = []
    while not job.done:
        privacy = job.snapshot().privacy
        seen.append(privacy)
        job.join(0.05)
    ray_run = ended(job)
    assert ray_run.status == "finished", ray_run.message
    assert without_time(ray_run.history) == without_time(thread_run.history)
    assert ray_run.privacy == thread_run.privacy
    assert 0 < ray_run.privacy["epsilon"] <= 4.0 + 1e-9
    assert all(p is not None and p["dp"] for p in seen), "the live snapshot carries ε"
