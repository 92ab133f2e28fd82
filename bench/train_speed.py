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
Targets (issue 10): ratio >= 10 on 500 rows, >= 3 on 20,000, >= 1.0 on 100,000; final validation
losses within 2% of model.fit's, or within the noise: a second model.fit with another shuffle
seed (tf.random.set_seed(1)) shows how far two fits of the same model drift apart anyway
("noise" column; 50 validation rows on the 500-row sample make it large).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {500: 10.0, 20_000: 3.0, 100_000: 1.0}
LOSS_TOLERANCE = 0.02


def main() -> int:
    """Time both trainers per size and print epochs/s, the ratio and the final validation losses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=0, help="0: 200, 10 and 3 by size")
    parser.add_argument("--sizes", default="500,20000,100000")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf

    from core.train.engine import TrainSpec, enable_determinism
    from core.train.runner import default_model_spec

    enable_determinism()
    tf.random.set_seed(0)  # Keras' own shuffle under op determinism needs a global seed
    model_spec = default_model_spec()
    print(f"MLP {model_spec.hidden_layers}, L2 {model_spec.l2}, Adam 1e-3, batch 32, 20 features")
    header = (
        f"{'rows':>8} {'epochs':>6} {'fit ep/s':>9} {'job ep/s':>9} {'ratio':>7} "
        f"{'fit val_loss':>12} {'job val_loss':>12} {'diff':>7} {'noise':>7}  verdict"
    )
    print(header)
    missed = []
    for rows in (int(size) for size in args.sizes.split(",")):
        epochs = args.epochs or (200 if rows <= 1000 else 10 if rows <= 20_000 else 3)
        spec = TrainSpec(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=epochs)
        data = make_data(rows)
        if rows == int(args.sizes.split(",")[0]):
            fit_run(model_spec, spec, data, epochs=1)
            job_run(model_spec, TrainSpec(**{**spec.to_dict(), "epochs": 1}), data)
        fit_seconds, fit_loss = fit_run(model_spec, spec, data, epochs)
        job_seconds, job_loss = job_run(model_spec, spec, data)
        tf.random.set_seed(1)
        _, other_fit_loss = fit_run(model_spec, spec, data, epochs)
        tf.random.set_seed(0)
        ratio = fit_seconds / job_seconds
        diff = abs(job_loss - fit_loss) / fit_loss
        noise = abs(other_fit_loss - fit_loss) / fit_loss
        target = TARGETS.get(rows, 1.0)
        ok = ratio >= target and diff <= max(LOSS_TOLERANCE, noise)
        if not ok:
            missed.append(rows)
        print(
            f"{rows:>8,} {epochs:>6} {epochs / fit_seconds:>9.2f} {epochs / job_seconds:>9.2f} "
            f"{ratio:>6.1f}x {fit_loss:>12.5f} {job_loss:>12.5f} {diff:>6.1%} {noise:>6.1%}  "
            f"{'ok' if ok else 'MISS'} (target >= {target:g}x; "
            f"diff <= {LOSS_TOLERANCE:.0%} or noise)"
        )
    print("targets met" if not missed else f"targets missed on: {missed}")
    return 1 if missed else 0


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
