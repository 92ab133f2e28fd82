"""One job across N workers: data-parallel training with tf.distribute.MultiWorkerMirroredStrategy.

`train_across_workers(model_spec, train_spec, task, ..., workers)` starts N Python processes on
this machine (127.0.0.1, free ports), each with its own `TF_CONFIG` naming the others, as
TensorFlow's multi-worker guide describes. Each builds the same model under the strategy's
scope and trains on its share of every global batch (the global batch is the spec's batch size,
the loss averaged over it, so each step is the single-worker step); gradients are all-reduced
each step, so all workers hold the same weights. Keras 3's `fit` does not take this strategy,
so the loop is written out (seeded per-epoch order, early stopping, plateau). Worker 0, the
chief, writes the history and the weights, and this process returns them as an ordinary `Run`:
the CLI writes the same outputs as a single-worker run. The same worker code runs on several
machines when the cluster sets `TF_CONFIG` (Ray Train's TensorFlowTrainer does).

Settings a single-worker job has apply here too: optimizer, learning rate and schedule
(cosine, plateau), early stopping with the best weights restored, class weights. A regression
target is standardised on the training rows and the scale folded into the output layer at the
end, so the model predicts in the target's units; losses are reported in those units.

Run as `python -m core.train.multiworker FOLDER INDEX` (by `train_across_workers` only).
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
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.i18n import Message, UserError
from core.train.engine import Run, TrainingJob, TrainSpec, class_weights_for, make_optimizer
from core.train.models import ModelSpec, build_model, main_metric, resolved_loss

MAX_WORKERS = 16
WORKER_TIMEOUT_S = 3600.0
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


def train_across_workers(
    model_spec: ModelSpec,
    train_spec: TrainSpec,
    task: str,
    n_classes: int,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    workers: int,
    *,
    name: str = "",
) -> Run:
    """Train one model over `workers` local processes; the chief's history and weights."""
    if not 1 <= workers <= MAX_WORKERS:
        raise UserError("cluster.error.workers", value=workers, max=MAX_WORKERS)
    if train_spec.dp:
        raise UserError("dp.error.multiworker")
    # The thread job's checks and naming (never started).
    checked = TrainingJob(
        model_spec, train_spec, task, n_classes, X_train, y_train, X_val, y_val, name=name
    )
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="modeldesk-workers-") as folder:
        work = Path(folder)
        arrays = {"X_train": checked.X_train, "y_train": checked.y_train}
        if checked.X_val is not None and checked.y_val is not None:
            arrays.update({"X_val": checked.X_val, "y_val": checked.y_val})
        np.savez(work / "arrays.npz", **arrays)  # type: ignore[arg-type]
        (work / "job.json").write_text(
            json.dumps(
                {
                    "model_spec": model_spec.to_dict(),
                    "train_spec": train_spec.to_dict(),
                    "task": task,
                    "n_classes": n_classes,
                }
            ),
            encoding="utf-8",
        )
        addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
        processes = [_start_worker(work, index, addresses) for index in range(workers)]
        failed = _wait(processes)
        if failed is not None:
            raise UserError("cluster.error.worker_failed", index=failed[0], error=failed[1])
        result = json.loads((work / "result.json").read_text(encoding="utf-8"))
        with np.load(work / "weights.npz") as saved:
            weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    early = result.get("early_stopped")
    message = (
        None
        if early is None
        else Message(
            "train.message.early_stopped", {"epoch": early, "patience": train_spec.patience}
        )
    )
    return Run(
        run_id=run_id,
        name=checked.name,
        model_spec=model_spec,
        train_spec=train_spec,
        task=task,
        n_features=int(checked.X_train.shape[1]),
        n_classes=n_classes,
        history=result["history"],
        status="finished",
        duration_s=round(time.monotonic() - started, 3),
        created_at=created,
        weights=weights,
        message=message,
        best_epoch=result.get("best_epoch"),
    )


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


def _wait(processes: list[subprocess.Popen]) -> tuple[int, str] | None:
    """Wait for every worker; the first one that failed (index, last line), else None.
    One failing worker stops the others (they would wait for it forever)."""
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            codes = [p.poll() for p in processes]
            bad = next((i for i, code in enumerate(codes) if code not in (None, 0)), None)
            if bad is not None:
                _, err = processes[bad].communicate()
                lines = [line for line in (err or "").strip().splitlines() if line.strip()]
                return bad, lines[-1] if lines else f"exit {codes[bad]}"
            if all(code == 0 for code in codes):
                return None
            time.sleep(0.1)
        return 0, "timeout"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()


# --- inside a worker process -------------------------------------------------------------------


_LOSS_CLASSES = {
    "mse": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "huber": "Huber",
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
}


