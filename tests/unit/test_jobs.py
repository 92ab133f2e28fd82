"""The server's queue: jobs belong to live sessions, one per session, a capped queue, a time
budget, the wait in seconds, and TensorFlow's threads bounded for the room."""

import subprocess
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from core.i18n import UserError
from core.train.engine import TrainingJob, TrainSpec
from core.train.jobs import (
    LIVE_POLL_S,
    QUEUED_POLL_S,
    REDRAW_AFTER_S,
    JobLimiter,
    poll_seconds,
)
from core.train.models import ModelSpec

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 4)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
LONG = TrainSpec(optimizer="sgd", learning_rate=0.01, batch_size=1, epochs=500, seed=0)
QUICK = TrainSpec(optimizer="adam", learning_rate=0.01, batch_size=16, epochs=2, seed=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeJob:
    """What the limiter reads from a job, without TensorFlow."""

    def __init__(self, epochs: int = 10, batches_per_epoch: int = 10, eta=None) -> None:
        self.train_spec = SimpleNamespace(epochs=epochs)
        self.batches_per_epoch = batches_per_epoch
        self.batches_seen = 0
        self.done = False
        self.stopped = False
        self.eta = eta

    def stop(self) -> None:
        self.stopped = True

    def snapshot(self):
        return SimpleNamespace(eta_seconds=self.eta)


def real_job(spec, limiter):
    return TrainingJob(
        ModelSpec(hidden_layers=(8,)), spec, "binary", 2, X[:90], Y[:90], X[90:], Y[90:],
        limiter=limiter,
    )  # fmt: skip


def _wait_for(condition, timeout: float = 60.0) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError("condition not reached in time")


def test_one_queued_or_running_job_per_session():
    limiter = JobLimiter(max_jobs=1, reap_every=None)
    first = FakeJob()
    limiter.admit(first, "session-a")
    with pytest.raises(UserError) as refused:
        limiter.admit(FakeJob(), "session-a")
    assert refused.value.message.key == "train.error.one_job"
    limiter.admit(FakeJob(), "session-b")  # another session is not affected
    first.done = True  # once it has ended, the session may start again
    limiter.admit(FakeJob(), "session-a")


def test_after_a_job_trained_and_released_its_slot_anyone_may_start_again():
    limiter = JobLimiter(max_jobs=1, reap_every=None)
    job = FakeJob()
    limiter.admit(job, "a")
    assert limiter.acquire(job, threading.Event())
    job.done = True
    limiter.release(job)
    limiter.admit(FakeJob(), "b")  # the released job is forgotten without a trace
    limiter.admit(FakeJob(), "a")
    assert limiter.reap() == []


def test_the_queue_length_is_capped():
    limiter = JobLimiter(max_jobs=1, max_queue=2, reap_every=None)
    holder = FakeJob()
    assert limiter.acquire(holder, threading.Event())  # one job holds the only slot
    limiter.admit(FakeJob(), "a")
    limiter.admit(FakeJob(), "b")
    with pytest.raises(UserError) as refused:
        limiter.admit(FakeJob(), "c")
    assert refused.value.message.key == "train.error.queue_full"
    assert "2" in refused.value.text("en") and "2" in refused.value.text("zh")


def test_a_silent_session_has_its_job_stopped_and_a_polling_one_does_not():
    clock = Clock()
    limiter = JobLimiter(max_jobs=2, liveness_s=60, clock=clock, reap_every=None)
    gone, alive = FakeJob(), FakeJob()
    limiter.admit(gone, "gone")
    limiter.admit(alive, "alive")
    clock.now += 45
    limiter.heartbeat("alive")
    assert limiter.reap() == [] and not gone.stopped
    clock.now += 30  # "gone" silent for 75 s, "alive" for 30 s
    assert limiter.reap() == [gone]
    assert gone.stopped and not alive.stopped
    assert limiter.stop_reason(gone).key == "train.message.stopped_session_gone"
    assert limiter.stop_reason(alive) is None


def test_a_job_over_its_time_budget_is_stopped():
    clock = Clock()
    limiter = JobLimiter(max_jobs=1, max_job_seconds=30, clock=clock, reap_every=None)
    job = FakeJob()
    limiter.admit(job, "a")
    assert limiter.acquire(job, threading.Event())
    clock.now += 20
    limiter.heartbeat("a")
    assert limiter.reap() == []
    clock.now += 20
    limiter.heartbeat("a")
    assert limiter.reap() == [job]
    reason = limiter.stop_reason(job)
    assert reason.key == "train.message.stopped_time_budget" and reason.params["seconds"] == 30


def test_the_wait_is_estimated_in_seconds_from_the_running_jobs_and_those_ahead():
    clock = Clock()
    limiter = JobLimiter(max_jobs=1, clock=clock, reap_every=None)
    assert limiter.wait_seconds(FakeJob()) is None  # not waiting
    finished = FakeJob(epochs=1, batches_per_epoch=100)
    assert limiter.acquire(finished, threading.Event())
    clock.now += 10
    finished.batches_seen = 100
    limiter.release(finished)  # 0.1 s per batch measured on this server
    running = FakeJob(eta=12.0)
    assert limiter.acquire(running, threading.Event())
    ahead, mine = FakeJob(epochs=5, batches_per_epoch=10), FakeJob()
    threads = [
        threading.Thread(target=limiter.acquire, args=(j, threading.Event()), daemon=True)
        for j in (ahead, mine)
    ]
    threads[0].start()
    _wait_for(lambda: limiter.queued == 1)
    threads[1].start()
    _wait_for(lambda: limiter.queued == 2)
    # 12 s left on the running job, then 50 batches x 0.1 s for the one ahead.
    assert limiter.wait_seconds(mine) == pytest.approx(17.0)
    assert limiter.wait_seconds(ahead) == pytest.approx(12.0)
    limiter.release(running)
    _wait_for(lambda: limiter.running == 1 and limiter.queued == 1)
    limiter.release(ahead)
    for thread in threads:
        thread.join(timeout=5)


def test_closing_a_session_mid_training_frees_the_slot_for_the_next_in_line():
    clock = Clock()
    limiter = JobLimiter(max_jobs=1, liveness_s=60, clock=clock, reap_every=None)
    abandoned, waiting = real_job(LONG, limiter), real_job(QUICK, limiter)
    limiter.admit(abandoned, "closed-tab")
    limiter.admit(waiting, "still-here")
    abandoned.start()
    _wait_for(lambda: abandoned.snapshot().epoch >= 1 or abandoned.batches_seen > 20)
    waiting.start()
    _wait_for(lambda: waiting.snapshot().queue_position == 1)
    clock.now += 61
    limiter.heartbeat("still-here")
    assert limiter.reap() == [abandoned]
    assert abandoned.join(timeout=30) and abandoned.status == "stopped"
    assert waiting.join(timeout=60) and waiting.status == "finished"
    assert limiter.stop_reason(abandoned).key == "train.message.stopped_session_gone"
    _wait_for(lambda: limiter.running == 0)


def test_a_queued_job_is_polled_slowly_a_training_one_live_and_a_collected_one_once_more():
    limiter = JobLimiter(max_jobs=1, reap_every=None)
    first, second = real_job(LONG, limiter), real_job(QUICK, limiter)
    limiter.admit(first, "a")
    limiter.admit(second, "b")
    first.start()
    second.start()
    _wait_for(lambda: first.snapshot().status == "running")
    _wait_for(lambda: second.snapshot().queue_position == 1)
    assert poll_seconds(first, collected=False) == LIVE_POLL_S
    assert poll_seconds(second, collected=False) == QUEUED_POLL_S > LIVE_POLL_S
    first.stop()
    assert first.join(timeout=30) and second.join(timeout=60)
    assert poll_seconds(second, collected=False) == LIVE_POLL_S  # ask for the collecting rerun
    assert poll_seconds(second, collected=True, redrawn=False) == REDRAW_AFTER_S  # once more
    assert poll_seconds(second, collected=True, redrawn=True) is None


def test_tensorflow_threads_are_bounded_for_the_jobs_sharing_the_cores():
    code = (
        "import os, sys\n"
        "from core.train.jobs import configure_tf_threads\n"
        "print(configure_tf_threads(4, cores=8), 'tensorflow' in sys.modules)\n"
        "print(os.environ['TF_NUM_INTRAOP_THREADS'], os.environ['TF_NUM_INTEROP_THREADS'])\n"
        "del os.environ['TF_NUM_INTRAOP_THREADS'], os.environ['TF_NUM_INTEROP_THREADS']\n"
        "import tensorflow as tf\n"
        "print(configure_tf_threads(2, cores=8))\n"  # imported, not yet running
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads())\n"
        "tf.constant(1.0) + 1\n"
        "print(configure_tf_threads(1, cores=8))\n"  # too late: TensorFlow is running
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split("\n")
    assert out[:5] == ["(2, 4) False", "2 4", "(4, 2)", "4 2", "None"]
