"""Ray is optional: with MODELDESK_RAY_ADDRESS unset, a training job never imports it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_the_setting_ray_is_never_imported():
    script = """
import os, sys
os.environ.pop("MODELDESK_RAY_ADDRESS", None)
import numpy as np
from core.data.loading import load_sample
from core.prep.pipeline import prepare
from core.train.runner import default_config, start_training
from core.train.engine import TrainSpec
import core.cli.main
dataset = load_sample("iris")
config = default_config(dataset.frame, dataset.target_suggestion)
prepared = prepare(dataset.frame, config.preprocess)
job = start_training(prepared, config.model, TrainSpec(epochs=2))
assert job.join(120) and job.result().status == "finished", job.result().message
loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))
print("RAY:", loaded[:3])
sys.exit(1 if loaded or type(job).__name__ != "TrainingJob" else 0)
"""
    env = {k: v for k, v in os.environ.items() if k != "MODELDESK_RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
