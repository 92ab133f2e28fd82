"""Benchmark: `python -m core serve` against the same raw-row graph called in-process.

Run: .venv/bin/python bench/serve.py [--sample tips] [--requests 400]

Trains the sample briefly, exports its bundle (saved_model/ and model.onnx inside), starts
`python -m core serve` in a subprocess pinned to one CPU core with TensorFlow on one thread, and
measures, for batches of 1, 32 and 1024 rows:
  - our server with a keep-alive client (one HTTP/1.1 connection) and with a new connection per
    request (http.client, JSON encoding and decoding included: what a client pays);
  - the SavedModel loaded with tf.saved_model.load and called in-process (one thread);
  - the ONNX model in onnxruntime in-process (one thread), when installed.
The in-process baselines run in this process, pinned to one core as well.
Targets (the serving issue): one-row p95 <= 5 ms with the keep-alive client; batch-1024
throughput of the server within 2x of onnxruntime in-process. Load average printed beside.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (1, 32, 1024)
ONE_THREAD = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def percentiles(seconds: list[float]) -> tuple[float, float]:
    values = np.asarray(seconds) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def timed(call, repeats: int) -> list[float]:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="tips")
    parser.add_argument("--requests", type=int, default=400, help="requests of one row")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args()
    os.environ.update(ONE_THREAD)
    sys.path.insert(0, str(ROOT))
    from core.data.loading import SAMPLES, load_sample
    from core.deploy.bundle import export_bundle_bytes
    from core.deploy.graph import feed_frame, raw_row_plan
    from core.deploy.onnx_export import onnx_available, onnx_outputs, onnx_session
    from core.evaluate.metrics import run_metrics
    from core.prep.pipeline import prepare
    from core.train.runner import default_config, start_training

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_cpu % os.cpu_count()})
    frame = load_sample(args.sample).frame
    config = default_config(frame, SAMPLES[args.sample].target)
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, config.train, name=args.sample)
    job.join()
    run = job.result()
    archive_bytes = export_bundle_bytes(prepared, run, config, run_metrics(prepared, run))
    plan = raw_row_plan(prepared.preprocessor)
    pool = frame.drop(columns=[prepared.spec.target]).sample(1024, replace=True, random_state=0)
    pool = pool.reset_index(drop=True)
    instances = json.loads(pool.to_json(orient="records", date_format="iso"))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bundle.zip").write_bytes(archive_bytes)
        with zipfile.ZipFile(folder / "bundle.zip") as zipped:
            zipped.extractall(folder / "bundle")
        server_cpu = args.server_cpu % os.cpu_count()
        process = subprocess.Popen(
            ["taskset", "-c", str(server_cpu), sys.executable, "-m", "core", "serve",
             str(folder / "bundle.zip"), "--port", "0", "--name", "bench"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            line = process.stdout.readline() if process.stdout else ""
            address = line.split("http://", 1)[1].split("/v1/", 1)[0]
            host, port = address.rsplit(":", 1)
            wait_ready(host, int(port))
            results = measure_server(host, int(port), instances, args.requests)
        finally:
            process.terminate()
            process.wait(timeout=30)
        results.update(
            measure_saved_model(folder / "bundle" / "saved_model", plan, pool, args.requests)
        )
        if onnx_available():
            session = onnx_session((folder / "bundle" / "model.onnx").read_bytes(), threads=1)
            for size in BATCHES:
                feed = feed_frame(plan, pool.iloc[:size])
                times = timed(lambda f=feed: onnx_outputs(session, f), repeats(size, args.requests))
                results[("onnxruntime in-process", size)] = times

    loadavg = Path("/proc/loadavg")
    load = loadavg.read_text().split()[:3] if loadavg.exists() else ["?"]
    print(f"core serve vs in-process, sample {args.sample}, {len(plan.inputs)} input columns, "
          f"server on CPU {server_cpu}, client/in-process on CPU {args.client_cpu}, "
          f"load average {' '.join(load)}")  # fmt: skip
    print(f"{'runtime':<34} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'rows/s':>10}")
    for (name, size), times in results.items():
        p50, p95 = percentiles(times)
        print(f"{name:<34} {size:>5} {p50:>8.2f} {p95:>8.2f} {size / np.mean(times):>10,.0f}")
    keep_p95 = percentiles(results[("core serve, keep-alive", 1)])[1]
    verdicts = [f"one-row p95 keep-alive {keep_p95:.2f} ms (target <= 5): "
                f"{'met' if keep_p95 <= 5 else 'NOT met'}"]  # fmt: skip
    if ("onnxruntime in-process", 1024) in results:
        ours = 1024 / np.mean(results[("core serve, keep-alive", 1024)])
        theirs = 1024 / np.mean(results[("onnxruntime in-process", 1024)])
        verdicts.append(f"batch-1024 throughput {ours:,.0f} vs onnxruntime {theirs:,.0f} rows/s, "
                        f"{theirs / ours:.2f}x (target <= 2x): "
                        f"{'met' if theirs / ours <= 2 else 'NOT met'}")  # fmt: skip
    print("\n".join(verdicts))
    return 0


def repeats(size: int, one_row: int) -> int:
    return max(20, one_row // max(1, size // 8))


def wait_ready(host: str, port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def measure_server(host: str, port: int, instances: list, one_row: int) -> dict:
    results: dict = {}
    headers = {"Content-Type": "application/json"}
    for keep_alive in (True, False):
        connection = http.client.HTTPConnection(host, port, timeout=60)
        for size in BATCHES:
            body = json.dumps({"instances": instances[:size]})

            def call(body: str = body, keep_alive: bool = keep_alive) -> None:
                nonlocal connection
                if not keep_alive:
                    connection = http.client.HTTPConnection(host, port, timeout=60)
                connection.request("POST", "/v1/models/bench:predict", body, headers)
                response = connection.getresponse()
                data = response.read()
                if response.status != 200:
                    raise RuntimeError(data[:200])
                json.loads(data)
                if not keep_alive:
                    connection.close()

            name = "core serve, keep-alive" if keep_alive else "core serve, new connection"
            results[(name, size)] = timed(call, repeats(size, one_row))
        connection.close()
    return results


def measure_saved_model(folder: Path, plan, pool, one_row: int) -> dict:
    import tensorflow as tf

    # One thread: TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS were set before TF loaded.
    from core.deploy.graph import SIGNATURE, feed_frame

    function = tf.saved_model.load(str(folder)).signatures[SIGNATURE]
    results = {}
    for size in BATCHES:
        feed = {k: tf.constant(v) for k, v in feed_frame(plan, pool.iloc[:size]).items()}
        results[("SavedModel in-process", size)] = timed(
            lambda f=feed: function(**f), repeats(size, one_row)
        )
    return results


if __name__ == "__main__":
    raise SystemExit(main())
