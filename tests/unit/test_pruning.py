"""Magnitude pruning: at 80% sparsity the samples' test metric stays within 0.02 of the dense
model, at least 80% of every Dense kernel's weights are exactly zero in the bundle and in both
TFLite files, and `train --prune` writes a pruned bundle."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace

import numpy as np
import pytest
import quick_training

from core.cli.main import main as cli_main
from core.data.loading import SAMPLES, load_sample
from core.deploy.bundle import read_bundle, write_bundle
from core.deploy.tflite import (
    ModelExport,
    pruned_exports,
    tflite_kernel_sparsity,
    tflite_scores,
)
from core.evaluate.metrics import evaluate_run, headline_metric, metrics_document
from core.i18n import UserError
from core.train.pruning import PruneSpec, kernel_sparsity, prune_run, sparsity_at
from core.train.runner import default_config

SPARSITY = 0.8
# A classifier and a regression (the target scale is unfolded for fine-tuning and folded back).
CASES = ("iris", "diabetes")


@pytest.fixture(scope="module", params=CASES)
def pruned(request):
    name = request.param
    frame = load_sample(name).frame
    prepared, run, config = quick_training.trained(frame, SAMPLES[name].target, epochs=150)
    pruned_run = prune_run(prepared, run, PruneSpec(SPARSITY))
    return prepared, run, config, pruned_run


def test_the_schedule_rises_polynomially_to_the_target():
    values = [float(sparsity_at(step, 100, SPARSITY)) for step in (0, 25, 50, 100, 150)]
    assert values[0] == 0 and values[-2] == pytest.approx(SPARSITY) == values[-1]
    assert values[1] == pytest.approx(SPARSITY * (1 - 0.75**3))
    assert values == sorted(values)


def test_the_test_metric_stays_within_0_02_of_the_dense_model(pruned):
    prepared, run, _config, pruned_run = pruned
    metric = headline_metric(prepared.spec.task)
    dense = evaluate_run(prepared, run)["test"][metric]
    sparse = evaluate_run(prepared, pruned_run)["test"][metric]
    assert sparse >= dense - 0.02, (metric, dense, sparse)
    assert run.model is not pruned_run.model and run.run_id != pruned_run.run_id


def test_every_dense_kernel_is_80_percent_zeros_in_the_bundle(pruned, tmp_path):
    prepared, _run, config, pruned_run = pruned
    metrics = metrics_document(evaluate_run(prepared, pruned_run))
    path = write_bundle(tmp_path / "bundle.zip", prepared, pruned_run, config, metrics)
    shares = kernel_sparsity(read_bundle(path).model)
    assert len(shares) == 3 and min(shares.values()) >= SPARSITY, shares


def test_every_dense_kernel_is_80_percent_zeros_in_both_tflite_files(pruned):
    prepared, run, _config, _pruned_run = pruned
    rows = pruned_exports(prepared, run, (SPARSITY,))
    assert [row.format for row in rows] == ["tflite_float", "tflite_dynamic"]
    for row in rows:
        shares = tflite_kernel_sparsity(row.data)
        assert len(shares) == 3 and min(shares) >= SPARSITY, (row.format, shares)
        assert row.sparsity == SPARSITY and "pruned80" in row.file_name
        scores = tflite_scores(row.data, prepared.X_test)
        assert np.isfinite(scores).all() and row.value is not None
    dense = ModelExport("tflite_float", rows[0].data, rows[0].metric, None)
    assert rows[0].gzip_bytes < len(rows[0].data)
    assert dense.gzip_bytes == rows[0].gzip_bytes


def test_a_bad_sparsity_is_a_user_error():
    for value in (0, 1.5, -0.1, True, "0.8"):
        with pytest.raises(UserError):
            PruneSpec(value)  # type: ignore[arg-type]


def test_cli_train_prune_writes_a_pruned_bundle(tmp_path):
    frame = load_sample("iris").frame
    data = tmp_path / "iris.csv"
    frame.to_csv(data, index=False)
    config = default_config(frame, "species")
    config = replace(config, train=replace(config.train, epochs=5, early_stopping=False))
    (tmp_path / "config.json").write_text(config.to_json())
    out = tmp_path / "out"
    args = ["train", str(data), "--target", "species", "--out", str(out),
            "--config", str(tmp_path / "config.json"), "--prune", "0.8"]  # fmt: skip
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli_main(args) == 0
    shares = kernel_sparsity(read_bundle(out / "bundle.zip").model)
    assert min(shares.values()) >= SPARSITY
    assert "accuracy" in json.loads((out / "metrics.json").read_text())
    stderr = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
        assert cli_main([*args[:-1], "1.5"]) == 2
    assert len(stderr.getvalue().strip().splitlines()) == 1
