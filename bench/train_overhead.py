"""Benchmark: what a TrainingJob (thread, live history, Stop checks) costs over a plain model.fit.

Run: .venv/bin/python bench/train_overhead.py [--rows N] [--epochs E]

All sides train the same model (core.train.models.build_model, same seed) on the same synthetic data
(100,000 x 20 by default) for the same epochs with the same validation split, alternating,
3 times each: a bare model.fit on numpy arrays (what one would write by hand), a bare model.fit
on the job's own tf.data pipeline (isolates the cost of the thread, live history and Stop
checks), and a TrainingJob. Determinism is switched on first for all, as the app does.
Target: median(TrainingJob) / median(model.fit) <= 1.05 against both baselines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.05
REPEATS = 3


def main() -> None:
    """Time both trainers alternately and print each timing, the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from core.train.engine import TrainSpec, enable_determinism
    from core.train.models import ModelSpec

    X, y = make_data(args.rows, args.features)
    split = int(0.9 * len(X))
    data = (X[:split], y[:split], X[split:], y[split:])
    model_spec = ModelSpec(hidden_layers=(64, 32))
    train_spec = TrainSpec(
        optimizer="adam", learning_rate=1e-3, batch_size=args.batch_size, epochs=args.epochs, seed=0
    )
    enable_determinism()
    # Under op determinism Keras' own numpy shuffle needs a global seed (TrainingJob does not).
    import tensorflow as tf

    tf.random.set_seed(0)
    print(
        f"{args.rows:,} rows x {args.features} features, MLP {model_spec.hidden_layers}, "
        f"batch {args.batch_size}, {args.epochs} epochs, {REPEATS} runs each; "
        f"load average at start {load()}"
    )
    plain_fit(model_spec, train_spec, data, epochs=1)  # warm-up: TensorFlow's one-off start costs
    timings: dict[str, list[float]] = {"numpy": [], "pipeline": [], "job": []}
    for repeat in range(1, REPEATS + 1):
        timings["numpy"].append(plain_fit(model_spec, train_spec, data, epochs=args.epochs))
        timings["pipeline"].append(pipeline_fit(model_spec, train_spec, data))
        timings["job"].append(job_fit(model_spec, train_spec, data))
        print(
            f"run {repeat}: model.fit(numpy) {timings['numpy'][-1]:.2f} s   "
            f"model.fit(job's tf.data) {timings['pipeline'][-1]:.2f} s   "
            f"TrainingJob {timings['job'][-1]:.2f} s"
        )
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for baseline in ("numpy", "pipeline"):
        ratio = medians["job"] / medians[baseline]
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(
            f"median TrainingJob {medians['job']:.2f} s / model.fit({baseline}) "
            f"{medians[baseline]:.2f} s = {ratio:.3f} (target <= {TARGET}) {verdict}"
        )
    print(f"load average at end {load()}")


def load() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def make_data(rows: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    """A binary task with a learnable, slightly non-linear boundary."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    weights = rng.normal(size=features)
    score = X @ weights + 0.5 * X[:, 0] * X[:, 1]
    return X, (score > 0).astype(np.int64)


def plain_fit(model_spec: object, train_spec: object, data: tuple, epochs: int) -> float:
    """Seconds to build, compile and fit with a bare model.fit on numpy arrays."""
    from core.train.engine import make_optimizer
    from core.train.models import build_model

    X_train, y_train, X_val, y_val = data
    started = time.perf_counter()
    model = build_model(model_spec, X_train.shape[1], "binary", 2, seed=train_spec.seed)
    model.compile(
        optimizer=make_optimizer(train_spec), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(
        X_train,
        y_train.astype(np.float32),
        batch_size=train_spec.batch_size,
        epochs=epochs,
        validation_data=(X_val, y_val.astype(np.float32)),
        shuffle=True,
        verbose=0,
    )
    return time.perf_counter() - started


def pipeline_fit(model_spec: object, train_spec: object, data: tuple) -> float:
    """Seconds to build, compile and fit bare on the same tf.data pipeline a job uses."""
    from core.train.engine import make_optimizer, training_dataset
    from core.train.models import build_model

    X_train, y_train, X_val, y_val = data
    started = time.perf_counter()
    model = build_model(model_spec, X_train.shape[1], "binary", 2, seed=train_spec.seed)
    model.compile(
        optimizer=make_optimizer(train_spec), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(
        training_dataset(X_train, y_train, "binary", 2, train_spec),
        epochs=train_spec.epochs,
        steps_per_epoch=-(-len(X_train) // train_spec.batch_size),
        validation_data=training_dataset(X_val, y_val, "binary", 2, train_spec, shuffle=False),
        shuffle=False,  # the pipeline shuffles itself
        verbose=0,
    )
    return time.perf_counter() - started


def job_fit(model_spec: object, train_spec: object, data: tuple) -> float:
    """Seconds from TrainingJob.start() to the end of join(), with live history and Stop checks."""
    from core.train.engine import TrainingJob

    job = TrainingJob(model_spec, train_spec, "binary", 2, *data)
    started = time.perf_counter()
    job.start()
    job.join()
    elapsed = time.perf_counter() - started
    if job.status != "finished":
        raise SystemExit(f"TrainingJob ended {job.status}: {job.snapshot().message}")
    return elapsed


if __name__ == "__main__":
    main()
