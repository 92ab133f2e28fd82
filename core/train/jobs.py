"""The server's job queue: a cap on jobs training at once, and jobs that belong to live sessions.

A room shares one process. `JobLimiter` lets at most `max_jobs` jobs train at once (the rest
wait first come, first served), and for jobs admitted with an owner (a browser session):
- an owner has at most one queued or running job;
- the queue holds at most `max_queue` jobs;
- an owner that stops sending heartbeats for `liveness_s` (a closed tab) has its job stopped,
  which frees its slot or its place in the queue;
- a job may train for at most `max_job_seconds` (optional, for shared servers).
A reaper thread applies the last two every few seconds; `reap()` does it once (tests call it
with their own clock). Jobs are any backend of the job contract
(core.train.engine.Job; engine imports this module, so no annotation here): `stop()`, `done`,
`batches_seen`, `batches_per_epoch`, `train_spec.epochs`, `snapshot().eta_seconds`.
"""

from __future__ import annotations

import heapq
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from core.i18n import Message, UserError
from core.train.status import RunStatus

LIVE_POLL_S = 0.5  # seconds between redraws of a job's live panel while it trains
QUEUED_POLL_S = 2.0  # ... while it waits for a slot
REDRAW_AFTER_S = 3.0  # ... and once more after the run that drew its collected run
LIVENESS_S = 60.0  # a session silent this long is gone (Streamlit pings far more often)
DEFAULT_MAX_QUEUE = 64
_RATE_WEIGHT = 0.3  # weight of the newest finished job in the seconds-per-batch average


