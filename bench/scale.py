"""The same training job in a thread, as a Ray task on an embedded local cluster, and across 2
workers (MultiWorkerMirroredStrategy on 127.0.0.1): wall time, overhead over the thread, final
validation loss.

    .venv/bin/python bench/scale.py            # 20,000 x 20 and 100,000 x 20, plus the overhead
    .venv/bin/python bench/scale.py --quick    # smaller tables, for a smoke run

First the overhead the issue bounds: the default model for 200 epochs on a built-in sample
(breast_cancer, no early stopping), thread vs Ray task, on a worker that has imported
TensorFlow (the cluster warms its workers when this process connects) and, for the record, the
first job on a cold worker. Then the tables: the default model, batches of 256, a fixed number
of epochs, all three routes with the same seed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from core.data.loading import load_sample
from core.prep.pipeline import prepare
from core.train import cluster
from core.train.engine import TrainingJob, TrainSpec
from core.train.multiworker import MultiWorkerJob
from core.train.runner import default_config, default_model_spec
from core.train.status import RunStatus


def table(rows: int, columns: int = 20, seed: int = 0):
    """A binary task with a nonlinear boundary: (X_train, y_train, X_val, y_val)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, columns)).astype(np.float32)
    logits = X[:, :5] @ rng.normal(size=5) + np.sin(X[:, 5] * 2) + X[:, 6] * X[:, 7]
    y = (logits + rng.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    cut = int(rows * 0.8)
    return X[:cut], y[:cut], X[cut:], y[cut:]


def timed(make, route: str, arrays, spec: TrainSpec, task: str = "binary", n_classes: int = 2):
    model = default_model_spec()
    started = time.monotonic()
    options = {"workers": 2} if route == "workers" else {}
    job = make(model, spec, task, n_classes, *arrays, **options).start()
    job.join()
    run = job.result()
    seconds = time.monotonic() - started
    assert run.status == RunStatus.FINISHED, run.message
    return seconds, run.history["val_loss"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average at start: {load()}")
    connect_started = time.monotonic()
    cluster.start_local(num_cpus=2)
    print(f"embedded Ray cluster up in {time.monotonic() - connect_started:.1f} s")

    frame = load_sample("breast_cancer").frame
    config = default_config(frame, "diagnosis")
    prepared = prepare(frame, config.preprocess)
    sample = (prepared.X_train, prepared.y_train, prepared.X_val, prepared.y_val)
    spec = replace(config.train, epochs=200, early_stopping=False)
    cold, _ = timed(cluster.ClusterTrainingJob, "ray", sample, spec)
    # Alternating pairs, medians: the machine's other load shifts single figures by seconds.
    pairs = [
        (
            timed(TrainingJob, "thread", sample, spec),
            timed(cluster.ClusterTrainingJob, "ray", sample, spec),
        )
        for _ in range(3)
    ]
    thread, thread_loss = sorted(p[0] for p in pairs)[1]
    ray_s, ray_loss = sorted(p[1] for p in pairs)[1]
    print("\n200 epochs, default model, breast_cancer sample (397 training rows), median of 3")
    print(f"  thread            {thread:7.2f} s   val_loss {thread_loss:.5f}")
    print(
        f"  Ray task (warm)   {ray_s:7.2f} s   val_loss {ray_loss:.5f}   "
        f"overhead {ray_s - thread:+.2f} s"
    )
    print(f"  Ray task (cold)   {cold:7.2f} s   (first job, may include TensorFlow's import)")

    sizes = (2_000, 10_000) if args.quick else (20_000, 100_000)
    epochs = 3
    spec = TrainSpec(batch_size=256, epochs=epochs, seed=0)
    print(f"\nDefault model, batches of 256, {epochs} epochs")
    print(f"  {'rows x cols':>14}  {'route':<10} {'wall s':>8} {'overhead s':>11} {'val_loss':>9}")
    for rows in sizes:
        arrays = table(rows)
        base = None
        for route, make in (
            ("thread", TrainingJob),
            ("Ray task", cluster.ClusterTrainingJob),
            ("workers", MultiWorkerJob),
        ):
            seconds, loss = timed(make, route, arrays, spec)
            base = seconds if base is None else base
            extra = "" if route == "thread" else f"{seconds - base:+.2f}"
            print(
                f"  {rows:>8,} x 20  {route:<10} {seconds:8.2f} {extra:>11} {loss:9.5f}",
                flush=True,
            )
    cluster.disconnect()
    print(f"load average at end: {load()}")


def load() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