def _worker_main(work: Path, index: int) -> None:
    """One worker: the same permutation of the rows each epoch on every worker; each takes its
    share of every global batch; the loss is averaged over the global batch, so the summed
    (all-reduced) gradients are the single-worker run's gradient of that batch."""
    import keras
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
    mean, std = 0.0, 1.0
    if task == "regression":
        mean = float(np.mean(y))
        std = float(np.std(y)) or 1.0

    def targets(values: np.ndarray) -> np.ndarray:
        if task == "multiclass":
            return np.eye(n_classes, dtype=np.float32)[values.astype(np.int64)]
        if task == "regression":
            return ((values - mean) / std).astype(np.float32).reshape(-1, 1)
        return values.astype(np.float32).reshape(-1, 1)

    rows = len(X)
    batch = spec.batch_size or rows
    steps = math.ceil(rows / batch)
    row_weights = np.ones(rows, dtype=np.float32)
    if spec.class_weights and task != "regression":
        weights = class_weights_for(y, n_classes)
        row_weights = np.asarray([weights[int(c)] for c in y], dtype=np.float32)
    X_all, y_all = tf.constant(X), tf.constant(targets(y))
    w_all = tf.constant(row_weights)
    loss_name = resolved_loss(model_spec, task)
    loss_fn = getattr(keras.losses, _LOSS_CLASSES[loss_name])(reduction=None)
    with strategy.scope():
        model = build_model(model_spec, X.shape[1], task, n_classes, spec.seed)
        optimizer = make_optimizer(spec, steps)
        optimizer.build(model.trainable_variables)

    def hits(truth: Any, predictions: Any) -> Any:
        if task == "regression":
            return tf.reduce_sum(tf.abs(predictions - truth))
        if task == "binary":
            right = tf.equal(tf.cast(predictions > 0.5, tf.float32), truth)
        else:
            right = tf.equal(tf.argmax(predictions, axis=-1), tf.argmax(truth, axis=-1))
        return tf.reduce_sum(tf.cast(right, tf.float32))

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
        return loss, hits(t, predictions)

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

    @tf.function
    def validate(x: Any, t: Any) -> tuple[Any, Any]:
        predictions = model(x, training=False)
        loss = tf.reduce_mean(loss_fn(t, predictions))
        if model.losses:
            loss += tf.add_n(model.losses)
        return loss, hits(t, predictions) / tf.cast(tf.shape(x)[0], tf.float32)

    metric = main_metric(task)
    monitor = "val_loss" if X_val is not None and len(X_val) else "loss"
    val_x = None if monitor == "loss" else tf.constant(X_val)
    val_t = None if y_val is None or monitor == "loss" else tf.constant(targets(y_val))
    history: dict[str, list[float]] = {}
    best, best_epoch, best_weights, wait, stopped = math.inf, None, None, 0, None
    plateau_best, plateau_wait = math.inf, 0
    started = time.monotonic()
    for epoch in range(spec.epochs):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(rows, dtype=tf.int32), seed=tf.constant([spec.seed, epoch], tf.int64)
        )
        loss_sum = right_sum = 0.0
        for step in range(steps):
            rows_here = order[step * batch : (step + 1) * batch]
            mine = rows_here[index::workers]
            loss, right = train_step(
                tf.gather(X_all, mine), tf.gather(y_all, mine), tf.gather(w_all, mine)
            )
            loss_sum += float(loss) * int(tf.shape(rows_here)[0])
            right_sum += float(right)
        logs = {"loss": loss_sum / rows, metric: right_sum / rows}
        if val_x is not None:
            val_loss, val_metric = validate(val_x, val_t)
            logs.update({"val_loss": float(val_loss), f"val_{metric}": float(val_metric)})
        if not all(math.isfinite(v) for v in logs.values()):
            raise FloatingPointError(f"loss is not finite at epoch {epoch + 1}")
        logs["learning_rate"] = float(f"{float(optimizer.learning_rate.numpy()):.7g}")
        logs["time_s"] = round(time.monotonic() - started, 4)
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        current = logs[monitor]
        if current < best:
            best, best_epoch, best_weights, wait = current, epoch + 1, model.get_weights(), 0
        else:
            wait += 1
        if spec.early_stopping and wait >= spec.patience and epoch > 0:
            stopped = epoch + 1
            break
        if spec.schedule == "plateau":
            if current < plateau_best - 1e-4:
                plateau_best, plateau_wait = current, 0
            else:
                plateau_wait += 1
                rate = float(optimizer.learning_rate.numpy())
                if plateau_wait >= max(1, spec.patience // 2) and rate > 1e-7:
                    optimizer.learning_rate.assign(max(rate * 0.5, 1e-7))
                    plateau_wait = 0
    if index != 0:
        return
    kept = len(history.get("loss", [])) or None
    if spec.restore_best and best_weights is not None:
        model.set_weights(best_weights)
        kept = best_epoch
    if task == "regression":
        factor = {"mse": std**2, "mae": std}.get(loss_name, 1.0)
        for key in ("loss", "val_loss"):
            if key in history:
                history[key] = [v * factor for v in history[key]]
        for key in (metric, f"val_{metric}"):
            if key in history and metric == "mae":
                history[key] = [v * std for v in history[key]]
        layer = model.get_layer("output")
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
        layer.set_weights(
            [(kernel * std).astype(np.float32), (bias * std + mean).astype(np.float32)]
        )
    np.savez(work / "weights.npz", *model.get_weights())
    (work / "result.json").write_text(
        json.dumps({"history": history, "best_epoch": kept, "early_stopped": stopped}),
        encoding="utf-8",
    )


if __name__ == "__main__":
    _worker_main(Path(sys.argv[1]), int(sys.argv[2]))