class JobLimiter:
    """A process-wide cap on jobs training at once; the rest wait first come, first served."""

    def __init__(
        self,
        max_jobs: int | None = None,
        *,
        max_queue: int | None = None,
        liveness_s: float = LIVENESS_S,
        max_job_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        reap_every: float | None = 5.0,
    ) -> None:
        self.max_jobs = max(1, max_jobs or os.cpu_count() or 1)
        self.max_queue = max(1, max_queue or DEFAULT_MAX_QUEUE)
        self.liveness_s = liveness_s
        self.max_job_seconds = max_job_seconds or None
        self._clock = clock
        self._reap_every = reap_every
        self._reaper: threading.Thread | None = None
        self._condition = threading.Condition()
        self._running: set[int] = set()
        self._waiting: deque[int] = deque()
        self._jobs: dict[int, Any] = {}  # queued or running, by token
        self._started_at: dict[int, float] = {}  # when a job got its slot
        self._admitted: dict[int, tuple[str, Any]] = {}  # (owner, job), until the job ends
        self._last_seen: dict[str, float] = {}
        # Why the server stopped a job, by the job itself (an id() could be reused later).
        self._reasons: weakref.WeakKeyDictionary[Any, Message] = weakref.WeakKeyDictionary()
        self._seconds_per_batch: float | None = None

    # --- admission and liveness -----------------------------------------------------------

    def admit(self, job: Any, owner: str) -> None:
        """Register a job of `owner` before it starts (UserError: one already, or queue full)."""
        token = id(job)
        with self._condition:
            self._forget_done()
            if any(o == owner for o, _ in self._admitted.values()):
                raise UserError("train.error.one_job")
            if self._queue_length() >= self.max_queue and len(self._running) >= self.max_jobs:
                raise UserError("train.error.queue_full", max=self.max_queue)
            self._admitted[token] = (owner, job)
            self._last_seen[owner] = self._clock()
        self._start_reaper()

    def heartbeat(self, owner: str) -> None:
        """The owner's page is still polling (each page run and each live-panel tick)."""
        with self._condition:
            self._last_seen[owner] = self._clock()

    def leave(self, owner: str) -> None:
        """The owner has gone for good: stop its job now."""
        with self._condition:
            mine = {t: job for t, (o, job) in self._admitted.items() if o == owner}
            for job in mine.values():
                self._reasons[job] = Message("train.message.stopped_session_gone")
            self._last_seen.pop(owner, None)
            jobs = list(mine.values())
        for job in jobs:
            job.stop()

    def reap(self, now: float | None = None) -> list[Any]:
        """Stop jobs whose owner went silent or whose time budget ran out; returns them."""
        now = self._clock() if now is None else now
        to_stop: list[Any] = []
        with self._condition:
            self._forget_done()
            for owner, job in self._admitted.values():
                if now - self._last_seen.get(owner, now) > self.liveness_s:
                    self._reasons.setdefault(job, Message("train.message.stopped_session_gone"))
                    to_stop.append(job)
            if self.max_job_seconds is not None:
                for token in self._running:
                    started = self._started_at.get(token)
                    if started is not None and now - started > self.max_job_seconds:
                        self._reasons.setdefault(
                            self._jobs[token],
                            Message(
                                "train.message.stopped_time_budget",
                                {"seconds": round(self.max_job_seconds)},
                            ),
                        )
                        to_stop.append(self._jobs[token])
            # Owners with no job who have been silent are forgotten.
            active = {owner for owner, _ in self._admitted.values()}
            for owner in [o for o, seen in self._last_seen.items() if o not in active]:
                if now - self._last_seen[owner] > self.liveness_s:
                    del self._last_seen[owner]
        stopped = []
        for job in to_stop:
            if not job.done:
                job.stop()
                stopped.append(job)
        return stopped

    def stop_reason(self, job: Any) -> Message | None:
        """Why the server stopped this job (its session was gone, its time ran out), if it did."""
        with self._condition:
            return self._reasons.get(job)

    # --- slots ----------------------------------------------------------------------------

    def acquire(self, job: object, cancel: threading.Event) -> bool:
        """Wait for a slot; False if `cancel` is set first (the job then leaves the queue)."""
        token = id(job)
        with self._condition:
            self._jobs[token] = job
            self._waiting.append(token)
            while self._waiting[0] != token or len(self._running) >= self.max_jobs:
                if cancel.is_set():
                    self._waiting.remove(token)
                    self._jobs.pop(token, None)
                    self._condition.notify_all()
                    return False
                self._condition.wait()
            self._waiting.popleft()
            self._running.add(token)
            self._started_at[token] = self._clock()
            # The next in line may fit too when the cap is above one.
            self._condition.notify_all()
            return True

    def release(self, job: object) -> None:
        """Give a job's slot to the next in line."""
        token = id(job)
        with self._condition:
            self._running.discard(token)
            self._jobs.pop(token, None)
            started = self._started_at.pop(token, None)
            batches = int(getattr(job, "batches_seen", 0) or 0)
            if started is not None and batches > 0:
                sample = (self._clock() - started) / batches
                previous = self._seconds_per_batch
                self._seconds_per_batch = (
                    sample
                    if previous is None
                    else _RATE_WEIGHT * sample + (1 - _RATE_WEIGHT) * previous
                )
            self._condition.notify_all()

    def wake(self) -> None:
        """Let waiting jobs re-check their stop events."""
        with self._condition:
            self._condition.notify_all()

    def position(self, job: object) -> int | None:
        """A waiting job's place in the queue (1 = next), or None if it is not waiting."""
        with self._condition:
            try:
                return self._waiting.index(id(job)) + 1
            except ValueError:
                return None

    def wait_seconds(self, job: object) -> float | None:
        """Estimated seconds until a waiting job gets a slot; None when not waiting or unknown.

        Each slot frees when its job's time left runs out; each job ahead then takes the
        earliest free slot for its planned batches at the server's measured seconds per batch.
        """
        with self._condition:
            token = id(job)
            if token not in self._waiting:
                return None
            ahead = [self._jobs[t] for t in list(self._waiting)[: self._waiting.index(token)]]
            running = [(self._jobs[t], self._started_at.get(t)) for t in self._running]
            rate = self._seconds_per_batch
        if rate is None:  # no job has finished yet: use the running ones' pace
            paces = [
                (self._clock() - started) / other.batches_seen
                for other, started in running
                if started is not None and int(getattr(other, "batches_seen", 0) or 0) > 0
            ]
            rate = sum(paces) / len(paces) if paces else None
        slots: list[float] = []
        for running_job, _ in running:
            eta = running_job.snapshot().eta_seconds
            if eta is None:
                if rate is None:
                    return None
                eta = _planned_batches(running_job) * rate
            slots.append(max(0.0, float(eta)))
        slots += [0.0] * max(0, self.max_jobs - len(slots))
        heapq.heapify(slots)
        for waiting_job in ahead:
            if rate is None:
                return None
            heapq.heappush(slots, heapq.heappop(slots) + _planned_batches(waiting_job) * rate)
        return slots[0]

    def holds(self, job: object) -> bool:
        """Whether the job still holds a slot (a job reads done a moment before its thread
        gives the slot back)."""
        with self._condition:
            return id(job) in self._running

    @property
    def running(self) -> int:
        """How many jobs hold a slot now."""
        with self._condition:
            return len(self._running)

    @property
    def queued(self) -> int:
        """How many jobs wait for a slot."""
        with self._condition:
            return len(self._waiting)

    # --- internals ------------------------------------------------------------------------

    def _queue_length(self) -> int:
        # Admitted jobs whose thread has not reached acquire() yet wait too.
        pending = sum(
            1 for t in self._admitted if t not in self._running and t not in self._waiting
        )
        return len(self._waiting) + pending

    def _forget_done(self) -> None:
        for token in [t for t, (_, job) in self._admitted.items() if job.done]:
            del self._admitted[token]

    def _start_reaper(self) -> None:
        if self._reap_every is None:
            return
        with self._condition:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(
                target=self._reap_forever, name="job-reaper", daemon=True
            )
        self._reaper.start()

    def _reap_forever(self) -> None:
        interval = self._reap_every or 5.0
        while True:
            time.sleep(interval)
            try:
                self.reap()
            except Exception:  # the reaper must outlive any one bad job
                continue


