"""Train's MLflow section through app.py: a run logged to a tracking server that is down still
finishes, the page says that logging failed, and the session's runs download as an MLflow
folder (the folder itself is checked against MLflow's reader in tests/unit/test_tracking.py)."""

from __future__ import annotations

import socket
import time

import pytest
from apptest_helpers import open_app, train_first_model

from core.i18n import t

pytestmark = pytest.mark.pages


def dead_uri() -> str:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_dead_tracking_server_leaves_the_run_whole_and_says_logging_failed(monkeypatch, lang):
    monkeypatch.setenv("MODELDESK_MLFLOW_URI", dead_uri())
    monkeypatch.setenv("MODELDESK_SHARED", "1")  # a room's server: nothing written to its disk
    at = open_app(lang, "pages/train.py", timeout=120)
    at.button(key="train_preset").click().run()
    at.checkbox(key="train_mlflow").check().run()
    train_first_model(at, epochs=5)
    run = next(iter(at.session_state["runs"].values()))
    assert run.status == "finished" and run.epochs_trained == 5
    failed = t("tracking.ui.failed", lang, name=run.name, reason="").split(":")[0].split("：")[0]
    deadline = time.monotonic() + 60
    while not any(failed in w.value for w in at.warning) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    assert any(failed in w.value for w in at.warning), [w.value for w in at.warning]
    at.button(key="train_mlflow_zip").click().run()
    assert not at.exception, at.exception
    labels = [button.proto.label for button in at.get("download_button")]
    assert t("tracking.ui.download", lang) in labels


def test_without_a_uri_the_section_offers_no_logging(monkeypatch):
    monkeypatch.delenv("MODELDESK_MLFLOW_URI", raising=False)
    at = open_app("en", "pages/train.py", timeout=120)
    at.button(key="train_preset").click().run()
    assert not at.exception, at.exception
    assert "train_mlflow" not in [box.key for box in at.checkbox]
