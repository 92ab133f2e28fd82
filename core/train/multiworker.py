"""One job across N workers: data-parallel training with tf.distribute.MultiWorkerMirroredStrategy.

`MultiWorkerJob` (the `Job` contract, like a thread job; `start_training(..., workers=N)` and
`python -m core train --workers N` make one) starts N Python processes on this machine
(127.0.0.1, free ports), each with its own `TF_CONFIG` naming the others, as TensorFlow's
multi-worker guide describes. Each builds the same model under the strategy's scope and trains
on its share of every global batch (the global batch is the spec's batch size, the loss
averaged over it, so each step is the single-worker step); gradients are all-reduced each
step, so all workers hold the same weights. Keras 3's `fit` does not take this strategy, so the
loop is written out, with the thread job's parts: the per-epoch order of the rows
(`CompiledLoop.order`'s seed rule), the target scale and the output bias at the training prior
(core.train.loop), and the per-epoch policy (core.train.policy: best weights, early stopping,
plateau, the NaN verdict and its message, the final status). With dropout 0 a run over N
workers matches a one-worker run up to the order of float additions.

Worker 0, the chief, appends each epoch to `progress.jsonl` (the job follows it, so the history
is live), writes the result and the weights; the job ends with them as an ordinary `Run`. Stop
writes a `stop` file; the chief reads it after each epoch and the workers agree on it with one
all-reduce, so they all stop after the same epoch. The same worker code runs on several machines
when the cluster sets `TF_CONFIG` (Ray Train's TensorFlowTrainer does).

Run as `python -m core.train.multiworker FOLDER INDEX` (by `MultiWorkerJob` only).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.i18n import Message, UserError
from core.train.engine import (
    LEARNING_RATE_RANGE,
    Job,
    TrainSpec,
    class_weights_for,
    make_optimizer,
)
from core.train.loop import (
    epoch_order,
    fit_targets,
    fold_target_scale,
    initial_output_bias,
    loss_factor,
    loss_object,
    metric_sum,
    output_parameters,
    set_output_bias,
    target_scale_for,
)
from core.train.models import ModelSpec, build_model, derive_seed, main_metric, resolved_loss
from core.train.policy import EpochPolicy
from core.train.status import RunStatus

MAX_WORKERS = 16
WORKER_TIMEOUT_S = 3600.0
POLL_S = 0.1  # the job reads the chief's progress and checks the workers this often
_ROOT = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    """`count` TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class MultiWorkerJob(Job):
    """One model trained data-parallel over `workers` local processes (the `Job` contract)."""

    thread_prefix = "workers"

    def __init__(self, *args: Any, workers: int = 2, **kwargs: Any) -> None:
        if isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
            raise UserError("cluster.error.workers", value=workers, max=MAX_WORKERS)
        super().__init__(*args, **kwargs)
        if self.train_spec.dp:
            raise UserError("dp.error.multiworker")
        self.workers = workers
        self._folder: Path | None = None

    def _on_stop(self) -> None:
        folder = self._folder
        if folder is not None:
            (folder / "stop").touch()

    def _work(self) -> None:
        with tempfile.TemporaryDirectory(prefix="modeldesk-workers-") as name:
            work = Path(name)
            arrays = {"X_train": self.X_train, "y_train": self.y_train}
            if self.X_val is not None and self.y_val is not None:
                arrays.update({"X_val": self.X_val, "y_val": self.y_val})
            np.savez(work / "arrays.npz", **arrays)  # type: ignore[arg-type]
            job = {
                "model_spec": self.model_spec.to_dict(),
                "train_spec": self.train_spec.to_dict(),
                "task": self.task,
                "n_classes": self.n_classes,
            }
            (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
            self._folder = work
            if self._stop_event.is_set():
                self._on_stop()
            addresses = [f"127.0.0.1:{port}" for port in free_ports(self.workers)]
            processes = [_start_worker(work, index, addresses) for index in range(self.workers)]
            try:
                failed = self._follow(work, processes)
            finally:
                self._folder = None
                _end_workers(processes)
            if failed is not None:
                index, error = failed
                self._finish(
                    RunStatus.FAILED,
                    Message("cluster.error.worker_failed", {"index": index, "error": error}),
                )
                return
            result = json.loads((work / "result.json").read_text(encoding="utf-8"))
            with np.load(work / "weights.npz") as saved:
                weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        message = result["message"]
        self._finish(
            RunStatus(result["status"]),
            None if message is None else Message(message["key"], message["params"]),
            weights=weights,
            best_epoch=result["best_epoch"],
        )

    def _follow(self, work: Path, processes: list[subprocess.Popen]) -> tuple[int, str] | None:
        """Follow the chief's progress until every worker has exited; the first that failed
        (index, last line of its error output), else None."""
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        read = 0
        while True:
            codes = [p.poll() for p in processes]
            read = self._read_progress(work / "progress.jsonl", read)
            bad = next((i for i, code in enumerate(codes) if code not in (None, 0)), None)
            if bad is not None:
                _, err = processes[bad].communicate()
                lines = [line for line in (err or "").strip().splitlines() if line.strip()]
                return bad, lines[-1] if lines else f"exit {codes[bad]}"
            if all(code == 0 for code in codes):
                self._read_progress(work / "progress.jsonl", read)
                return None
            if time.monotonic() > deadline:
                return 0, "timeout"
            time.sleep(POLL_S)

    def _read_progress(self, path: Path, offset: int) -> int:
        """Record the complete lines the chief appended since `offset`; the new offset."""
        if not path.exists():
            return offset
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            entry = json.loads(line)
            if entry.get("started"):
                self._set_running()
            if "logs" in entry:
                self._record_epoch(entry["logs"], entry["parameters"])
                self._progress(0, entry["batches_seen"])
        return offset + end


def _start_worker(work: Path, index: int, addresses: list[str]) -> subprocess.Popen:
    tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
    env = {
        **os.environ,
        "TF_CONFIG": json.dumps(tf_config),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "core.train.multiworker", str(work), str(index)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _end_workers(processes: list[subprocess.Popen]) -> None:
    """Kill the workers still running (one failing leaves the others waiting for it forever)."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


# --- inside a worker process -------------------------------------------------------------------


def _worker_main(work: Path, index: int) -> None:
    """One worker: the same permutation of the rows each epoch on every worker; each takes its
    share of every global batch; the loss is averaged over the global batch, so the summed
    (all-reduced) gradients are the single-worker run's gradient of that batch."""
    import tensorflow as tf

    job = json.loads((work / "job.json").read_text(encoding="utf-8"))
    model_spec = ModelSpec.from_dict(job["model_spec"])
    spec = TrainSpec.from_dict(job["train_spec"])
    task, n_classes = job["task"], int(job["n_classes"])
    with np.load(work / "arrays.npz") as saved:
        arrays = {key: saved[key] for key in saved.files}
    X, y = arrays["X_train"], arrays["y_train"]
    X_val, y_val = arrays.get("X_val"), arrays.get("y_val")

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    workers = strategy.num_replicas_in_sync
    tf.config.experimental.enable_op_determinism()
    scale = target_scale_for(task, y)

    def targets(values: np.ndarray) -> np.ndarray:
        return fit_targets(values if scale is None else scale.standardise(values), task, n_classes)

    rows = len(X)
    batch = spec.batch_size or rows
    steps = math.ceil(rows / batch)
    class_weights = None
    if spec.class_weights and task != "regression":
        weights = class_weights_for(y, n_classes)
        class_weights = np.asarray([weights[int(c)] for c in y], dtype=np.float32)
    row_weights = np.ones(rows, dtype=np.float32) if class_weights is None else class_weights
    X_all, y_all = tf.constant(X), tf.constant(targets(y))
    w_all = tf.constant(row_weights)
    loss_name = resolved_loss(model_spec, task)
    loss_fn = loss_object(loss_name, per_row=True)
    with strategy.scope():
        model = build_model(model_spec, X.shape[1], task, n_classes, spec.seed)
        set_output_bias(model, initial_output_bias(task, y, n_classes, class_weights))
        optimizer = make_optimizer(spec, steps)
        optimizer.build(model.trainable_variables)

    def replica_step(x: Any, t: Any, w: Any) -> tuple[Any, Any]:
        context = tf.distribute.get_replica_context()
        count = context.all_reduce("sum", tf.cast(tf.shape(x)[0], tf.float32))
        with tf.GradientTape() as tape:
            predictions = model(x, training=True)
            per_row = loss_fn(t, predictions) * w
            loss = tf.reduce_sum(per_row) / count
            if model.losses:
                loss += tf.add_n(model.losses) / workers  # summed over the workers: once
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss, metric_sum(task, t, predictions)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, X.shape[1]], tf.float32),
            tf.TensorSpec([None, y_all.shape[1]], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]
    )
    def train_step(x: Any, t: Any, w: Any) -> tuple[Any, Any]:
        loss, right = strategy.run(replica_step, args=(x, t, w))
        total = tf.distribute.ReduceOp.SUM
        return strategy.reduce(total, loss, axis=None), strategy.reduce(total, right, axis=None)

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
    def agree(flag: Any) -> Any:
        """The workers' flags summed: a Stop the chief read reaches every worker at once."""
        mine = strategy.run(tf.identity, args=(flag,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, mine, axis=None)

    @tf.function
    def validate(x: Any, t: Any) -> tuple[Any, Any]:
        predictions = model(x, training=False)
        loss = tf.reduce_mean(loss_fn(t, predictions))
        if model.losses:
            loss += tf.add_n(model.losses)
        return loss, metric_sum(task, t, predictions) / tf.cast(tf.shape(x)[0], tf.float32)

    chief = index == 0
    progress = work / "progress.jsonl"

    def report(entry: dict[str, Any]) -> None:
        if chief:
            with progress.open("a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")

    def stop_asked() -> bool:
        flag = 1.0 if chief and (work / "stop").exists() else 0.0
        return float(agree(tf.constant(flag, tf.float32))) > 0

    metric = main_metric(task)
    loss_unit = loss_factor(loss_name, scale)
    metric_unit = scale.std if scale is not None and metric == "mae" else 1.0
    has_validation = X_val is not None and y_val is not None and len(X_val) > 0
    val_x = tf.constant(X_val) if has_validation else None
    val_t = tf.constant(targets(y_val)) if has_validation and y_val is not None else None
    policy = EpochPolicy(spec, LEARNING_RATE_RANGE[0])
    best_weights = None
    shuffle_seed = derive_seed(spec.seed, "shuffle")
    started = time.monotonic()
    report({"started": True})
    stopped = stop_asked()
    for epoch in range(1, spec.epochs + 1):
        if stopped:
            break
        order = epoch_order(rows, shuffle_seed, epoch - 1)
        loss_sum = right_sum = 0.0
        for step in range(steps):
            rows_here = order[step * batch : (step + 1) * batch]
            mine = rows_here[index::workers]
            loss, right = train_step(
                tf.gather(X_all, mine), tf.gather(y_all, mine), tf.gather(w_all, mine)
            )
            if not math.isfinite(float(loss)):
                policy.fail(epoch, float(loss))  # every worker sees the same reduced loss
                break
            loss_sum += float(loss) * int(tf.shape(rows_here)[0])
            right_sum += float(right)
        if policy.bad_loss is not None:
            break
        logs = {"loss": loss_sum / rows * loss_unit, metric: right_sum / rows * metric_unit}
        decided = {"loss": loss_sum / rows}
        if val_x is not None:
            val_loss, val_metric = validate(val_x, val_t)
            logs.update(
                {
                    "val_loss": float(val_loss) * loss_unit,
                    f"val_{metric}": float(val_metric) * metric_unit,
                }
            )
            decided["val_loss"] = float(val_loss)
        if not policy.check_epoch(epoch, logs):
            break
        rate = float(optimizer.learning_rate.numpy())
        logs["learning_rate"] = float(f"{rate:.7g}")
        logs["time_s"] = round(time.monotonic() - started, 4)
        verdict = policy.after_epoch(epoch, decided["val_loss" if has_validation else "loss"], rate)
        if verdict.improved:
            best_weights = model.get_weights()
        parameters = output_parameters(model, scale) if model_spec.kind == "linear" else {}
        report({"logs": logs, "parameters": parameters, "batches_seen": epoch * steps})
        if verdict.stop:
            break
        if verdict.learning_rate is not None:
            optimizer.learning_rate.assign(verdict.learning_rate)
        stopped = stop_asked()
    if not chief:
        return
    outcome = policy.outcome(stopped, best_weights is not None)
    if outcome.restore_best and best_weights is not None:
        model.set_weights(best_weights)
    if scale is not None:
        fold_target_scale(model, scale)  # the saved model predicts in the target's units
    np.savez(work / "weights.npz", *model.get_weights())
    message = outcome.message
    result = {
        "status": str(outcome.status),
        "message": None if message is None else {"key": message.key, "params": message.params},
        "best_epoch": outcome.kept_epoch,
    }
    (work / "result.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    _worker_main(Path(sys.argv[1]), int(sys.argv[2]))
