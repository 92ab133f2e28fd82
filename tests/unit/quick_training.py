"""Shared by the unit tests: a table trained briefly for real, and a fresh Python interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from core.prep.pipeline import prepare
from core.train.models import ModelSpec
from core.train.runner import RunConfig, default_config, start_training


def trained(
    frame: pd.DataFrame,
    target: str,
    *,
    epochs: int,
    config: RunConfig | None = None,
    model: ModelSpec | None = None,
    name: str = "",
    timeout: float = 120,
    **train: object,
):
    """(prepared, run, config): `frame` prepared with the default config for `target` (or
    `config`), its model replaced by `model` if given, trained for `epochs` epochs without
    early stopping (more TrainSpec fields in `train`), to the end."""
    config = config or default_config(frame, target)
    config = replace(
        config,
        model=model or config.model,
        train=replace(config.train, epochs=epochs, early_stopping=False, **train),
    )
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, config.train, name=name)
    assert job.join(timeout=timeout)
    run = job.result()
    assert run.status == "finished", run.message
    return prepared, run, config


def fresh_python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """This interpreter, isolated (-I: no PYTHONPATH, no user site, no script folder on
    sys.path), in a folder away from the repository."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [sys.executable, "-I", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
