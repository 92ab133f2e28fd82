"""Deploy's Serve tab through app.py: the curl example, sent to a real `core serve` (uvicorn on
a loopback port, the bundle read back from its zip), returns the prediction the page shows for
that row; the page's own local server answers the same; pruned rows in the compress tab."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

import numpy as np
import pytest
from apptest_helpers import open_app

from core.data.loading import load_sample
from core.deploy.bundle import read_bundle, write_bundle
from core.deploy.serve import LocalServer, Predictor, post_json
from core.evaluate.metrics import evaluate_run, metrics_document
from core.prep.pipeline import prepare
from core.train.runner import default_config, start_training

pytestmark = pytest.mark.pages


@pytest.fixture(scope="module")
def tips_run():
    # A regression with categorical inputs: texts, numbers and the target's own units.
    frame = load_sample("tips").frame
    config = default_config(frame, "tip")
    config = replace(config, train=replace(config.train, epochs=3, early_stopping=False))
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, config.train, name="tips")
    assert job.join(timeout=120)
    run = job.result()
    run.metrics = metrics_document(evaluate_run(prepared, run))
    return prepared, run, config


def serve_tab(lang: str, tips_run):
    prepared, run, _config = tips_run
    state = {"runs": {run.run_id: run}, "run_data": {run.run_id: prepared}}
    return open_app(lang, "pages/deploy.py", state=state, timeout=180)


def curl_parts(command: str) -> tuple[str, dict]:
    words = shlex.split(command.replace("\\\n", " "))
    url = next(word for word in words if word.startswith("http://"))
    return url, json.loads(words[words.index("-d") + 1])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_curl_example_sent_to_core_serve_returns_what_the_page_shows(tips_run, tmp_path, lang):
    prepared, run, config = tips_run
    at = serve_tab(lang, tips_run)
    curls = [code.value for code in at.code if code.value.startswith("curl ")]
    shown = [code.value for code in at.code if code.language == "json"]
    assert curls and shown, "the Serve tab shows a curl call and the app's answer"
    url, body = curl_parts(curls[0])
    assert url.endswith("/v1/models/model:predict")
    (instance,) = body["instances"]
    assert set(instance) == {item["name"] for item in prepared.preprocessor.schema_}
    expected = json.loads(shown[0])["predictions"][0]
    archive = write_bundle(tmp_path / "bundle.zip", prepared, run, config, run.metrics)
    server = LocalServer(Predictor(read_bundle(archive)), name="model").start()
    try:
        status, answer = post_json(server.url, "/v1/models/model:predict", body)
    finally:
        server.stop()
    assert status == 200, answer
    (got,) = answer["predictions"]
    assert set(got) == {"value"}
    np.testing.assert_allclose(got["value"], expected["value"], rtol=0, atol=1e-5)


def test_the_local_server_button_answers_live_and_stops(tips_run, monkeypatch):
    monkeypatch.setenv("MODELDESK_SHARED", "0")
    at = serve_tab("en", tips_run)
    expected = json.loads(next(c.value for c in at.code if c.language == "json"))
    at.button(key="deploy_serve_start").click().run()
    assert not at.exception, at.exception
    live = [json.loads(c.value) for c in at.code if c.language == "json"]
    assert len(live) == 2, "the app's answer and the live server's"
    np.testing.assert_allclose(live[1]["predictions"][0]["value"],
                               expected["predictions"][0]["value"], rtol=0, atol=1e-5)  # fmt: skip
    at.button(key="deploy_serve_stop").click().run()
    assert not at.exception, at.exception
    assert len([c for c in at.code if c.language == "json"]) == 1
    keys = [button.proto.id for button in at.get("download_button")]
    assert any("deploy_saved_model" in key for key in keys)
    assert any("deploy_onnx" in key for key in keys)


def test_a_shared_server_starts_no_local_server(tips_run, monkeypatch):
    monkeypatch.setenv("MODELDESK_SHARED", "1")
    at = serve_tab("en", tips_run)
    assert not [b for b in at.button if b.key == "deploy_serve_start"]
    assert any("shared server" in info.value for info in at.info)
