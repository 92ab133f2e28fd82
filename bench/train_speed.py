"""Benchmark: epochs per second of a TrainingJob (compiled engine) against a plain model.fit.

Run: .venv/bin/python bench/train_speed.py [--epochs E] [--sizes 500,20000,100000]

Same model (core.train.models.build_model, the default 32-16 MLP, same seed), same data (a
binary task, 20 features, 90/10 train/validation), same optimizer (Adam 1e-3), batch 32 and the
same number of epochs (200 on the 500-row sample: the CLI's default budget) and the same
starting weights (the output bias at the training prior, as the job sets it) on each side;
determinism is switched on first for both, as the app does.
model.fit gets numpy arrays and validation_data, as one would write by hand. Both sides' times
include building and compiling (TrainingJob: from start() to join()); a warm-up run of each
goes first so TensorFlow's one-off start costs count for neither.
Targets: ratio >= 10 on 500 rows, >= 3 on 20,000, >= 1.0 on 100,000; final validation
losses within 2% of model.fit's.
Seeds: on tables of at most 1,000 rows (50 validation rows on the 500-row sample, where one fit's
final loss moves a few percent with the seed alone) both sides train once per seed 0..S-1
(--seeds, default 5; the same seeds on both sides: initial weights, dropout and the shuffle) and
the table compares the mean final validation losses; the times are the means too. Larger tables
train once, seed 0. The "spread" column is the standard deviation of model.fit's final
validation loss over those seeds, relative to its mean: how far one fit drifts from another
anyway (blank with one seed).
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
TARGETS = {500: 10.0, 20_000: 3.0, 100_000: 1.0}
LOSS_TOLERANCE = 0.02
SMALL_ROWS = 1000  # tables this small train once per seed (--seeds)


def main() -> int:
    """Time both trainers per size and print epochs/s, the ratio and the final validation losses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=0, help="0: 200, 10 and 3 by size")
    parser.add_argument("--sizes", default="500,20000,100000")
    parser.add_argument("--seeds", type=int, default=5, help="seeds on tables <= 1,000 rows")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf

    from core.train.engine import TrainSpec, enable_determinism
    from core.train.runner import default_model_spec

    enable_determinism()
    model_spec = default_model_spec()
    print(
        f"MLP {model_spec.hidden_layers}, L2 {model_spec.l2}, dropout {model_spec.dropout}, "
        f"Adam 1e-3, batch 32, 20 features; load average at start {load()}"
    )
    header = (
        f"{'rows':>8} {'epochs':>6} {'seeds':>5} {'fit ep/s':>9} {'job ep/s':>9} {'ratio':>7} "
        f"{'fit val_loss':>12} {'job val_loss':>12} {'diff':>7} {'spread':>7}  verdict"
    )
    print(header)
    missed = []
    sizes = [int(size) for size in args.sizes.split(",")]
    for rows in sizes:
        epochs = args.epochs or (200 if rows <= 1000 else 10 if rows <= 20_000 else 3)
        seeds = range(args.seeds if rows <= SMALL_ROWS else 1)
        data = make_data(rows)
        if rows == sizes[0]:  # warm-up: TensorFlow's one-off start costs count for neither
            warm = TrainSpec(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=1)
            tf.random.set_seed(0)  # Keras' own shuffle under op determinism needs one
            fit_run(model_spec, warm, data, epochs=1)
            job_run(model_spec, warm, data)
        fits, jobs = [], []
        for seed in seeds:
            spec = TrainSpec(
                optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=epochs, seed=seed
            )
            tf.random.set_seed(seed)  # Keras' own shuffle under op determinism needs one
            fits.append(fit_run(model_spec, spec, data, epochs))
            jobs.append(job_run(model_spec, spec, data))
        fit_seconds = statistics.mean(seconds for seconds, _ in fits)
        job_seconds = statistics.mean(seconds for seconds, _ in jobs)
        fit_loss = statistics.mean(loss for _, loss in fits)
        job_loss = statistics.mean(loss for _, loss in jobs)
        ratio = fit_seconds / job_seconds
        diff = abs(job_loss - fit_loss) / fit_loss
        spread = (
            f"{statistics.stdev(loss for _, loss in fits) / fit_loss:>6.1%}"
            if len(fits) > 1
            else f"{'':>6}"
        )
        target = TARGETS.get(rows, 1.0)
        ok = ratio >= target and diff <= LOSS_TOLERANCE
        if not ok:
            missed.append(rows)
        print(
            f"{rows:>8,} {epochs:>6} {len(fits):>5} {epochs / fit_seconds:>9.2f} "
            f"{epochs / job_seconds:>9.2f} {ratio:>6.1f}x {fit_loss:>12.5f} {job_loss:>12.5f} "
            f"{diff:>6.1%} {spread}  {'ok' if ok else 'MISS'} (target >= {target:g}x; "
            f"diff <= {LOSS_TOLERANCE:.0%})",
            flush=True,
        )
    print(f"load average at end {load()}")
    print("targets met" if not missed else f"targets missed on: {missed}")
    return 1 if missed else 0


def load() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def make_data(rows: int, features: int = 20) -> tuple[np.ndarray, ...]:
    """A binary task with a learnable, slightly non-linear boundary, split 90/10."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    score = X @ rng.normal(size=features) + 0.5 * X[:, 0] * X[:, 1]
    y = (score + rng.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    split = int(0.9 * rows)
    return X[:split], y[:split], X[split:], y[split:]


def fit_run(model_spec: object, spec: object, data: tuple, epochs: int) -> tuple[float, float]:
    """Seconds and final val_loss of build + compile + a plain model.fit on numpy arrays."""
    from core.train.engine import make_optimizer
    from core.train.loop import initial_output_bias, set_output_bias
    from core.train.models import build_model

    X_train, y_train, X_val, y_val = data
    started = time.perf_counter()
    model = build_model(model_spec, X_train.shape[1], "binary", 2, seed=spec.seed)
    # The same starting point as the job: output bias at the training prior (core.train.loop).
    set_output_bias(model, initial_output_bias("binary", y_train, 2))
    model.compile(optimizer=make_optimizer(spec), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        X_train,
        y_train.astype(np.float32),
        batch_size=spec.batch_size,
        epochs=epochs,
        validation_data=(X_val, y_val.astype(np.float32)),
        shuffle=True,
        verbose=0,
    )
    return time.perf_counter() - started, float(history.history["val_loss"][-1])


def job_run(model_spec: object, spec: object, data: tuple) -> tuple[float, float]:
    """Seconds from TrainingJob.start() to join() and its final val_loss."""
    from core.train.engine import TrainingJob

    job = TrainingJob(model_spec, spec, "binary", 2, *data)
    started = time.perf_counter()
    job.start()
    job.join()
    seconds = time.perf_counter() - started
    run = job.result()
    if run.status != "finished":
        raise SystemExit(f"TrainingJob ended {run.status}: {run.message}")
    return seconds, float(run.history["val_loss"][-1])


if __name__ == "__main__":
    sys.exit(main())
