"""Training jobs on a Ray cluster: a backend of the job contract (`core.train.engine.Job`).

With `MODELDESK_RAY_ADDRESS` set (`local` starts an embedded Ray on this machine; `auto` or
`ray://host:10001` joins a running cluster), `core.train.runner.start_training` returns a
`ClusterTrainingJob` instead of a thread job. Unset, this module is never imported and Ray is
never loaded.

How a job runs:
- **Where.** The job's training is a Ray *task* (`_train_task`) with its declared CPUs and GPUs
  (`MODELDESK_RAY_JOB_CPUS`, default 1; `MODELDESK_RAY_JOB_GPUS`, default 1 when the cluster
  has GPUs, else 0; a fraction such as 0.5 shares a GPU). Inside the task an ordinary
  `TrainingJob` trains in its thread, so the history, Stop, NaN handling and the kept weights
  are exactly the thread job's. Tasks, unlike actors, run in worker processes Ray keeps and
  reuses, so TensorFlow is imported once per worker (warmed up when this process connects),
  not once per job.
- **Live history.** The task pushes each new epoch, the batch and its status to a small actor
  (`_Channels`, one per Streamlit process, no CPU) every `PUSH_S`; a poller thread here pulls
  them every `POLL_S`, so `snapshot()` never waits on the network and the page draws at 2 Hz.
- **Stop** is a flag on that actor: `stop()` sets it at once, the task reads it with its next
  push and stops its `TrainingJob`, which answers within one compiled block (~50 ms).
- **The queue** is the cluster's: one named actor (`_Queue`, detached) admits jobs first come,
  first served from every Streamlit replica, up to `MODELDESK_MAX_JOBS` or the cluster's CPUs
  (GPUs when jobs take GPUs) divided by one job's share. A place held by a process that stops
  renewing it (a replica that died) is dropped after `LEASE_S`.
- **A lost worker** (killed, out of memory, node gone) ends the job as failed with a message
  that says so; its place in the queue is freed.
- **Isolation.** Each job ships only its own prepared arrays and specs to its task; the task
  returns the run (history and weights) to the process that started it and nowhere else. No
  actor is named after a session and no object is shared between jobs.
- **Disks.** Nothing is written by ModelDesk on the cluster. The embedded cluster turns object
  spilling off when `MODELDESK_SHARED=1`, so arrays stay in memory; on a cluster you run, set
  that in the cluster's own configuration (README, "Scaling out").
- **A busy machine.** The embedded cluster's processes get longer start and GCS deadlines than
  Ray's defaults (`EMBEDDED_PATIENCE`, only where unset), a failed start is tried again
  (`START_TRIES`) before a clear error, and the CLI leaves Ray before it exits with the
  training's own code (`exit_after_ray`), so Ray's shutdown never decides it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from core.i18n import Message, UserError
from core.private_files import shared_deployment
from core.train.devices import training_device
from core.train.engine import Job, Run, TrainingJob
from core.train.privacy import dp_settings
from core.train.status import RunStatus

ADDRESS_VARIABLE = "MODELDESK_RAY_ADDRESS"
NAMESPACE = "modeldesk"
QUEUE_NAME = "modeldesk-queue"
POLL_S = 0.2  # the poller pulls new epochs this often (the page draws every 0.5 s)
PUSH_S = 0.05  # the task pushes its progress and reads Stop this often
LEASE_S = 30.0  # a queue place nobody renews for this long is dropped
START_TRIES = 3  # an embedded cluster that fails to start is started again, this many times in all
START_RETRY_S = 5.0  # ... after waiting this long times the tries so far
# How patient an embedded cluster's processes are on a busy machine. Ray's defaults suit a
# dedicated node (the GCS binds its port within 30 s, a GCS silent for 60 s counts as killed, a
# worker registers within 60 s); on a loaded 2-core machine a healthy cluster misses them and
# dies with "GCS may have been killed". Set only where unset, so an operator's values win.
EMBEDDED_PATIENCE = {
    "RAY_gcs_server_port_wait_time_s": "120",
    "RAY_NUM_REDIS_GET_RETRIES": "120",
    "RAY_gcs_rpc_server_reconnect_timeout_s": "300",
    "RAY_raylet_start_wait_time_s": "120",
    "RAY_worker_register_timeout_seconds": "300",
    "RAY_health_check_failure_threshold": "30",
}
_ROOT = Path(__file__).resolve().parents[2]

_connect_lock = threading.Lock()
_channels: Any = None


def ray_address() -> str | None:
    """The configured Ray address (`local`, `auto`, `ray://host:port`), or None when unset."""
    value = os.environ.get(ADDRESS_VARIABLE, "").strip()
    return value or None


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Connect this process to Ray once (or reuse a connection made before); returns `ray`.

    `local` starts an embedded cluster on loopback only with `num_cpus` (default: this
    machine's cores); other addresses join a running cluster and ship the `core` package to it.
    """
    global _channels
    address = address or ray_address() or "local"
    if address == "local":
        # Ray's single-machine mode: the node's address is 127.0.0.1, so every server of the
        # embedded cluster listens on loopback only. The variable is read when Ray is imported
        # (here and in the processes it starts); the constant covers a Ray imported before.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        for name, value in EMBEDDED_PATIENCE.items():
            os.environ.setdefault(name, value)  # read by Ray's processes when they start
    import ray

    with _connect_lock:
        if not ray.is_initialized():
            if address == "local":
                from ray._private import ray_constants

                ray_constants.ENABLE_RAY_CLUSTER = False
            quiet = {"TF_CPP_MIN_LOG_LEVEL": "3"}
            if address == "local":
                system: dict[str, Any] = {}
                if shared_deployment():
                    system["automatic_object_spilling_enabled"] = False
                _start_embedded(
                    ray,
                    address="local",  # always a new instance, never one already running here
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    namespace=NAMESPACE,
                    log_to_driver=False,
                    runtime_env={"env_vars": {"PYTHONPATH": str(_ROOT), **quiet}},
                    _system_config=system or None,
                )
            else:
                ray.init(
                    address=address,
                    namespace=NAMESPACE,
                    log_to_driver=False,
                    runtime_env={"py_modules": [str(_ROOT / "core")], "env_vars": quiet},
                )
        if _channels is None:
            _channels = _actor_classes()[0].options(num_cpus=0).remote()
            _queue()
            _warm_up(ray)
    return ray


