"""Optional experiment tracking in MLflow: a run's parameters, live epochs, metrics and files.

Off unless asked for: `MODELDESK_MLFLOW_URI` (or the `mlflow_uri` secret) names a tracking server
(`http(s)://...`) or a SQLite file (`sqlite:///path`), and the person opts in on Train, or passes
`python -m core train ... --mlflow URI`. MLflow is imported only inside the worker thread of a
`Tracker`, so without that the app never imports it (a test checks this in a fresh process).

Logging must never block or slow training. A `Tracker` therefore owns one background thread and
a bounded queue: every call here only puts a small item on the queue and returns at once. When
the server is unreachable, slow or refuses a request, the tracker records why (`failure`), drops
what is still queued and ignores later calls; when the queue is full (a server far behind), the
item is dropped and counted. The training job knows nothing of this: `follow_job` reads its
public `snapshot()` from another thread once a second and logs the epochs that appeared.

Layering: this module is part of the train step and so never imports evaluate or deploy. The
files made higher up (metrics.json, the model card, the bundle, the MLflow model) are logged by
`core.deploy.tracking_artifacts`, through `Tracker.log_artifact` and `Tracker.call`.

Searches (parameter searches over several runs) log one parent run and one nested run per trial:
`start_search_parent` and `log_trial` below (docs/ARCHITECTURE.md, "Experiment tracking").
"""

from __future__ import annotations

import json
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.i18n import Message, UserError

if TYPE_CHECKING:
    from core.train.engine import JobSnapshot, Run

URI_ENV = "MODELDESK_MLFLOW_URI"
EXPERIMENT_ENV = "MODELDESK_MLFLOW_EXPERIMENT"
DEFAULT_EXPERIMENT = "ModelDesk"
URI_SCHEMES = ("http://", "https://", "sqlite:///")
QUEUE_SIZE = 2000  # items; one epoch is one item, so a long run fits many times over
IDLE_EXIT_S = 30.0  # a worker with nothing to do ends; the next call starts a new one
POLL_S = 1.0  # how often follow_job reads the job's snapshot
# How long one request to the tracking server may take, and how often MLflow retries it. MLflow's
# own defaults (120 s, 7 retries with backoff) would keep a dead server's first request busy for
# minutes; the person should hear within seconds that logging failed.
REQUEST_TIMEOUT_S = "10"
REQUEST_RETRIES = "1"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter's value
TAG_PREFIX = "modeldesk."
PARENT_TAG = "mlflow.parentRunId"  # what MLflow's own nested runs set
STATUS_FOR = {"finished": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}


def check_uri(uri: str) -> str:
    """The URI stripped, when it is one MLflow logging accepts here: http(s):// or sqlite:///.
    Anything else (a bare path, a file: URI, an unknown scheme) is a UserError that says so."""
    text = (uri or "").strip()
    if not text.lower().startswith(URI_SCHEMES) or any(c.isspace() for c in text):
        raise UserError("tracking.error.uri", uri=text[:200])
    return text


def configured_uri() -> str | None:
    """The server's tracking URI from MODELDESK_MLFLOW_URI (the UI also reads the mlflow_uri
    secret), or None when tracking is not configured."""
    value = os.environ.get(URI_ENV, "").strip()
    return value or None


def experiment_name() -> str:
    """The MLflow experiment runs go to: MODELDESK_MLFLOW_EXPERIMENT, else "ModelDesk"."""
    return os.environ.get(EXPERIMENT_ENV, "").strip()[:200] or DEFAULT_EXPERIMENT


