"""Benchmark: CPU time and peak memory of each hostile input (tests/hostile_cases.py, and the JSON
documents below) until it is refused or loaded, beside an ordinary file of the same format and
byte size read by this code and by the code before the hardening, in the same run.

Run: .venv/bin/python bench/hostile.py --before REF [--only CASE_ID ...]

Each measurement runs in a fresh Python process: after the imports and after the input's bytes
are built, the process's resident memory is its idle baseline; the parse (`load_bytes`, then
`profile_frame` as the Data page does when it loads; or the document's parser) then runs while a
thread samples resident memory every 2 ms. CPU = process CPU time (all threads) of the parse;
peak = max(sampled peak, ru_maxrss) - baseline. A hostile input is parsed once (its first parse is
what a server meets); a normal file's CPU time is the best of three parses, now and before alike.

"before" is the tree of REF (the code to compare with, e.g. the commit before this round of
hardening, 65ee138) unpacked with `git archive` into a temporary folder, so no checkout or stash
is touched; its `core` reads the same normal file.

Done when: every hostile input is handled or refused within 2 s of CPU and 300 MB above the
process's idle memory, and normal files are read no slower than before.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_TARGET_S = 2.0
MEMORY_TARGET_MB = 300.0
SAMPLE_S = 0.002


def documents() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """JSON documents a user hands in (plan, config, backup): id -> (parser, bytes builder)."""
    from hostile_cases import _json_escape_run

    def plan_100000_columns() -> bytes:
        column = {"name": "c", "action": "keep", "kind": "numeric"}
        columns = [dict(column, name=f"c{i}") for i in range(100_000)]
        return json.dumps({"target": "y", "task": "regression", "columns": columns}).encode()

    def backup(events: list[dict]) -> bytes:
        document = {"format": "modeldesk.session_backup", "version": 1, "checklist": {},
                    "audit": {"events": events}}  # fmt: skip
        return json.dumps(document).encode()

    def event(index: object) -> dict:
        return {"index": index, "time": "2026-01-01T00:00:00+00:00", "kind": "upload",
                "details": {"rows": 1}, "previous": "0" * 64, "hash": "0" * 64}  # fmt: skip

    return {
        "doc_escape_run_plan": ("plan", lambda: _json_escape_run(100_000)),
        "doc_escape_run_config": ("config", lambda: _json_escape_run(100_000)),
        "doc_escape_run_backup": ("backup", lambda: _json_escape_run(100_000)),
        "doc_plan_100000_columns": ("plan", plan_100000_columns),
        "doc_backup_index_1e999": (
            "backup",
            lambda: backup([event(0)]).replace(b'"index": 0', b'"index": 1e999'),
        ),
        "doc_backup_1m_events": ("backup", lambda: backup([event(i) for i in range(1_000_000)])),
        "doc_backup_20000_events": ("backup", lambda: backup([event(i) for i in range(20_000)])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="case ids (default: every case)")
    parser.add_argument(
        "--before", default="65ee138", help="git revision of the code to compare normal files with"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("CASE", "KIND", "CORE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    from hostile_cases import BENCH_CASES, CASES

    ids = [c.id for c in (*CASES, *BENCH_CASES)] + list(documents())
    ids = [i for i in ids if not args.only or i in args.only]
    revision = args.before
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
    print(f"{len(ids)} hostile inputs; normal files read by this tree and by {revision[:10]}")
    with tempfile.TemporaryDirectory(prefix="modeldesk-before-") as before:
        archive = subprocess.run(["git", "archive", revision, "core"], cwd=ROOT,
                                 capture_output=True, check=True).stdout  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive)) as tree:
            tree.extractall(before, filter="data")
        report(ids, before)
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")


def report(ids: list[str], before: str) -> None:
    header = (
        f"{'input':<27} {'bytes':>11} {'outcome':<8} {'CPU s':>6} {'peak MB':>7}"
        f" | {'normal bytes':>12} {'now CPU s':>9} {'MB':>6} {'before CPU s':>12} {'MB':>6}"
    )
    print(header)
    print("-" * len(header))
    misses, slower = [], []
    for case_id in ids:
        hostile = child(case_id, "hostile", str(ROOT))
        line = (
            f"{case_id:<27} {hostile['bytes']:>11,} {hostile['outcome']:<8}"
            f" {hostile['cpu_s']:>6.2f} {hostile['peak_mb']:>7.1f}"
        )
        if hostile["cpu_s"] > CPU_TARGET_S or hostile["peak_mb"] > MEMORY_TARGET_MB:
            misses.append(case_id)
        if not case_id.startswith("doc_"):
            now = child(case_id, "normal", str(ROOT))
            then = child(case_id, "normal", before)
            line += (
                f" | {now['bytes']:>12,} {now['cpu_s']:>9.2f} {now['peak_mb']:>6.0f}"
                f" {then['cpu_s']:>12.2f} {then['peak_mb']:>6.0f}"
            )
            # Slower beyond noise: 20% and 0.2 s (single runs on a shared 2-core machine).
            if now["cpu_s"] > 1.2 * then["cpu_s"] + 0.2:
                slower.append(case_id)
        print(line, flush=True)
    print(f"targets: <= {CPU_TARGET_S:.0f} s CPU, <= {MEMORY_TARGET_MB:.0f} MB over idle")
    print("PASS" if not misses else f"MISS: {', '.join(misses)}")
    print("normal files: no slower" if not slower else f"normal slower: {', '.join(slower)}")


def child(case_id: str, kind: str, core_root: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", case_id, kind, core_root],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{case_id} ({kind}) failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def measure(case_id: str, kind: str, core_root: str) -> dict:
    """In the child: build the bytes, then measure the parse's CPU time and peak memory."""
    sys.path.insert(0, core_root)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from hostile_cases import BY_ID, normal_file

    from core.data.loading import load_bytes
    from core.data.profile import profile_frame
    from core.i18n import UserError

    assert Path(sys.modules["core"].__file__).is_relative_to(core_root)
    docs = documents()
    if case_id in docs:
        what, build = docs[case_id]
        data = build()
        parse = document_parser(what)
    else:
        case = BY_ID[case_id]
        data, name = case.data, case.filename
        if kind == "normal":
            extension = Path(name).suffix.lower()
            extension = extension if extension in (".xlsx", ".parquet", ".json") else ".csv"
            data, name = normal_file(len(data), extension), f"normal{extension}"

        def parse(data: bytes) -> None:
            profile_frame(load_bytes(data, name).frame)

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # building the input's bytes freed memory: return it
    baseline = rss_mb()
    maxrss_before = maxrss_mb()
    peak = [baseline]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = time.process_time()
    try:
        parse(data)
        outcome = "loaded"
    except UserError:
        outcome = "refused"
    except Exception as error:  # reported as the outcome: a crash is a finding
        outcome = type(error).__name__[:8]
    cpu_s = time.process_time() - cpu
    running.clear()
    sampler.join()
    if kind == "normal":  # the comparison of two codes: best of three, to see through the load
        for _ in range(2):
            cpu = time.process_time()
            parse(data)
            cpu_s = min(cpu_s, time.process_time() - cpu)
    peak_mb = max(peak[0], rss_mb()) - baseline
    maxrss_after = maxrss_mb()
    if maxrss_after > maxrss_before:  # a new high-water mark: the sampler may have missed it
        peak_mb = max(peak_mb, maxrss_after - baseline)
    return {"bytes": len(data), "outcome": outcome, "cpu_s": cpu_s, "peak_mb": peak_mb}


def document_parser(what: str) -> Callable[[bytes], object]:
    if what == "plan":
        from core.prep.preprocessing import PreprocessSpec

        return PreprocessSpec.from_json
    if what == "config":
        from core.train.runner import RunConfig

        return RunConfig.from_json
    from core.compliance.evidence import read_backup

    return read_backup


def rss_mb() -> float:
    """Resident memory now, in MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def maxrss_mb() -> float:
    """The process's peak resident memory so far, in MB (kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