def poll_seconds(job: Any, collected: bool, redrawn: bool = True) -> float | None:
    """How often a page redraws a job's live panel: LIVE_POLL_S while it trains, QUEUED_POLL_S
    while it waits for a slot (its place changes slowly, and in a full room most jobs wait:
    every redraw is work for the server and for that participant's browser), and never once
    its run is `collected` into the history and the page `redrawn` after that. A finished job
    not yet collected polls at the live pace, so the page asks for the collecting rerun soon;
    a collected one not yet redrawn polls once more, at REDRAW_AFTER_S (docs/ARCHITECTURE.md,
    "Background jobs": one more full redraw after the collecting run)."""
    if job.done and collected:
        return None if redrawn else REDRAW_AFTER_S
    return QUEUED_POLL_S if job.snapshot().status == RunStatus.QUEUED else LIVE_POLL_S


def _planned_batches(job: Any) -> int:
    return int(getattr(job, "batches_per_epoch", 1)) * int(job.train_spec.epochs)


def configure_tf_threads(max_jobs: int, cores: int | None = None) -> tuple[int, int] | None:
    """Bound TensorFlow's thread pools so `max_jobs` jobs share the cores fairly.

    TensorFlow's pools are process-wide: one op may use at most cores // max_jobs threads
    (intra-op), and the graph executor has one thread per concurrent job, up to the cores
    (inter-op). Before TensorFlow is imported this sets TF_NUM_INTRAOP_THREADS and
    TF_NUM_INTEROP_THREADS (read by its runtime when it starts; values already set win), so
    nothing heavy is imported; after, it uses tf.config.threading. Returns the pair in effect,
    or None when TensorFlow is running already (its settings then stay as they were).
    """
    cores = cores or os.cpu_count() or 1
    intra = max(1, cores // max(1, max_jobs))
    inter = max(1, min(cores, max_jobs))
    if "tensorflow" not in sys.modules:
        intra = int(os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(intra)))
        inter = int(os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(inter)))
        return intra, inter
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # "cannot be modified after initialization"
        return None
    return intra, inter


_SERVER_LIMITER: JobLimiter | None = None
_SERVER_LOCK = threading.Lock()


def server_limiter() -> JobLimiter:
    """The one queue of this server process, from MODELDESK_MAX_JOBS (default: CPU cores),
    MODELDESK_MAX_QUEUE (default 64) and MODELDESK_JOB_MAX_SECONDS (default: no budget); the
    first call also bounds TensorFlow's threads for that many jobs."""
    global _SERVER_LIMITER
    with _SERVER_LOCK:
        if _SERVER_LIMITER is None:
            limiter = JobLimiter(
                max_jobs=_env_number("MODELDESK_MAX_JOBS") or None,
                max_queue=_env_number("MODELDESK_MAX_QUEUE") or None,
                max_job_seconds=_env_number("MODELDESK_JOB_MAX_SECONDS") or None,
            )
            configure_tf_threads(limiter.max_jobs)
            _SERVER_LIMITER = limiter
        return _SERVER_LIMITER


def _env_number(name: str) -> int:
    text = os.environ.get(name, "").strip()
    try:
        return max(0, int(text)) if text else 0
    except ValueError:
        return 0
