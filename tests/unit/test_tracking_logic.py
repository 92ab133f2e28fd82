"""The tracking logger's own rules, without a tracking server: calls never wait, a full queue
drops and says so, what a run logs as parameters and metrics (no data values; a private run's
ε). The logging itself is tested against a real MLflow server in tests/tracking."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

from core.data.loading import load_sample
from core.deploy.tracking_artifacts import final_metrics
from core.train.runner import default_config
from core.train.tracking import Tracker, epoch_rows, run_params


def silent_uri() -> tuple[socket.socket, str]:
    """A server that accepts connections and never answers (a hung tracking server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_calls_never_wait_and_a_full_queue_drops_and_says_so():
    listener, uri = silent_uri()
    try:
        tracker = Tracker(uri, "t", queue_size=5)
        started = time.perf_counter()
        handle = tracker.start_run("r")
        for epoch in range(1, 1001):
            tracker.log_metrics(handle, [(epoch, {"loss": 1.0 / epoch})])
        took = time.perf_counter() - started
        assert took < 1.0, f"1000 calls took {took:.2f} s with the server hung"
        assert tracker.dropped >= 1000 - 5
        assert tracker.failure is not None and tracker.failure.key == "tracking.failed.behind"
        assert not tracker.flush(0.1), "the hung request is still pending"
    finally:
        listener.close()


def test_parameters_are_every_control_and_never_a_data_value():
    frame = load_sample("tips").frame
    config = default_config(frame, "time", seed=7)
    params = run_params(config, "ab" * 32)
    assert params["train.seed"] == "7" and params["preprocess.seed"] == "7"
    assert params["data.sha256"] == "ab" * 32
    assert {f"model.{key}" for key in config.model.to_dict()} <= params.keys()
    assert {f"train.{key}" for key in config.train.to_dict()} <= params.keys()
    assert params["model.hidden_layers"] == "[32, 16]"
    assert params["preprocess.columns.0.name"] == "total_bill"
    assert not any(key.endswith(".reason") for key in params)
    # No category of the table, and no number of it beyond what a control could also be.
    words = {str(v) for c in ("sex", "smoker", "day", "time") for v in frame[c].unique()}
    numbers = {f"{v}" for v in frame["total_bill"]} - {"0.1", "1.0", "10.0"}
    assert not (words | numbers) & set(params.values())
    changed = replace(config, train=replace(config.train, learning_rate=0.05))
    assert run_params(changed)["train.learning_rate"] == "0.05"


def test_epochs_and_a_private_runs_epsilon_become_metrics():
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.6, float("nan")]}
    rows = epoch_rows(history, 1, {"epsilon": 2.5})
    assert rows[0] == (2, {"loss": 0.5, "val_loss": 0.6})
    assert rows[1][0] == 3 and rows[1][1]["epsilon"] == 2.5, "the ε spent so far, on the last"
    metrics = {
        "accuracy": 0.9,
        "validation": {"accuracy": 0.8},
        "baselines": {"majority": {"accuracy": 0.6}},
        "privacy": {"epsilon": 3.0, "membership_inference": {"auc": 0.52}, "dp": True},
    }
    assert final_metrics(metrics) == {
        "test.accuracy": 0.9,
        "validation.accuracy": 0.8,
        "baseline.majority.accuracy": 0.6,
        "privacy.epsilon": 3.0,
        "privacy.membership_auc": 0.52,
    }