def mlflow_installed() -> bool:
    """Whether MLflow can be imported here (asked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("mlflow") is not None


@dataclass
class _Item:
    kind: str
    handle: str
    payload: Any = None


class Tracker:
    """One tracking destination (a URI and an experiment) with its own background logger.

    Every method returns at once; the work happens in the tracker's thread, in order. A run is
    named by the handle `start_run` returns (the MLflow run id is known only in that thread).
    """

    def __init__(
        self, uri: str, experiment: str | None = None, *, queue_size: int = QUEUE_SIZE
    ) -> None:
        self.uri = check_uri(uri)
        self.experiment = experiment or experiment_name()
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._experiment_id: str | None = None
        self._run_ids: dict[str, str] = {}
        self._failure: Message | None = None
        self._dropped = 0

    # --- what callers see -------------------------------------------------------------------

    @property
    def failure(self) -> Message | None:
        """Why logging stopped (the first error), or None while it works."""
        with self._lock:
            if self._failure is None and self._dropped:
                return Message("tracking.failed.behind", {"dropped": self._dropped})
            return self._failure

    @property
    def dropped(self) -> int:
        """Items dropped because the queue was full."""
        with self._lock:
            return self._dropped

    def run_id(self, handle: str) -> str | None:
        """The MLflow run id of a handle, once the worker has created the run."""
        with self._lock:
            return self._run_ids.get(handle)

    # --- logging (all non-blocking) --------------------------------------------------------

    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        parent: str | None = None,
    ) -> str:
        """A new MLflow run (nested under the run `parent` when given); returns its handle."""
        handle = uuid.uuid4().hex
        payload = {"name": name, "tags": dict(tags or {}), "parent": parent}
        self._put(_Item("start", handle, payload))
        if params:
            self.log_params(handle, params)
        return handle

    def log_params(self, handle: str, params: Mapping[str, object]) -> None:
        """Parameters (values as text, cut to MLflow's length limit)."""
        self._put(_Item("params", handle, {str(k): _param_text(v) for k, v in params.items()}))

    def set_tags(self, handle: str, tags: Mapping[str, object]) -> None:
        self._put(_Item("tags", handle, {str(k): str(v) for k, v in tags.items()}))

    def log_metrics(self, handle: str, rows: Iterable[tuple[int, Mapping[str, float]]]) -> None:
        """Metrics per step, as (step, {name: value}); values that are not finite are skipped."""
        clean = [
            (int(step), {str(k): float(v) for k, v in values.items() if _finite(v)})
            for step, values in rows
        ]
        if clean:
            self._put(_Item("metrics", handle, clean))

    def log_artifact(self, handle: str, path: str, data: str | bytes) -> None:
        """A file in the run's artifacts (`path` relative, e.g. "charts/curves.html")."""
        self._put(_Item("artifact", handle, (path, data)))

    def call(self, handle: str, work: Callable[[Any, str], None]) -> None:
        """Run `work(client, mlflow_run_id)` in the worker, in order with the rest: how higher
        layers log what needs MLflow itself (the MLflow model)."""
        self._put(_Item("call", handle, work))

    def end_run(self, handle: str, status: str = "finished") -> None:
        """End the run: ModelDesk's finished, stopped or failed become MLflow's FINISHED, KILLED,
        FAILED."""
        self._put(_Item("end", handle, STATUS_FOR.get(status, "FINISHED")))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is done (or dropped); True if it was in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def fail(self, message: Message) -> None:
        """Record a failure found outside the worker (a file that could not be made)."""
        with self._lock:
            if self._failure is None:
                self._failure = message

    # --- the worker --------------------------------------------------------------------------

    def _put(self, item: _Item) -> None:
        with self._lock:
            if self._failure is not None:
                return  # logging already failed: do not queue work that would only fail again
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self._dropped += 1
                return
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="mlflow-tracking", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                with self._lock:
                    skip = self._failure is not None
                if not skip:
                    self._do(item)
            except Exception as error:  # any failure of the server or of MLflow: contained
                with self._lock:
                    if self._failure is None:
                        self._failure = Message("tracking.failed.error", {"reason": _reason(error)})
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _do(self, item: _Item) -> None:
        client = self._mlflow_client()
        if item.kind == "start":
            self._start(client, item.handle, item.payload)
            return
        run_id = self.run_id(item.handle)
        if run_id is None:
            return  # its run was never created (that failure is already recorded)
        if item.kind == "params":
            from mlflow.entities import Param

            params = [Param(k, v) for k, v in item.payload.items()]
            for start in range(0, len(params), 100):  # MLflow takes 100 parameters a request
                client.log_batch(run_id, params=params[start : start + 100])
        elif item.kind == "tags":
            from mlflow.entities import RunTag

            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in item.payload.items()])
        elif item.kind == "metrics":
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            metrics = [
                Metric(name, value, now, step)
                for step, values in item.payload
                for name, value in values.items()
            ]
            for start in range(0, len(metrics), 1000):  # MLflow takes 1000 metrics a request
                client.log_batch(run_id, metrics=metrics[start : start + 1000])
        elif item.kind == "artifact":
            path, data = item.payload
            if isinstance(data, bytes):
                _log_bytes(client, run_id, path, data)
            else:
                client.log_text(run_id, data, path)
        elif item.kind == "call":
            item.payload(client, run_id)
        elif item.kind == "end":
            client.set_terminated(run_id, status=item.payload)

    def _start(self, client: Any, handle: str, payload: dict) -> None:
        tags = {key: str(value) for key, value in payload["tags"].items()}
        parent = payload["parent"]
        if parent is not None:
            parent_id = self.run_id(parent)
            if parent_id is None:
                return
            tags[PARENT_TAG] = parent_id
        run = client.create_run(self._experiment(client), run_name=payload["name"], tags=tags)
        with self._lock:
            self._run_ids[handle] = run.info.run_id

    def _experiment(self, client: Any) -> str:
        if self._experiment_id is None:
            found = client.get_experiment_by_name(self.experiment)
            if found is None:
                try:
                    self._experiment_id = client.create_experiment(self.experiment)
                except Exception:  # another process created it first
                    found = client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
                    self._experiment_id = found.experiment_id
            else:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    def _mlflow_client(self) -> Any:
        if self._client is None:
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT_S)
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", REQUEST_RETRIES)
            # MLflow's own chatter (a run's URL on stdout, progress bars, info logs) would land
            # in the CLI's output and the server's log for every run; what matters is reported
            # through `failure`.
            os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
            import logging

            logging.getLogger("mlflow").setLevel(logging.WARNING)
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client


