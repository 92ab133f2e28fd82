"""Does training use the GPU, and how much faster is it? The same TrainingJob on the CPU and on
the GPU, each in a fresh process:

    .venv/bin/python bench/gpu_check.py

1. the default model, 200 epochs, on the breast_cancer sample (no early stopping);
2. the default model on a 100,000 x 100 table, batches of 1,024, 3 epochs.

The CPU run hides the GPUs from TensorFlow (CUDA_VISIBLE_DEVICES=-1); the GPU run lets
TensorFlow place the job on the first GPU it sees, as a job on the server does. Where no GPU is
visible (a CPU-only machine, or the tensorflow-cpu wheel: install `tensorflow[and-cuda]==2.21.0`
for NVIDIA GPUs), it says "no GPU" and prints the CPU times only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from dataclasses import replace
from core.data.loading import load_sample
from core.prep.pipeline import prepare
from core.train.devices import training_device
from core.train.engine import TrainingJob, TrainSpec
from core.train.runner import default_config, default_model_spec

device = training_device()  # also turns on GPU memory growth before first use

def timed(spec, task, n_classes, arrays):
    started = time.monotonic()
    job = TrainingJob(default_model_spec(), spec, task, n_classes, *arrays).start()
    job.join()
    run = job.result()
    assert run.status == "finished", run.message
    return round(time.monotonic() - started, 2), run.history["val_loss"][-1]

frame = load_sample("breast_cancer").frame
config = default_config(frame, "diagnosis")
prepared = prepare(frame, config.preprocess)
sample = (prepared.X_train, prepared.y_train, prepared.X_val, prepared.y_val)
small = timed(replace(config.train, epochs=200, early_stopping=False), "binary", 2, sample)
rng = np.random.default_rng(0)
X = rng.normal(size=(100_000, 100)).astype(np.float32)
y = (X[:, :10].sum(axis=1) + rng.normal(size=len(X)) > 0).astype(np.int64)
big = timed(TrainSpec(batch_size=1024, epochs=3, seed=0), "binary", 2,
            (X[:80_000], y[:80_000], X[80_000:], y[80_000:]))
print("RESULT " + json.dumps({"device": device.text("en"), "small": small, "big": big}))
"""


def child(hide_gpus: bool) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT)], env=env, capture_output=True, text=True
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"the {'CPU' if hide_gpus else 'GPU'} run failed:\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def visible_gpus() -> list[str]:
    """The GPUs TensorFlow sees (in a child, so this process never initialises CUDA)."""
    code = (
        "import tensorflow as tf, json; "
        "print(json.dumps([d.name for d in tf.config.list_physical_devices('GPU')]))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else []


def main() -> None:
    started = time.monotonic()
    gpus = visible_gpus()
    print(f"GPUs TensorFlow sees: {', '.join(gpus) if gpus else 'none'}")
    results = {"CPU": child(hide_gpus=True)}
    if gpus:
        results["GPU"] = child(hide_gpus=False)
    else:
        print("no GPU: TensorFlow sees none here, so only the CPU times are measured")
    print(f"\n{'run':<6} {'device':<34} {'200 epochs sample':>18} {'100,000 x 100':>14}")
    for name, result in results.items():
        small_s, big_s = result["small"][0], result["big"][0]
        print(f"{name:<6} {result['device']:<34} {small_s:>16.2f} s {big_s:>12.2f} s")
    if "GPU" in results:
        for key, label in (("small", "sample"), ("big", "100,000 x 100")):
            ratio = results["CPU"][key][0] / results["GPU"][key][0]
            print(f"GPU speed-up, {label}: {ratio:.1f}x")
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
