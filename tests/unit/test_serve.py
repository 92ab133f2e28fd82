"""`core serve` on a real uvicorn, on an ephemeral loopback port: TensorFlow Serving's REST API,
every class of hostile request refused with a JSON error while the server keeps answering, the
log free of values, and the CLI's server up and answering its status within 10 s."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import quick_training
from serve_tables import messy_config, messy_table

from core.deploy.bundle import bundle_from_run, export_bundle_bytes
from core.deploy.serve import LocalServer, ModelSlot, Predictor, ServeLimits, create_app
from core.evaluate.metrics import evaluate_run, metrics_document

ROOT = Path(__file__).resolve().parents[2]
NAME = "shop"
MAX_BODY = 64 * 1024
MAX_INSTANCES = 50
SECRET = "Zebra-Secret-Value"  # a category value that must never reach the log


@pytest.fixture(scope="module")
def trained():
    frame = messy_table()
    prepared, run, config = quick_training.trained(
        frame, "bought", epochs=2, config=messy_config(frame)
    )
    return prepared, run, config


@pytest.fixture(scope="module")
def server(trained):
    prepared, run, config = trained
    bundle = bundle_from_run(prepared, run, config, {})
    limits = ServeLimits(max_body_bytes=MAX_BODY, max_instances=MAX_INSTANCES)
    running = LocalServer(Predictor(bundle), name=NAME, server_limits=limits).start()
    yield running
    running.stop()


class LocalAddress:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port


def call(server, method: str, path: str, body: bytes | None = None, headers=None):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data)


def row(**changes):
    base = {"age": 41.5, "income": 25000.0, "color": "red", "size": "M",
            "when": "2021-05-04 10:00:00"}  # fmt: skip
    return {**base, **changes}


def predict(server, document) -> tuple[int, dict]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return call(server, "POST", f"/v1/models/{NAME}:predict", body,
                {"Content-Type": "application/json"})  # fmt: skip


def still_answers(server) -> None:
    status, body = predict(server, {"instances": [row()]})
    assert status == 200, body
    (prediction,) = body["predictions"]
    assert prediction["classes"] == ["no", "yes"]
    assert abs(sum(prediction["scores"]) - 1) < 1e-6
    assert prediction["label"] in ("no", "yes")


def test_status_metadata_and_health_follow_tensorflow_serving(server):
    status, body = call(server, "GET", f"/v1/models/{NAME}")
    assert status == 200
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    status, body = call(server, "GET", f"/v1/models/{NAME}/metadata")
    assert status == 200
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert set(signature["inputs"]) == {"age", "income", "color", "size", "when"}
    assert signature["inputs"]["color"]["dtype"] == "DT_STRING"
    assert signature["inputs"]["when"]["dtype"] == "DT_DOUBLE"
    assert set(signature["outputs"]) == {"classes", "scores", "label"}
    assert body["modeldesk"]["classes"] == ["no", "yes"]
    assert call(server, "GET", "/healthz") == (200, {"status": "ok"})
    assert call(server, "GET", "/readyz")[0] == 200
    status, body = call(server, "GET", "/v1/models/other")
    assert status == 404 and "shop" in body["error"]


def test_missing_values_unseen_categories_and_signature_keys_are_served(server):
    status, body = predict(server, {"instances": [
        row(age=None, color=None, when=None, size=None),
        row(color="ultraviolet", size="XXXL"),
        {"AGE": 1, "age": 30, "income": "1234.5", "color": 7, "size": True, "when": "2020-02-29"},
    ]})  # fmt: skip
    assert status == 200, body
    assert len(body["predictions"]) == 3


def test_a_value_of_the_wrong_type_names_the_instance_and_the_column(server):
    status, body = predict(server, {"instances": [row(), row(age="forty")]})
    assert status == 400
    assert "instances[1]" in body["error"] and '"age"' in body["error"]
    status, body = predict(server, {"instances": [row(color={"nested": 1})]})
    assert status == 400 and "instances[0]" in body["error"] and '"color"' in body["error"]
    status, body = predict(server, {"instances": [row(), row(), row(when="not a date")]})
    assert status == 400 and "instances[2]" in body["error"] and '"when"' in body["error"]
    status, body = predict(server, {"instances": [row(income=True)]})
    assert status == 400 and '"income"' in body["error"]
    # A whole number beyond float64 reads as missing, as the app reads it; never a 500.
    status, body = predict(server, {"instances": [row(income=10**400), row(age=-(10**400))]})
    assert status == 200, body
    still_answers(server)


def test_missing_columns_are_named(server):
    incomplete = row()
    del incomplete["income"], incomplete["when"]
    status, body = predict(server, {"instances": [row(), incomplete]})
    assert status == 400
    assert '"income"' in body["error"] and '"when"' in body["error"]
    assert '"age"' not in body["error"]
    still_answers(server)


def test_unknown_columns_are_ignored(server):
    status, with_extra = predict(server, {"instances": [row(shoe_size=44, note="x")]})
    assert status == 200
    assert with_extra == predict(server, {"instances": [row()]})[1]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b'{"instances": [', b"{\"instances\": []}"[:-3], b"\xff\xfe",
     b"[1, 2]", b'"text"', b'{"rows": []}', b'{"instances": {"age": 1}}', b'{"instances": [1]}',
     b'{"instances": []}', b"[" * 5000 + b"]" * 5000],
)  # fmt: skip
def test_malformed_json_or_shape_is_a_400(server, body):
    status, answer = predict(server, body)
    assert status == 400, answer
    assert isinstance(answer["error"], str) and answer["error"]
    still_answers(server)


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    big = b'{"instances": [' + b" " * (MAX_BODY + 10) + b"]}"
    status, answer = predict(server, big)
    assert status == 413 and str(MAX_BODY) in answer["error"]
    # Declared larger than the limit: refused from the header, the body is never sent.
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Length: {10 * MAX_BODY}\r\n\r\n".encode())  # fmt: skip
    reply = sock.recv(4096).decode()
    sock.close()
    assert reply.startswith("HTTP/1.1 413")
    # Streamed without a length (chunked): cut off once it passes the limit.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    chunks = (b"x" * 8192 for _ in range(MAX_BODY // 8192 + 4))
    connection.request("POST", f"/v1/models/{NAME}:predict", body=chunks,
                       encode_chunked=True)  # fmt: skip
    assert connection.getresponse().status == 413
    still_answers(server)


def test_too_many_instances_is_a_413(server):
    status, answer = predict(server, {"instances": [{}] * (MAX_INSTANCES + 1)})
    assert status == 413 and str(MAX_INSTANCES) in answer["error"]
    still_answers(server)


def test_the_request_log_carries_no_values(server, caplog):
    with caplog.at_level(logging.INFO, logger="modeldesk.serve"):
        predict(server, {"instances": [row(color=SECRET)]})
        predict(server, {"instances": [row(age=SECRET)]})
        deadline = time.monotonic() + 5  # the line is written once the response is sent
        while time.monotonic() < deadline and not any(
            " 400 " in record.getMessage() for record in caplog.records
        ):
            time.sleep(0.01)
    lines = [record.getMessage() for record in caplog.records]
    assert any("200 rows=1" in line for line in lines), lines
    assert any(" 400 " in line for line in lines), lines
    assert not any(SECRET in line for line in lines)


def test_the_cli_server_answers_within_10_s_and_stops_gracefully(trained, tmp_path):
    prepared, run, config = trained
    metrics = metrics_document(evaluate_run(prepared, run))
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(export_bundle_bytes(prepared, run, config, metrics))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "serve", str(archive), "--port", "0", "--name", NAME],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        url = line.split(" at ", 1)[1].split("/v1/", 1)[0]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        server = LocalAddress(host, int(port))
        status, body = call(server, "GET", f"/v1/models/{NAME}")
        answered = time.monotonic() - start
        assert status == 200
        assert body["model_version_status"][0]["state"] in ("LOADING", "AVAILABLE")
        assert answered < 10, f"status answered after {answered:.1f} s"
        # TensorFlow loads after the port listens; predictions wait for AVAILABLE.
        deadline = time.monotonic() + 120
        while call(server, "GET", "/readyz")[0] != 200:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        status, body = call(server, "GET", f"/v1/models/{NAME}")
        assert body["model_version_status"][0]["state"] == "AVAILABLE"
        still_answers(server)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_a_model_still_loading_is_503_while_status_and_health_answer(trained):
    prepared, run, config = trained
    gate = threading.Event()

    def load():
        gate.wait(30)
        return Predictor(bundle_from_run(prepared, run, config, {}))

    slot = ModelSlot(load)
    app = create_app(slot, NAME)
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        address = LocalAddress(*sock.getsockname()[:2])
        status, body = call(address, "GET", f"/v1/models/{NAME}")
        assert body["model_version_status"][0]["state"] == "LOADING"
        assert call(address, "GET", "/healthz")[0] == 200
        assert call(address, "GET", "/readyz")[0] == 503
        status, body = predict(address, {"instances": [row()]})
        assert status == 503 and "loading" in body["error"]
        gate.set()
        deadline = time.monotonic() + 60
        while call(address, "GET", "/readyz")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        still_answers(address)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_the_cli_refuses_a_missing_bundle_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "core", "serve", str(tmp_path / "none.zip")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
