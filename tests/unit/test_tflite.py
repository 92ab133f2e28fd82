"""TensorFlow Lite exports: float and dynamic-range quantised, sized and scored beside Keras."""

from __future__ import annotations

import numpy as np
import pytest
from quick_training import trained

from core.data.loading import load_sample
from core.deploy.tflite import FORMATS, compare_exports, tflite_scores
from core.evaluate.metrics import predict_scores
from core.train.models import ModelSpec


@pytest.fixture(scope="module")
def wide_run():
    """A model with 64-unit layers: big enough for quantisation to shrink it (TFLite leaves
    tensors under 1,024 weights as float)."""
    frame = load_sample("breast_cancer").frame
    prepared, run, _ = trained(
        frame, "diagnosis", epochs=3, model=ModelSpec(hidden_layers=(64, 64))
    )
    return prepared, run


def test_three_formats_with_sizes_and_the_same_headline_metric(wide_run):
    prepared, run = wide_run
    exports = compare_exports(run.build_model(), prepared.X_test, prepared.y_test, "binary")
    assert [e.format for e in exports] == list(FORMATS)
    keras_model, float_model, quantised = exports
    assert all(e.metric == "accuracy" and 0 <= e.value <= 1 for e in exports)
    assert float_model.data[4:8] == b"TFL3" and quantised.data[4:8] == b"TFL3"
    assert quantised.size_bytes < float_model.size_bytes * 0.6
    assert float_model.size_bytes < keras_model.size_bytes
    assert abs(float_model.value - keras_model.value) < 1e-9, "float TFLite keeps the answers"
    assert abs(quantised.value - keras_model.value) <= 0.05
    assert float_model.file_name.endswith(".tflite")


def test_float_tflite_predicts_what_keras_predicts(wide_run):
    prepared, run = wide_run
    model = run.build_model()
    exports = compare_exports(model, prepared.X_test[:5], prepared.y_test[:5], "binary")
    found = tflite_scores(exports[1].data, prepared.X_test)
    assert found.shape == (len(prepared.X_test),)
    assert np.max(np.abs(found - predict_scores(model, prepared.X_test))) < 1e-5
    assert tflite_scores(exports[1].data, prepared.X_test[:0]).shape == (0,)
