"""The training-job contract (core.train.engine.Job), checked the same way on every backend:
a thread here, a Ray task on the shared embedded cluster, and two local worker processes
training one model data-parallel (core.train.multiworker).

Each backend must give the thread job's history, statuses, Stop and kept weights. Ray runs the
thread job itself, so its history is the same to the bit; two workers sum each batch's
gradients across processes, so theirs may differ in the last float32 digits only. The models
have no dropout (each worker would draw its own masks), and the binary target is imbalanced
(about 1 in 4), so a worker that started without the output bias at the training prior would
miss the first epoch's loss by far more than the 1% allowed.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.train.engine import TrainingJob, TrainSpec
from core.train.models import ModelSpec
from core.train.multiworker import MultiWorkerJob
from core.train.runs import is_usable
from core.train.status import RunStatus

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0.8).astype(np.int64)
MLP = ModelSpec(hidden_layers=(8,), dropout=0.0)
QUICK = TrainSpec(learning_rate=0.01, batch_size=16, epochs=6, seed=5)
LONG = TrainSpec(learning_rate=1e-3, batch_size=8, epochs=500, seed=5)
BACKENDS = ("thread", "ray", "workers")
# Relative tolerance of a backend's history against the thread job's.
TOLERANCE = {"thread": 0.0, "ray": 0.0, "workers": 1e-4}


# The thread backend is plain core; the others carry their kind's marker (pyproject.toml), so
# `-m "not ray and not multiprocess"` keeps this suite to the core.
KIND_MARKERS = {"ray": pytest.mark.ray, "workers": pytest.mark.multiprocess}


@pytest.fixture(params=[pytest.param(name, marks=KIND_MARKERS.get(name, ())) for name in BACKENDS])
def backend(request):
    if request.param == "ray":
        request.getfixturevalue("embedded_ray")
    return request.param


def make(backend, spec=QUICK, model=MLP, task="binary", arrays=None):
    """A job of `backend` (not started) on the binary table, or on `arrays`."""
    if backend == "ray":
        from core.train.cluster import ClusterTrainingJob

        job_class, options = ClusterTrainingJob, {}
    elif backend == "workers":
        job_class, options = MultiWorkerJob, {"workers": 2}
    else:
        job_class, options = TrainingJob, {}
    if arrays is None:
        arrays = (X[:150], Y[:150], X[150:], Y[150:])
    n_classes = 1 if task == "regression" else 2
    return job_class(model, spec, task, n_classes, *arrays, **options)


def follow(job, timeout=300):
    """Start the job and watch it end: the statuses its snapshots showed, in order."""
    seen = [job.snapshot().status]
    job.start()
    deadline = time.monotonic() + timeout
    while not job.join(0.05):
        status = job.snapshot().status
        if status != seen[-1]:
            seen.append(status)
        assert time.monotonic() < deadline, "the job did not end in time"
    seen.append(job.snapshot().status)
    return seen


def without_time(history):
    return {key: values for key, values in history.items() if key != "time_s"}


def assert_same_history(ours, reference, backend):
    assert set(ours) == set(reference)
    for key, values in without_time(reference).items():
        np.testing.assert_allclose(ours[key], values, rtol=TOLERANCE[backend], atol=0, err_msg=key)


@pytest.fixture(scope="module")
def reference():
    """The thread job's run on QUICK: what every backend must reproduce."""
    job = make("thread").start()
    assert job.join(120)
    return job.result()


def test_a_run_ends_finished_with_the_thread_jobs_history_and_weights(backend, reference):
    job = make(backend)
    with pytest.raises(RuntimeError):
        job.result()
    seen = follow(job)
    assert all(isinstance(status, RunStatus) for status in seen)
    assert seen[0] == RunStatus.QUEUED and seen[-1] == RunStatus.FINISHED
    assert set(seen) <= {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FINISHED}
    run = job.result()
    assert run.status == RunStatus.FINISHED and run.status.usable, run.message
    assert run.run_id == job.run_id and run.name == job.name and run.n_features == 4
    assert_same_history(run.history, reference.history, backend)
    assert run.best_epoch == reference.best_epoch
    for ours, theirs in zip(run.weights, reference.weights, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-5)
    final = job.snapshot()
    assert final.done and final.progress == 1.0 and final.eta_seconds == 0.0
    assert final.epoch == QUICK.epochs == len(final.history["loss"])
    # The first epoch already starts from the output bias at the training prior, and the last
    # epoch's loss is within 1% of one worker's (here exact to float32 rounding).
    for epoch in (0, -1):
        assert run.history["loss"][epoch] == pytest.approx(reference.history["loss"][epoch], 0.01)


def test_stop_keeps_the_best_weights_seen(backend):
    job = make(backend, LONG).start()
    deadline = time.monotonic() + 300
    while job.snapshot().epoch < 2:
        assert time.monotonic() < deadline and not job.done, "no epochs arrived"
        time.sleep(0.05)
    live = job.snapshot()
    assert live.status == RunStatus.RUNNING and not live.done and live.eta_seconds is not None
    job.stop()
    assert job.join(120), "Stop was not answered"
    run = job.result()
    assert run.status == RunStatus.STOPPED == job.status and run.status.usable
    assert run.message is not None and run.message.key == "train.message.stopped"
    losses = run.history["val_loss"]
    assert 2 <= len(losses) < LONG.epochs
    assert run.best_epoch == int(np.argmin(losses)) + 1
    assert run.message.params == {"epoch": len(losses), "best": run.best_epoch}
    # The kept weights are the best epoch's: the model's validation loss is that epoch's.
    p = np.clip(run.build_model().predict(X[150:], verbose=0).ravel().astype(np.float64), 1e-7, 1)
    y = Y[150:]
    bce = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(np.clip(1 - p, 1e-7, 1)))))
    assert bce == pytest.approx(losses[run.best_epoch - 1], rel=1e-4, abs=1e-5)


def test_a_job_stopped_before_it_starts_never_trains(backend):
    job = make(backend)
    job.stop()
    assert job.done and job.status == RunStatus.STOPPED
    run = job.result()
    assert run.message is not None and run.message.key == "train.message.stopped_before_start"
    assert run.weights is None and run.history == {}
    assert not is_usable(run, object()), "no model: never used by a later step"
    with pytest.raises(RuntimeError):
        job.start()


def test_a_loss_that_blows_up_fails_with_one_message_on_every_backend(backend):
    unscaled = (X[:, :2] * 1e4).astype(np.float32)
    target = (unscaled @ np.array([3.0, -4.0])).astype(np.float32)
    spec = TrainSpec(optimizer="sgd", learning_rate=1.0, batch_size=8, epochs=20, seed=0)
    linear = ModelSpec(kind="linear", hidden_layers=())
    arrays = (unscaled, target, None, None)
    job = make(backend, spec, linear, "regression", arrays)
    follow(job)
    run = job.result()
    assert run.status == RunStatus.FAILED == job.snapshot().status and not run.status.usable
    assert run.message is not None and run.message.key == "train.message.nan_loss"
    assert run.message.params["lr"] == "1" and run.message.params["suggested"] == "0.1"
    assert "learning rate" in run.message.text("en") and "学习率" in run.message.text("zh")
    # The epoch named is the first one not recorded (its numbers never reach the curves).
    assert run.message.params["epoch"] == run.epochs_trained + 1 <= spec.epochs
