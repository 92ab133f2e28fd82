"""MLflow tracking (marker `tracking`) against a real MLflow server on loopback over SQLite.

One server per module (started as `mlflow server`, killed at the end; the last test stops it in
the middle of a run). What is checked is read back through MLflow's own client: parameters,
per-epoch metrics, artifacts, the pyfunc model against the app's predictions, nested search
runs, the session folder in MLflow's own reader, and a run that outlives its tracking server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.loading import load_sample
from core.deploy.bundle import bundle_from_run, predict_frame, read_bundle
from core.deploy.tracking_artifacts import SessionRun, session_runs_zip, track_job
from core.evaluate.metrics import run_metrics
from core.i18n import UserError
from core.prep.pipeline import prepare
from core.train.runner import default_config, start_training
from core.train.tracking import (
    Tracker,
    check_uri,
    end_search,
    log_trial,
    run_params,
    start_search_parent,
)

ROOT = Path(__file__).resolve().parents[2]
TARGET = "time"  # tips: Lunch or Dinner, from numbers and categories


def fresh_python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """This interpreter, isolated (-I: no PYTHONPATH, no user site, no script folder on
    sys.path), in a folder away from the repository."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [sys.executable, "-I", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`mlflow server` on loopback over a SQLite file, artifacts proxied into a folder."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                "--artifacts-destination", str(folder / "mlartifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            ],
            cwd=folder, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError("the MLflow server did not start within 120 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the server's group
            self.process.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("mlflow-server"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)


def tips_config(epochs: int, seed: int = 0):
    dataset = load_sample("tips")
    config = default_config(dataset.frame, TARGET, seed=seed)
    config = replace(config, train=replace(config.train, epochs=epochs, early_stopping=False))
    return dataset, config, prepare(dataset.frame, config.preprocess)


@pytest.fixture(scope="module")
def logged(server):
    """A run trained and logged as the Train page does, registered in the Model Registry."""
    dataset, config, prepared = tips_config(epochs=4)
    tracker = Tracker(server.uri, "tests")
    job = start_training(prepared, config.model, config.train, name="Run 1")
    followed = track_job(
        tracker,
        job,
        prepared,
        config,
        data_sha256=dataset.sha256,
        dataset_name="tips",
        register_as="modeldesk-tips",
    )
    assert followed.join(120)
    assert tracker.flush(180)
    assert tracker.failure is None, tracker.failure
    run = job.result()
    assert run.status == "finished"
    return dataset, config, prepared, run, tracker.run_id(followed.handle)


def test_a_run_logs_its_parameters_epochs_metrics_and_files(client, logged):
    dataset, config, prepared, run, run_id = logged
    logged_run = client.get_run(run_id)
    params = logged_run.data.params
    assert params == run_params(config, dataset.sha256)
    assert params["data.sha256"] == dataset.sha256
    assert params["train.seed"] == "0" and params["train.epochs"] == "4"
    names = {value for key, value in params.items() if key.endswith(".name")}
    assert names == {"total_bill", "tip", "sex", "smoker", "day", "size"}
    for value in params.values():  # no cell of the table is a parameter value
        assert value not in {"Female", "Sun", "Dinner", "16.99"}
    tags = logged_run.data.tags
    assert tags["modeldesk.run_name"] == "Run 1" and tags["modeldesk.run_id"] == run.run_id
    assert tags["modeldesk.status"] == "finished"
    assert tags["modeldesk.registered_model"] == "modeldesk-tips/1"
    assert logged_run.info.status == "FINISHED"
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == [1, 2, 3, 4]
        assert np.allclose([m.value for m in history], run.history[key])
    metrics = run_metrics(prepared, run)
    final = logged_run.data.metrics
    assert final["test.accuracy"] == pytest.approx(metrics["accuracy"])
    assert final["validation.f1"] == pytest.approx(metrics["validation"]["f1"])
    for baseline, values in metrics["baselines"].items():
        assert final[f"baseline.{baseline}.accuracy"] == pytest.approx(values["accuracy"])
    top = {item.path for item in client.list_artifacts(run_id)}
    assert {"config.json", "history.csv", "metrics.json", "model_card.md", "bundle.zip"} <= top
    assert {"charts", "model"} <= top
    charts = {item.path for item in client.list_artifacts(run_id, "charts")}
    assert charts == {"charts/training_curves.html"}
    folder = Path(client.download_artifacts(run_id, "config.json"))
    assert folder.read_text(encoding="utf-8") == config.to_json() + "\n"


def test_the_logged_model_predicts_what_the_app_predicts_on_raw_rows(server, client, logged):
    import mlflow.pyfunc

    _, config, prepared, run, run_id = logged
    rows = prepared.splits.X_test.copy()
    rows.iloc[0, rows.columns.get_loc("total_bill")] = np.nan  # a missing number
    rows.iloc[1, rows.columns.get_loc("day")] = None  # a missing category
    app = predict_frame(bundle_from_run(prepared, run, config, run_metrics(prepared, run)), rows)
    mlflow.set_tracking_uri(server.uri)
    for uri in (f"runs:/{run_id}/model", "models:/modeldesk-tips/1"):
        model = mlflow.pyfunc.load_model(uri)
        predicted = model.predict(rows)
        assert list(predicted.columns) == list(app.columns)
        assert (predicted["prediction"].to_numpy() == app["prediction"].to_numpy()).all()
        for column in [c for c in app.columns if c.startswith("probability_")]:
            gap = np.abs(predicted[column].to_numpy() - app[column].to_numpy()).max()
            assert gap <= 1e-5, (uri, column, gap)
    metadata = model.metadata
    assert metadata.get_input_schema().input_names() == list(rows.columns)
    assert metadata.saved_input_example_info is not None
    # The example is the schema's defaults, not a row of the data.
    example = pd.read_json(
        Path(client.download_artifacts(run_id, "model/input_example.json")), orient="split"
    )
    assert example["total_bill"].iloc[0] == pytest.approx(
        prepared.splits.X_train["total_bill"].median()
    )
    # The bundle logged beside it is the app's bundle, read by the app's own reader.
    bundle = read_bundle(client.download_artifacts(run_id, "bundle.zip"))
    assert bundle.config == config


def test_the_logged_model_loads_where_modeldesk_is_not_installed(client, logged, tmp_path):
    """The model's own code/ folder carries the `core` package: an isolated interpreter in a
    folder away from the repository loads it and predicts what the app predicts."""
    _, config, prepared, run, run_id = logged
    client.download_artifacts(run_id, "model", str(tmp_path))
    rows = prepared.splits.X_test
    rows.to_parquet(tmp_path / "rows.parquet")
    script = """
import sys
import mlflow.pyfunc, pandas as pd
assert "core" not in sys.modules
model = mlflow.pyfunc.load_model("model")
model.predict(pd.read_parquet("rows.parquet")).to_parquet("out.parquet")
print(sys.modules["core"].__file__)
"""
    done = fresh_python("-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(tmp_path) in done.stdout, "core came from the model's own folder"
    app = predict_frame(bundle_from_run(prepared, run, config, run_metrics(prepared, run)), rows)
    out = pd.read_parquet(tmp_path / "out.parquet")
    for column in [c for c in app.columns if c.startswith("probability_")]:
        assert np.abs(out[column].to_numpy() - app[column].to_numpy()).max() <= 1e-5


def test_a_search_logs_one_parent_and_a_nested_run_per_trial(client, server):
    tracker = Tracker(server.uri, "tests-search")
    parent = start_search_parent(tracker, "lr-search", params={"space.learning_rate": "1e-3..1e-1"})
    rates = [1e-3, 1e-2, 1e-1]
    for index, rate in enumerate(rates):
        log_trial(
            tracker,
            parent,
            f"trial-{index}",
            params={"train.learning_rate": rate},
            metrics={"val_loss": 1.0 - rate},
            history={"loss": [1.0, 0.5], "val_loss": [1.1, 1.0 - rate]},
        )
    end_search(tracker, parent, best={"val_loss": 0.9}, best_trial="trial-2")
    assert tracker.flush(60) and tracker.failure is None, tracker.failure
    parent_id = tracker.run_id(parent)
    experiment = client.get_experiment_by_name("tests-search").experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert sorted(child.info.run_name for child in children) == ["trial-0", "trial-1", "trial-2"]
    for child in children:
        rate = float(child.data.params["train.learning_rate"])
        assert child.data.metrics["val_loss"] == pytest.approx(1.0 - rate)
        assert child.data.tags["modeldesk.trial"] == child.info.run_name
        assert [m.step for m in client.get_metric_history(child.info.run_id, "loss")] == [1, 2]
        assert child.info.status == "FINISHED"
    top = client.get_run(parent_id)
    assert top.data.tags["modeldesk.best_trial"] == "trial-2"
    assert top.data.metrics["best.val_loss"] == pytest.approx(0.9)
    assert len(client.search_runs([experiment])) == 4


def test_the_session_folder_opens_in_mlflow_with_every_run(logged, tmp_path):
    from mlflow.tracking import MlflowClient

    dataset, config, prepared, run, _ = logged
    _, _, other_prepared = tips_config(epochs=2, seed=1)
    job = start_training(other_prepared, config.model, replace(config.train, epochs=2), name="B")
    assert job.join(120)
    runs = [SessionRun(run, prepared, dataset.sha256), SessionRun(job.result(), other_prepared)]
    data = session_runs_zip(runs)
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as zipped:
        zipped.extractall(tmp_path)
    reader = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = reader.get_experiment_by_name("ModelDesk")
    found = {item.info.run_name: item for item in reader.search_runs([experiment.experiment_id])}
    assert set(found) == {"Run 1", "B"}
    assert found["Run 1"].data.params == run_params(config, dataset.sha256)
    history = reader.get_metric_history(found["Run 1"].info.run_id, "val_loss")
    assert np.allclose([m.value for m in history], run.history["val_loss"])
    assert "test.accuracy" in found["B"].data.metrics
    # Served the way `mlflow ui --backend-store-uri sqlite:///mlflow.db` serves it in that folder.
    served = Server(tmp_path)
    try:
        remote = MlflowClient(tracking_uri=served.uri)
        for item in found.values():
            names = {entry.path for entry in remote.list_artifacts(item.info.run_id)}
            assert {"config.json", "history.csv", "metrics.json", "model_card.md"} <= names
        text = Path(remote.download_artifacts(found["B"].info.run_id, "history.csv")).read_text()
        assert text.startswith("epoch,")
    finally:
        served.stop()


def test_a_bad_uri_is_refused_with_a_message():
    for bad in ("mlruns", "file:///tmp/x", "ftp://host", "", "http://a b"):
        with pytest.raises(UserError) as caught:
            check_uri(bad)
        assert caught.value.message.key == "tracking.error.uri"
    assert check_uri(" sqlite:///x.db ") == "sqlite:///x.db"


def test_mlflow_is_never_imported_without_the_setting(tmp_path):
    """The app's modules and a CLI run without --mlflow, in a fresh interpreter."""
    data = tmp_path / "tips.csv"
    load_sample("tips").frame.to_csv(data, index=False)
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import core.train.tracking, core.cli.tracking, ui.sections.tracking
from core.cli.main import main
code = main(["train", {str(data)!r}, "--target", "time", "--out", {str(tmp_path / "out")!r},
             "--config", {str(tmp_path / "config.json")!r}])
assert code == 0, code
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "mlflow")
print("MLFLOW:", loaded[:5])
sys.exit(1 if loaded else 0)
"""
    _, config, _ = tips_config(epochs=2)
    (tmp_path / "config.json").write_text(config.to_json(), encoding="utf-8")
    done = fresh_python("-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_train_logs_to_mlflow_and_a_bad_or_dead_uri_never_fails_the_run(
    server, client, tmp_path, capsys
):
    from core.cli.main import main

    data = tmp_path / "tips.csv"
    load_sample("tips").frame.to_csv(data, index=False)
    _, config, _ = tips_config(epochs=2)
    (tmp_path / "config.json").write_text(config.to_json(), encoding="utf-8")
    base = ["train", str(data), "--target", TARGET, "--config", str(tmp_path / "config.json")]
    assert main([*base, "--out", str(tmp_path / "a"), "--mlflow", "mlruns"]) == 2
    assert "tracking URI" in capsys.readouterr().err
    assert not (tmp_path / "a").exists(), "refused before training"
    assert main([*base, "--out", str(tmp_path / "b"), "--mlflow", server.uri]) == 0
    said = capsys.readouterr()
    run_id = said.out.strip().splitlines()[-1].split("(run ")[1].rstrip(").")
    logged = client.get_run(run_id)
    assert logged.data.params["data.sha256"] and logged.data.params["train.epochs"] == "2"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [1, 2]
    assert "model" in {item.path for item in client.list_artifacts(run_id)}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert main([*base, "--out", str(tmp_path / "c"), "--mlflow", dead]) == 0
    said = capsys.readouterr()
    assert "MLflow logging failed" in said.err and "the run itself is complete" in said.err.lower()
    assert (tmp_path / "c" / "bundle.zip").is_file()


def test_a_run_finishes_when_its_tracking_server_dies_and_says_logging_failed(server, client):
    """Last in this module: it stops the module's server in the middle of a run."""
    _, config, prepared = tips_config(epochs=400)
    tracker = Tracker(server.uri, "tests-dying")
    job = start_training(prepared, config.model, config.train, name="outlives")
    followed = track_job(tracker, job, prepared, config)
    deadline = time.monotonic() + 60
    epochs_seen: list = []
    while not epochs_seen and time.monotonic() < deadline:
        time.sleep(0.2)
        run_id = tracker.run_id(followed.handle)
        epochs_seen = client.get_metric_history(run_id, "loss") if run_id else []
    assert epochs_seen, tracker.failure
    assert job.running, "epochs arrive while the job trains, not only at its end"
    server.stop()
    assert job.join(120)
    run = job.result()
    assert run.status == "finished" and run.epochs_trained == 400
    assert followed.join(60)
    assert tracker.flush(60)  # the queue drains: later work is dropped, not retried forever
    assert tracker.failure is not None
    assert tracker.failure.key == "tracking.failed.error"
    assert "tracking server" in tracker.failure.text("en")
