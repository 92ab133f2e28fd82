"""The raw-row graph: the SavedModel (tf.saved_model.load), the ONNX model (onnxruntime) and
`core serve` all predict what `python -m core predict` does, to 1e-5, on held-out rows with
missing values and categories never seen in training, for sample tables and a hostile table."""

from __future__ import annotations

import http.client
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import quick_training
from serve_tables import hostile_rows, messy_config, messy_table

from core.cli.main import main as cli_main
from core.data.loading import load_path, load_sample
from core.deploy.bundle import export_bundle_bytes, probability_column, read_bundle
from core.deploy.graph import SIGNATURE, feed_frame, raw_row_plan
from core.deploy.onnx_export import onnx_outputs, onnx_session
from core.deploy.serve import LocalServer, Predictor
from core.evaluate.metrics import evaluate_run, metrics_document

TOLERANCE = 1e-5
# A multiclass and two regressions from the samples (gapminder: 142 countries, most of them in
# the "other" bucket), and the hostile binary table with dates, clipping and ordinal codes.
CASES = ("iris", "tips", "gapminder", "messy")


def train_case(case: str):
    if case == "messy":
        frame = messy_table()
        return quick_training.trained(frame, "bought", epochs=3, config=messy_config(frame))
    sample = load_sample(case)
    from core.data.loading import SAMPLES

    return quick_training.trained(sample.frame, SAMPLES[case].target, epochs=3, name=case)


@pytest.fixture(scope="module", params=CASES)
def exported(request, tmp_path_factory):
    prepared, run, config = train_case(request.param)
    metrics = metrics_document(evaluate_run(prepared, run))
    folder = tmp_path_factory.mktemp(f"raw-row-{request.param}")
    archive = folder / "bundle.zip"
    archive.write_bytes(export_bundle_bytes(prepared, run, config, metrics))
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder / "unzipped")
    rows = hostile_rows(prepared.splits.X_test, prepared.preprocessor.schema_)
    rows.to_csv(folder / "rows.csv", index=False)
    assert (
        cli_main(
            ["predict", str(archive), str(folder / "rows.csv"), "--out", str(folder / "p.csv")]
        )
        == 0
    )
    expected = pd.read_csv(folder / "p.csv", keep_default_na=False, na_values=[""])
    # What predict read (the CSV's own types) is what every other runtime receives.
    table = load_path(folder / "rows.csv").frame
    return prepared, archive, folder, table, expected


def expected_scores(prepared, expected: pd.DataFrame) -> np.ndarray:
    if prepared.spec.task == "regression":
        return expected["prediction"].to_numpy(dtype=np.float64)
    columns = [probability_column(label) for label in prepared.preprocessor.classes_]
    return expected[columns].to_numpy(dtype=np.float64)


def check_outputs(prepared, expected, scores, labels) -> None:
    want = expected_scores(prepared, expected)
    assert np.isfinite(want).all()
    np.testing.assert_allclose(np.asarray(scores, dtype=np.float64), want, rtol=0, atol=TOLERANCE)
    if labels is not None:
        assert [str(v) for v in labels] == expected["prediction"].astype(str).tolist()


def test_the_saved_model_equals_cli_predict_with_the_documented_signature(exported):
    import tensorflow as tf

    prepared, _archive, folder, table, expected = exported
    plan = raw_row_plan(prepared.preprocessor)
    loaded = tf.saved_model.load(str(folder / "unzipped" / "saved_model"))
    function = loaded.signatures[SIGNATURE]
    _args, inputs = function.structured_input_signature
    documented = plan.signature()
    assert {key: (spec.dtype.name, spec.shape.as_list()) for key, spec in inputs.items()} == {
        item["key"]: ("string" if item["dtype"] == "string" else "float64", [None])
        for item in documented["inputs"]
    }
    assert set(function.structured_outputs) == set(documented["outputs"])
    feed = feed_frame(plan, table)
    outputs = function(**{key: tf.constant(values) for key, values in feed.items()})
    if plan.task == "regression":
        check_outputs(prepared, expected, outputs["value"].numpy(), None)
    else:
        labels = [label.decode() for label in outputs["label"].numpy()]
        check_outputs(prepared, expected, outputs["scores"].numpy(), labels)
        classes = outputs["classes"].numpy()
        assert classes.shape == (len(table), len(plan.classes))
        assert [c.decode() for c in classes[0]] == list(plan.classes)


def test_the_onnx_model_equals_cli_predict(exported):
    prepared, _archive, folder, table, expected = exported
    plan = raw_row_plan(prepared.preprocessor)
    session = onnx_session((folder / "unzipped" / "model.onnx").read_bytes())
    assert sorted(i.name for i in session.get_inputs()) == sorted(i.key for i in plan.inputs)
    outputs = onnx_outputs(session, feed_frame(plan, table))
    if plan.task == "regression":
        check_outputs(prepared, expected, outputs["value"], None)
    else:
        labels = [str(label) for label in outputs["label"]]
        check_outputs(prepared, expected, outputs["scores"], labels)


def test_core_serve_equals_cli_predict(exported):
    prepared, archive, _folder, table, expected = exported
    instances = json.loads(table.to_json(orient="records", date_format="iso"))
    server = LocalServer(Predictor(read_bundle(archive)), name="m").start()
    try:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        connection.request("POST", "/v1/models/m:predict", json.dumps({"instances": instances}),
                           {"Content-Type": "application/json"})  # fmt: skip
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
    finally:
        server.stop()
    predictions = body["predictions"]
    if prepared.spec.task == "regression":
        check_outputs(prepared, expected, [p["value"] for p in predictions], None)
    else:
        scores = [p["scores"] for p in predictions]
        check_outputs(prepared, expected, scores, [p["label"] for p in predictions])
        assert predictions[0]["classes"] == [str(c) for c in prepared.preprocessor.classes_]
