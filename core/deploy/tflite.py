"""TensorFlow Lite exports of a trained model: float, and dynamic-range quantised, each with its
size and its test metric beside the Keras model's, so the cost of shrinking it is plain.

Float uses `TFLiteConverter.from_keras_model`; quantised goes through a SavedModel
(`model.export(dir)` + `from_saved_model(dir)` with `optimizations=[tf.lite.Optimize.DEFAULT]`),
the two paths verified on TF 2.21. Predictions run in `tf.lite.Interpreter`: TF 2.21 deprecates
it in favour of the separate `ai-edge-litert` package, which is not among our dependencies, so
its deprecation warning is silenced here, on purpose.
TensorFlow is imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.evaluate.metrics import headline_metric, predict_scores, test_metrics
from core.private_files import private_dir

if TYPE_CHECKING:
    import keras

    from core.prep.pipeline import Prepared
    from core.train.engine import Run

FORMATS: tuple[str, ...] = ("keras", "tflite_float", "tflite_dynamic")
FILE_NAMES: dict[str, str] = {
    "keras": "model.keras",
    "tflite_float": "model_float.tflite",
    "tflite_dynamic": "model_dynamic_range.tflite",
}


@dataclass(frozen=True, eq=False)
class ModelExport:
    """One format of the model: its bytes, their size, and its headline test metric."""

    format: str  # FORMATS
    data: bytes
    metric: str
    value: float | None
    sparsity: float = 0.0  # share of Dense kernel weights pruned to zero (core.train.pruning)

    @property
    def size_bytes(self) -> int:
        """Size of the file."""
        return len(self.data)

    @property
    def file_name(self) -> str:
        """The download's file name."""
        name = FILE_NAMES[self.format]
        if self.sparsity:
            stem, suffix = name.rsplit(".", 1)
            name = f"{stem}_pruned{round(self.sparsity * 100)}.{suffix}"
        return name

    @property
    def gzip_bytes(self) -> int:
        """Size gzipped: what pruning saves shows here (zeros compress; the file keeps them)."""
        return len(gzip.compress(self.data, compresslevel=9, mtime=0))


def compare_exports(
    model: keras.Model, X_test: np.ndarray, y_test: np.ndarray, task: str
) -> list[ModelExport]:
    """The Keras model, its float TFLite and its dynamic-range quantised TFLite, each scored on
    the same test rows with the task's headline metric."""
    metric = headline_metric(task)
    float_bytes = tflite_float(model)
    dynamic_bytes = tflite_dynamic(model)
    scored = (
        ("keras", keras_bytes(model), predict_scores(model, X_test)),
        ("tflite_float", float_bytes, tflite_scores(float_bytes, X_test)),
        ("tflite_dynamic", dynamic_bytes, tflite_scores(dynamic_bytes, X_test)),
    )
    return [
        ModelExport(name, data, metric, test_metrics(task, y_test, scores)[metric])
        for name, data, scores in scored
    ]


PRUNED_SPARSITIES: tuple[float, ...] = (0.5, 0.8)


def pruned_exports(
    prepared: Prepared, run: Run, sparsities: tuple[float, ...] = PRUNED_SPARSITIES
) -> list[ModelExport]:
    """For each sparsity, the run fine-tuned with magnitude pruning (core.train.pruning), as
    float and dynamic-range TFLite, each scored on the test rows."""
    from core.train.pruning import PruneSpec, prune_run

    task = prepared.spec.task
    metric = headline_metric(task)
    rows: list[ModelExport] = []
    for sparsity in sparsities:
        model = prune_run(prepared, run, PruneSpec(sparsity)).build_model()
        for name, data in (
            ("tflite_float", tflite_float(model)),
            ("tflite_dynamic", tflite_dynamic(model)),
        ):
            scores = tflite_scores(data, prepared.X_test)
            value = test_metrics(task, prepared.y_test, scores)[metric]
            rows.append(ModelExport(name, data, metric, value, sparsity))
    return rows


def tflite_kernel_sparsity(flatbuffer: bytes) -> list[float]:
    """Each fully connected layer's share of exact zeros in its weights, in a TFLite model
    (float32, or int8 with zero point 0 after dynamic-range quantisation, where zero stays 0).

    The weights are the second input of each FULLY_CONNECTED op; the interpreter lists ops only
    through `_get_ops_details` (TF 2.21), the one place that tells constants from activations.
    """
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    shares = []
    for op in interpreter._get_ops_details():
        if op["op_name"] == "FULLY_CONNECTED":
            weights = interpreter.get_tensor(int(op["inputs"][1]))
            shares.append(float(np.mean(weights == 0)))
    return shares


def keras_bytes(model: keras.Model) -> bytes:
    """The model as a .keras file's bytes."""
    with private_dir("modeldesk-keras-") as tmp:
        path = Path(tmp) / "model.keras"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            model.save(path)
        return path.read_bytes()


def tflite_float(model: keras.Model) -> bytes:
    """The model as a float32 TensorFlow Lite flatbuffer."""
    import tensorflow as tf

    # The converter writes a SavedModel of its own: in a private folder, as
    # every file made from a user's data.
    with private_dir("modeldesk-tflite-"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        return bytes(converter.convert())


def tflite_dynamic(model: keras.Model) -> bytes:
    """The model with dynamic-range quantisation: int8 weights, float activations."""
    import tensorflow as tf

    # export() prints the SavedModel's signature to stdout even with verbose=False.
    with (
        private_dir("modeldesk-savedmodel-") as tmp,
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        model.export(str(tmp), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return bytes(converter.convert())


def tflite_scores(flatbuffer: bytes, X: np.ndarray) -> np.ndarray:
    """A TFLite model's output for rows X, in `predict_scores`' shapes (float64)."""
    import tensorflow as tf

    X = np.asarray(X, dtype=np.float32)
    with warnings.catch_warnings():
        # tf.lite.Interpreter is deprecated for ai-edge-litert, which we do not ship.
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    units = int(output_detail["shape"][-1])
    if len(X) == 0:
        return np.empty((0,) if units == 1 else (0, units), dtype=np.float64)
    interpreter.resize_tensor_input(input_detail["index"], list(X.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_detail["index"], X)
    interpreter.invoke()
    scores = np.asarray(interpreter.get_tensor(output_detail["index"]), dtype=np.float64)
    return scores[:, 0] if scores.ndim == 2 and scores.shape[1] == 1 else scores
