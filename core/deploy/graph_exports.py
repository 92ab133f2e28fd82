"""The raw-row graph's files for bundle.zip: a SavedModel folder (always; TensorFlow is a runtime
dependency) and an ONNX model (when the optional converter is installed). The Deploy page's
SavedModel and ONNX downloads are taken from the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.deploy.graph import save_saved_model
from core.deploy.onnx_export import ONNX_FILE, onnx_available, saved_model_to_onnx
from core.private_files import private_dir

if TYPE_CHECKING:
    import keras

    from core.prep.preprocessing import Preprocessor

SAVED_MODEL_DIR = "saved_model"


def graph_files(
    preprocessor: Preprocessor, model: keras.Model, *, onnx: bool | None = None
) -> dict[str, bytes]:
    """saved_model/... (every file of the SavedModel) and model.onnx (when `onnx`, by default
    when the converter is installed), by their paths in a bundle."""
    onnx = onnx_available() if onnx is None else onnx
    files: dict[str, bytes] = {}
    with private_dir("modeldesk-savedmodel-") as tmp:
        folder = Path(tmp) / SAVED_MODEL_DIR
        save_saved_model(preprocessor, model, folder)
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                files[f"{SAVED_MODEL_DIR}/{file.relative_to(folder).as_posix()}"] = (
                    file.read_bytes()
                )
        if onnx:
            files[ONNX_FILE] = saved_model_to_onnx(folder)
    return files