def _start_embedded(ray: Any, **options: Any) -> None:
    """`ray.init` for an embedded cluster, tried START_TRIES times: on a busy machine one of its
    processes may miss a start deadline, and a fresh start usually succeeds. UserError (the
    last error's first line) when none did."""
    for attempt in range(1, START_TRIES + 1):
        try:
            ray.init(**options)
            return
        except Exception as error:  # Ray raises several kinds for a failed start
            with contextlib.suppress(Exception):
                ray.shutdown()  # what did start of this try
            if attempt == START_TRIES:
                raise UserError(
                    "jobs.error.ray_start", tries=START_TRIES, error=_first_line(error)
                ) from error
            time.sleep(START_RETRY_S * attempt)


def exit_after_ray(code: int) -> NoReturn:
    """End this process with `code` after leaving Ray: the command's own outcome, never what
    Ray's processes print or raise while they stop (slow on a busy machine, where a GCS that
    stops first can fail the driver's teardown) nor its exit-time hooks."""
    with contextlib.suppress(Exception):
        disconnect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def start_local(num_cpus: int = 2) -> Any:
    """An embedded cluster on loopback for tests and benchmarks (`ray.shutdown()` ends it)."""
    return connect("local", num_cpus=num_cpus)


def disconnect() -> None:
    """Leave the cluster (an embedded one stops); the next job connects again."""
    global _channels
    import ray

    with _connect_lock:
        _channels = None
        if ray.is_initialized():
            ray.shutdown()


def job_resources(ray: Any) -> tuple[float, float]:
    """(CPUs, GPUs) one job declares: the settings, else 1 CPU and 1 GPU when there are GPUs."""
    cpus = _number_setting("MODELDESK_RAY_JOB_CPUS", 1.0)
    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    gpus = _number_setting("MODELDESK_RAY_JOB_GPUS", 1.0 if has_gpus else 0.0)
    return cpus, gpus


def cluster_slots(ray: Any) -> int:
    """How many jobs train at once on the cluster: MODELDESK_MAX_JOBS, else what fits."""
    configured = int(os.environ.get("MODELDESK_MAX_JOBS", "0") or 0)
    if configured > 0:
        return configured
    cpus, gpus = job_resources(ray)
    resources = ray.cluster_resources()
    fits = resources.get("CPU", 1) / cpus if cpus > 0 else math.inf
    if gpus > 0:
        fits = min(fits, resources.get("GPU", 0) / gpus)
    return max(1, int(fits + 1e-9)) if math.isfinite(fits) else 1