# --- what a run logs ---------------------------------------------------------------------------


def run_params(config: Any, data_sha256: str | None = None) -> dict[str, str]:
    """Every control of a run as flat parameters: the model and training specs, the
    preprocessing plan (one group per column: `preprocess.columns.<i>.<field>`, the column's name
    included), the split and the seed, and the data's SHA-256. Never a value of the data; the
    plan's reasons (display text) are left out."""
    data = json.loads(config.to_json())
    params: dict[str, str] = {}
    for section in ("model", "train"):
        for key, value in data[section].items():
            params[f"{section}.{key}"] = _param_text(value)
    preprocess = dict(data["preprocess"])
    for index, column in enumerate(preprocess.pop("columns", [])):
        for key, value in column.items():
            if key != "reason":
                params[f"preprocess.columns.{index}.{key}"] = _param_text(value)
    for key, value in preprocess.items():
        params[f"preprocess.{key}"] = _param_text(value)
    if data_sha256:
        params["data.sha256"] = data_sha256
    return params


def run_tags(name: str, job_id: str, task: str, *, search: str | None = None) -> dict[str, str]:
    """The tags of a run: the session's run name, ModelDesk's run id, the task, the search."""
    tags = {
        f"{TAG_PREFIX}run_name": name,
        f"{TAG_PREFIX}run_id": job_id,
        f"{TAG_PREFIX}task": task,
        "mlflow.source.name": "ModelDesk",
    }
    if search:
        tags[f"{TAG_PREFIX}search"] = search
    return tags


def epoch_rows(
    history: Mapping[str, list[float]], start: int, privacy: Mapping[str, Any] | None = None
) -> list[tuple[int, dict[str, float]]]:
    """History rows from epoch `start` (0-based) on, as (epoch from 1, {metric: value}); the ε
    spent so far joins the last row of a private run."""
    epochs = len(history.get("loss", []))
    rows = [
        (index + 1, {key: values[index] for key, values in history.items() if index < len(values)})
        for index in range(start, epochs)
    ]
    epsilon = (privacy or {}).get("epsilon")
    if rows and isinstance(epsilon, (int, float)) and _finite(epsilon):
        rows[-1][1]["epsilon"] = float(epsilon)
    return rows


