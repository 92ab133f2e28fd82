"""Training time with MLflow logging off and on: a live server, a dead one, one that never answers.

    python bench/tracking.py [--sample breast_cancer] [--epochs 100] [--repeat 3] [--modes ...]

Starts `mlflow server` on loopback over a SQLite file in a temporary folder, then trains the
same config (same seed) in rounds, the modes alternating within each round:

  off         no logging: the baseline
  on          core.train.tracking, the app's route (background thread, bounded queue)
  dead        the same, pointed at a port nothing listens on (connection refused)
  silent      the same, pointed at a socket that accepts and never answers (a hung server)
  inline      the raw library used naively: MlflowClient.log_batch called in the training
              thread after every epoch (TrainingJob's on_epoch hook), against the live server

and prints the median training time of each (the job's own duration: start to last epoch), its
ratio to "off", and how long the logging took to finish after training. The load average is
printed at the start and the end: on a shared machine the figures are indicative only.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.loading import load_sample
from core.deploy.tracking_artifacts import track_job
from core.prep.pipeline import prepare
from core.train.engine import TrainingJob
from core.train.runner import default_config, start_training
from core.train.tracking import Tracker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination", str(folder / "mlartifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return process, uri
        except OSError:
            time.sleep(0.2)
    raise SystemExit("mlflow server did not start")


def silent_server() -> tuple[socket.socket, str]:
    """A listening socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", default="breast_cancer")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="off,on,dead,silent,inline", help="comma-separated")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"load average at start: {os.getloadavg()}")
    dataset = load_sample(args.sample)
    config = default_config(dataset.frame, dataset.target_suggestion or "")
    config = replace(config, train=replace(config.train, epochs=args.epochs, early_stopping=False))
    prepared = prepare(dataset.frame, config.preprocess)
    folder = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    server, live_uri = start_server(folder)
    listener, silent_uri = silent_server()
    dead_uri = f"http://127.0.0.1:{free_port()}"
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    raw = MlflowClient(tracking_uri=live_uri)
    raw_experiment = raw.create_experiment("bench-inline")

    def train(mode: str) -> tuple[float, float]:
        """(training seconds, seconds from the end of training until logging finished)."""
        if mode == "inline":
            run_id = raw.create_run(raw_experiment).info.run_id

            def log_epoch(epoch: int, logs: dict) -> None:
                now = int(time.time() * 1000)
                metrics = [Metric(k, float(v), now, epoch) for k, v in logs.items()]
                raw.log_batch(run_id, metrics=metrics)

            job = TrainingJob(
                config.model, config.train, prepared.spec.task,
                len(prepared.preprocessor.classes_), prepared.X_train, prepared.y_train,
                prepared.X_val, prepared.y_val, on_epoch=log_epoch,
            ).start()  # fmt: skip
            job.join()
            return job.result().duration_s, 0.0
        job = start_training(prepared, config.model, config.train, name=mode)
        tracker = None
        if mode != "off":
            uri = {"on": live_uri, "dead": dead_uri, "silent": silent_uri}[mode]
            tracker = Tracker(uri, "bench")
            followed = track_job(tracker, job, prepared, config, data_sha256=dataset.sha256)
        job.join()
        ended = time.monotonic()
        if tracker is None:
            return job.result().duration_s, 0.0
        followed.join(120)
        tracker.flush(120)
        failure = tracker.failure
        if (mode == "on") == (failure is not None):
            raise SystemExit(f"{mode}: unexpected logging outcome {failure}")
        return job.result().duration_s, time.monotonic() - ended

    modes = ["off", *[m for m in args.modes.split(",") if m and m != "off"]]
    train("off")  # warm-up: TensorFlow's first graph and the server's first requests
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    after: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for _ in range(args.repeat):
            for mode in modes:
                seconds, tail = train(mode)
                times[mode].append(seconds)
                after[mode].append(tail)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        listener.close()
    base = statistics.median(times["off"])
    rows = len(prepared.y_train)
    print(f"{args.sample}: {rows} training rows, {args.epochs} epochs, {args.repeat} rounds")
    print(f"{'mode':8} {'train s (median)':>17} {'x off':>7} {'logging done after s':>21}")
    for mode in modes:
        median = statistics.median(times[mode])
        tail = statistics.median(after[mode])
        print(f"{mode:8} {median:17.2f} {median / base:7.2f} {tail:21.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