def cluster_workers() -> int:
    """Worker nodes alive in the connected cluster (the Train page offers more than one)."""
    import ray

    return sum(1 for node in ray.nodes() if node.get("Alive"))


class ClusterTrainingJob(Job):
    """A training job that runs as a Ray task (the `Job` contract, like a thread job)."""

    thread_prefix = "ray-job"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The arrays are checked and the run named exactly as a thread job does it; the checked
        # arrays are what travels to the cluster.
        super().__init__(*args, **kwargs)
        # DP-SGD: the same settings the remote job calibrates; the ε spent is computed here
        # from the steps the cluster reports (core.train.privacy).
        self._dp = (
            dp_settings(self.train_spec, len(self.X_train), self.batches_per_epoch)
            if self.train_spec.dp
            else None
        )
        # The JobLimiter only admits owners (one job each) and stops jobs of silent sessions
        # here; the slots are the cluster's (_Queue).
        self.worker_pid: int | None = None
        self._queue_position: int | None = None

    def _on_stop(self) -> None:
        channels = _channels
        if channels is not None:
            channels.stop.remote(self.run_id)  # not awaited: Stop returns at once

    def _queue_place(self) -> int | None:
        return self._queue_position

    # --- the poller thread -----------------------------------------------------------------

    def _work(self) -> None:
        token = self.run_id
        queue = None
        try:
            ray = connect()
            queue = _queue()
            slots = cluster_slots(ray)
            while True:
                position = ray.get(queue.visit.remote(token, slots))
                with self._lock:
                    self._queue_position = position or None
                if self._stop_event.is_set():
                    self._finish(RunStatus.STOPPED, Message("train.message.stopped_in_queue"))
                    return
                if position == 0:
                    break
                time.sleep(POLL_S)
            self._run_on_cluster(ray, queue, token)
        finally:
            if queue is not None:
                queue.leave.remote(token)
            if _channels is not None:
                _channels.close.remote(token)

    def _run_on_cluster(self, ray: Any, queue: Any, token: str) -> None:
        from ray.exceptions import RayError, RayTaskError

        cpus, gpus = job_resources(ray)
        payload = {
            "model_spec": self.model_spec,
            "train_spec": self.train_spec,
            "task": self.task,
            "n_classes": self.n_classes,
            "run_id": self.run_id,
            "name": self.name,
            "created_at": self.created_at,
        }
        ray.get(_channels.open.remote(token))
        if self._stop_event.is_set():
            _channels.stop.remote(token)
        train_task = _actor_classes()[2]
        arrays = (self.X_train, self.y_train, self.X_val, self.y_val)
        reference = train_task.options(num_cpus=cpus, num_gpus=gpus, max_retries=0).remote(
            payload, arrays, _channels
        )
        last_renewal = time.monotonic()
        while True:
            ready, _ = ray.wait([reference], timeout=POLL_S)
            self._apply(ray.get(_channels.take.remote(token)))
            if time.monotonic() - last_renewal > LEASE_S / 3:
                queue.visit.remote(token, 0)
                last_renewal = time.monotonic()
            if ready:
                break
        try:
            run = ray.get(reference)
        except RayTaskError as error:  # the training code raised: report it as a thread job does
            cause = error.cause if isinstance(error.cause, BaseException) else error
            self._finish(RunStatus.FAILED, Message("train.message.error", {"error": str(cause)}))
            return
        except RayError as error:
            self._finish(
                RunStatus.FAILED,
                Message("cluster.message.worker_lost", {"error": _first_line(error)}),
            )
            return
        self._apply(ray.get(_channels.take.remote(token)))
        run.model = None
        self._adopt(run)

    def _apply(self, updates: list[dict[str, Any]]) -> None:
        for update in updates:
            for logs, parameters in update.get("epochs", []):
                self._record_epoch(logs, parameters)
            if update.get("status") == RunStatus.RUNNING:
                self._set_running()
            self._progress(
                update.get("batch", self._batch), update.get("batches_seen", self._batches_seen)
            )
            if "pid" in update:
                self.worker_pid = update["pid"]
            if "device" in update:
                self.device = update["device"]


# --- remote side -------------------------------------------------------------------------------