class FollowedJob:
    """A training job being logged: its MLflow run handle and the thread following it."""

    def __init__(self, tracker: Tracker, handle: str, thread: threading.Thread) -> None:
        self.tracker = tracker
        self.handle = handle
        self.thread = thread

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has ended and its end has been queued for logging."""
        self.thread.join(timeout)
        return not self.thread.is_alive()


def follow_job(
    tracker: Tracker,
    job: Any,
    *,
    params: Mapping[str, object],
    tags: Mapping[str, object],
    parent: str | None = None,
    on_done: Callable[[Tracker, str, Run], None] | None = None,
    poll_s: float = POLL_S,
) -> FollowedJob:
    """Log a training job as an MLflow run while it trains: the parameters and tags now, each
    epoch's metrics as it appears (read from `job.snapshot()`, never from inside the training
    loop), and at the end `on_done(tracker, handle, run)` (the higher layers' files and model)
    and the run's status. Returns at once."""
    handle = tracker.start_run(
        str(tags.get(f"{TAG_PREFIX}run_name") or job.name), params=params, tags=tags, parent=parent
    )

    def follow() -> None:
        logged = 0
        while True:
            ended = job.join(poll_s)
            snapshot: JobSnapshot = job.snapshot()
            rows = epoch_rows(snapshot.history, logged, snapshot.privacy)
            tracker.log_metrics(handle, rows)
            logged += len(rows)
            if ended:
                break
        run = job.result()
        if on_done is not None and tracker.failure is None:  # nothing to make for a dead server
            try:
                on_done(tracker, handle, run)
            except Exception as error:  # a file that could not be made fails the logging only
                tracker.fail(Message("tracking.failed.error", {"reason": _reason(error)}))
        tracker.set_tags(handle, {f"{TAG_PREFIX}status": run.status})
        tracker.end_run(handle, run.status)

    thread = threading.Thread(target=follow, name=f"mlflow-follow-{job.run_id[:8]}", daemon=True)
    thread.start()
    return FollowedJob(tracker, handle, thread)


# --- searches: one parent run, one nested run per trial ----------------------------------------


def start_search_parent(
    tracker: Tracker,
    name: str,
    *,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
) -> str:
    """The parent run of a search (what was searched, over which data); returns its handle. Its
    trials are nested under it (`log_trial`, or `follow_job(..., parent=handle)` for a trial
    trained as a TrainingJob), through the same tracker: a handle means nothing to another
    one. End it with `end_search`."""
    all_tags = {f"{TAG_PREFIX}search": name, f"{TAG_PREFIX}search_parent": "true", **(tags or {})}
    return tracker.start_run(name, params=params, tags=all_tags)


def log_trial(
    tracker: Tracker,
    parent: str,
    name: str,
    *,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    history: Mapping[str, list[float]] | None = None,
    status: str = "finished",
    tags: Mapping[str, object] | None = None,
) -> str:
    """One finished trial of a search as a nested run: its parameters, its per-epoch history
    (when given), its final metrics and status. Returns the trial's handle."""
    search_tags = {f"{TAG_PREFIX}trial": name, **(tags or {})}
    handle = tracker.start_run(name, params=params, tags=search_tags, parent=parent)
    if history:
        tracker.log_metrics(handle, epoch_rows(history, 0))
    epochs = len((history or {}).get("loss", []))
    tracker.log_metrics(handle, [(epochs, dict(metrics))])
    tracker.end_run(handle, status)
    return handle


def end_search(
    tracker: Tracker,
    parent: str,
    *,
    best: Mapping[str, float] | None = None,
    best_trial: str | None = None,
    status: str = "finished",
) -> None:
    """End a search's parent run, with the best trial's metrics and name when known."""
    if best:
        tracker.log_metrics(parent, [(0, {f"best.{k}": v for k, v in best.items()})])
    if best_trial:
        tracker.set_tags(parent, {f"{TAG_PREFIX}best_trial": best_trial})
    tracker.end_run(parent, status)


# --- helpers -----------------------------------------------------------------------------------


def _log_bytes(client: Any, run_id: str, path: str, data: bytes) -> None:
    """An artifact from bytes, uploaded from a private folder (mode 0700; in memory on a shared
    server) removed afterwards. Not `private_dir()`: on a shared server that holds a process-wide
    lock, and an upload to a slow server must not hold up other sessions' bundle builds."""
    import shutil
    import tempfile
    from pathlib import Path, PurePosixPath

    from core.private_files import private_root

    relative = PurePosixPath(path)
    folder = Path(tempfile.mkdtemp(prefix="modeldesk-mlflow-", dir=private_root()))
    try:
        os.chmod(folder, 0o700)
        file = folder / relative.name
        file.write_bytes(data)
        parent = str(relative.parent)
        client.log_artifact(run_id, str(file), None if parent == "." else parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _param_text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_PARAM_LENGTH]


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reason(error: BaseException) -> str:
    """One short line for the person: the error's first line, without a traceback."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:300]
