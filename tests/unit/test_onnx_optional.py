"""ONNX stays optional: serving and reading a bundle never import onnx, tf2onnx or onnxruntime
(checked in a fresh process), and without the converter the bundle simply has no model.onnx
and `export --format onnx` says what to install."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import quick_training

import core.deploy.graph_exports as graph_exports
from core.cli.main import main as cli_main
from core.data.loading import load_sample
from core.deploy.bundle import export_bundle_bytes, write_bundle
from core.evaluate.metrics import evaluate_run, metrics_document

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("onnx", "tf2onnx", "onnxruntime")
SCRIPT = """
import sys
from core.deploy.bundle import read_bundle, predict_frame
from core.deploy.serve import Predictor, create_app, ModelSlot
import core.cli.main
bundle = read_bundle(sys.argv[1])
predictor = Predictor(bundle)
row = {item["name"]: 1.0 for item in bundle.preprocessor.schema_}
print(predictor.predictions(predictor.predict_columns(predictor.columns([row], 10))))
create_app(ModelSlot(predictor))
loaded = sorted(name for name in sys.modules if name.split(".")[0] in %r)
print("LOADED", loaded)
"""


@pytest.fixture(scope="module")
def iris():
    prepared, run, config = quick_training.trained(load_sample("iris").frame, "species", epochs=1)
    return prepared, run, config, metrics_document(evaluate_run(prepared, run))


def test_reading_and_serving_a_bundle_imports_no_onnx_package(iris, tmp_path):
    prepared, run, config, metrics = iris
    archive = write_bundle(tmp_path / "bundle.zip", prepared, run, config, metrics)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", SCRIPT % (OPTIONAL,), str(archive)]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stdout, done.stdout


def test_without_the_converter_the_bundle_has_no_onnx_and_export_says_what_to_install(
    iris, tmp_path, monkeypatch
):
    prepared, run, config, metrics = iris
    monkeypatch.setattr(graph_exports, "onnx_available", lambda: False)
    archive = export_bundle_bytes(prepared, run, config, metrics)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        names = set(zipped.namelist())
    assert "saved_model/saved_model.pb" in names and "model.onnx" not in names
    path = tmp_path / "bundle.zip"
    path.write_bytes(archive)
    monkeypatch.setattr("core.deploy.onnx_export.onnx_available", lambda: False)
    stderr = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
        code = cli_main(
            ["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]
        )
    assert code == 2
    assert "requirements-onnx.txt" in stderr.getvalue()
    assert len(stderr.getvalue().strip().splitlines()) == 1


def test_export_writes_a_saved_model_folder_and_an_onnx_file(iris, tmp_path):
    prepared, run, config, metrics = iris
    path = write_bundle(tmp_path / "bundle.zip", prepared, run, config, metrics)
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli_main(["export", str(path), "--format", "saved_model", "--out",
                         str(tmp_path / "sm")]) == 0  # fmt: skip
        assert cli_main(["export", str(path), "--format", "onnx", "--out",
                         str(tmp_path / "m.onnx")]) == 0  # fmt: skip
        # An existing non-empty folder is never overwritten.
        assert cli_main(["export", str(path), "--format", "saved_model", "--out",
                         str(tmp_path / "sm")]) == 2  # fmt: skip
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
    assert (tmp_path / "m.onnx").stat().st_size > 1000