def _train_remote(payload: dict[str, Any], arrays: tuple, channels: Any) -> Run:
    """Body of the Ray task: an ordinary TrainingJob, its progress pushed to the channel."""
    import ray

    X_train, y_train, X_val, y_val = arrays
    job = TrainingJob(
        payload["model_spec"],
        payload["train_spec"],
        payload["task"],
        payload["n_classes"],
        X_train,
        y_train,
        X_val,
        y_val,
        name=payload["name"],
    )
    job.run_id, job.created_at = payload["run_id"], payload["created_at"]
    token = payload["run_id"]
    first = {"pid": os.getpid(), "device": training_device(ray.util.get_node_ip_address())}
    job.start()
    sent = 0
    while True:
        ended = job.join(PUSH_S)
        snapshot = job.snapshot()
        losses = snapshot.history.get("loss", [])
        epochs = [
            (
                {key: values[i] for key, values in snapshot.history.items() if i < len(values)},
                {key: values[i] for key, values in snapshot.parameters.items() if i < len(values)},
            )
            for i in range(sent, len(losses))
        ]
        sent = len(losses)
        update = {
            "status": snapshot.status,
            "batch": snapshot.batch,
            "batches_seen": job.batches_seen,
            "epochs": epochs,
            **first,
        }
        first = {}
        if ray.get(channels.push.remote(token, update)) and not ended:
            job.stop()
        if ended:
            break
    run = job.result()
    run.model = None  # weights travel; the Keras model is rebuilt by whoever uses it
    return run


def _warm_remote() -> int:
    """Import TensorFlow and Keras in a worker process, so the first job there starts at once."""
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    return os.getpid()


class _ChannelsBody:
    """Progress and Stop flags of this process's jobs (a Ray actor without CPU)."""

    def __init__(self) -> None:
        self._updates: dict[str, list[dict[str, Any]]] = {}
        self._stop: set[str] = set()

    def open(self, token: str) -> None:
        self._updates.setdefault(token, [])

    def push(self, token: str, update: dict[str, Any]) -> bool:
        """Store an update from the task; returns whether Stop was asked for."""
        if token in self._updates:
            self._updates[token].append(update)
        return token in self._stop

    def take(self, token: str) -> list[dict[str, Any]]:
        updates, self._updates[token] = self._updates.get(token, []), []
        return updates

    def stop(self, token: str) -> None:
        self._stop.add(token)

    def close(self, token: str) -> None:
        self._updates.pop(token, None)
        self._stop.discard(token)


class _QueueBody:
    """The cluster's queue: the first `slots` places train, the rest wait in order."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._renewed: dict[str, float] = {}

    def visit(self, token: str, slots: int) -> int:
        """Join or renew; 0 when the job may train, else its place in the queue (1 = next).
        slots 0 only renews a job that already trains."""
        now = time.monotonic()
        for stale in [t for t, at in self._renewed.items() if now - at > LEASE_S]:
            self.leave(stale)
        if token not in self._renewed:
            self._order.append(token)
        self._renewed[token] = now
        if slots <= 0:
            return 0
        place = self._order.index(token)
        return 0 if place < slots else place - slots + 1

    def leave(self, token: str) -> None:
        if token in self._renewed:
            del self._renewed[token]
            self._order.remove(token)


_classes: tuple[Any, Any, Any, Any] | None = None


def _actor_classes() -> tuple[Any, Any, Any, Any]:
    """(channels actor, queue actor, training task, warm-up task), made remote on first use."""
    global _classes
    if _classes is None:
        import ray

        _classes = (
            ray.remote(_ChannelsBody),
            ray.remote(_QueueBody),
            ray.remote(_train_remote),
            ray.remote(_warm_remote),
        )
    return _classes


def _queue() -> Any:
    return (
        _actor_classes()[1]
        .options(
            name=QUEUE_NAME,
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
            num_cpus=0,
        )
        .remote()
    )


def _warm_up(ray: Any) -> None:
    """Import TensorFlow in as many workers as jobs can train at once (not awaited)."""
    cpus, gpus = job_resources(ray)
    warm = _actor_classes()[3]
    for _ in range(cluster_slots(ray)):
        warm.options(num_cpus=cpus, num_gpus=gpus).remote()


def _number_setting(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        return default


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def ray_loaded() -> bool:
    """Whether Ray has been imported in this process."""
    return "ray" in sys.modules
