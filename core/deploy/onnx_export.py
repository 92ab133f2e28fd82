"""The raw-row graph (core.deploy.graph) as an ONNX model for onnxruntime and other runtimes.

Optional: it needs `tf2onnx` and `onnx` (requirements-onnx.txt); the app and the CLI work
without them, and nothing on the default path imports this module's dependencies.

Why tf2onnx on our own SavedModel: it converts the whole raw-row graph, lookup tables included
(to ai.onnx.ml's CategoryMapper), with the network's layers as they are, so the ONNX model is the
very graph TensorFlow Serving runs, not a second implementation. Measured on TF 2.21 / Keras 3.15
/ tf2onnx 1.17: every operation of the graph converts (dates enter as numbers because ONNX has no
standard operator that parses a date text, and string equality is a table key for the same
reason); Keras' own `model.export(format="onnx")` covers only the network, not the
preprocessing. The conversion runs in-process with the same calls as `python -m tf2onnx.convert
--saved-model` (tf_loader.from_saved_model, then its converter), without a second interpreter.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.deploy.graph import SIGNATURE, save_saved_model
from core.private_files import private_dir

if TYPE_CHECKING:
    import keras

    from core.prep.preprocessing import Preprocessor

OPSET = 18
ONNX_FILE = "model.onnx"
REQUIRED_MODULES = ("tf2onnx", "onnx")


def onnx_available() -> bool:
    """Whether the optional ONNX converter is installed (checked without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


def onnx_runtime_available() -> bool:
    """Whether onnxruntime is installed (checked without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def saved_model_to_onnx(folder: str | Path) -> bytes:
    """The ONNX model of the raw-row SavedModel in `folder` (its `serving_default` signature)."""
    from tf2onnx import convert, tf_loader

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
            str(folder),
            None,
            None,
            "serve",
            [SIGNATURE],
            return_initialized_tables=True,
            return_tensors_to_rename=True,
        )
        model, _ = convert._convert_common(
            graph_def,
            name="modeldesk_raw_row",
            opset=OPSET,
            input_names=inputs,
            output_names=outputs,
            initialized_tables=tables,
            tensors_to_rename=renames,
        )
    return bytes(model.SerializeToString())


def onnx_bytes(preprocessor: Preprocessor, model: keras.Model) -> bytes:
    """The raw-row graph as ONNX bytes (via a SavedModel in a private folder)."""
    with private_dir("modeldesk-onnx-") as tmp:
        folder = Path(tmp) / "saved_model"
        save_saved_model(preprocessor, model, folder)
        return saved_model_to_onnx(folder)


def onnx_session(data: bytes, threads: int = 0) -> Any:
    """An onnxruntime session of an ONNX model's bytes (`threads` 0: onnxruntime's default)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def onnx_outputs(session: Any, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a session on a graph feed (core.deploy.graph.feed_frame): outputs by name."""
    names = [output.name for output in session.get_outputs()]
    inputs = {
        key: (values.astype(object) if values.dtype == object else values.astype(np.float64))
        for key, values in feed.items()
    }
    return dict(zip(names, session.run(names, inputs), strict=True))
