"""Benchmark: peak memory and time of each hostile upload (tests/hostile_cases.py) until it is
refused or loaded, beside an ordinary CSV of the same byte size.

Run: .venv/bin/python bench/hostile.py [--only CASE_ID ...]

Each file is measured in a fresh Python process: after the imports and after the file's bytes
are built, the process's resident memory is the baseline; `load_bytes` (and, for a file that
loads, `profile_frame`, as the Data page does) then runs while a thread samples the resident
memory every 2 ms. Peak = max(sampled peak, ru_maxrss) - baseline.
Done when: no case peaks above 500 MB over its process baseline or takes more than 10 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_TARGET_MB = 500.0
TIME_TARGET_S = 10.0
SAMPLE_S = 0.002


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="case ids (default: every case)")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from hostile_cases import CASES

    cases = [c for c in CASES if not args.only or c.id in args.only]
    print(f"{len(cases)} hostile cases; each and its same-size normal CSV in a fresh process")
    header = (
        f"{'case':<28} {'bytes':>11} {'outcome':<8} {'time s':>7} {'peak MB':>8}"
        f" | {'normal s':>8} {'normal MB':>9}"
    )
    print(header)
    print("-" * len(header))
    worst_time = worst_memory = 0.0
    misses = []
    for case in cases:
        hostile = child(case.id, "hostile")
        normal = child(case.id, "normal")
        print(
            f"{case.id:<28} {hostile['bytes']:>11,} {hostile['outcome']:<8}"
            f" {hostile['seconds']:>7.2f} {hostile['peak_mb']:>8.1f}"
            f" | {normal['seconds']:>8.2f} {normal['peak_mb']:>9.1f}",
            flush=True,
        )
        worst_time = max(worst_time, hostile["seconds"])
        worst_memory = max(worst_memory, hostile["peak_mb"])
        if hostile["seconds"] > TIME_TARGET_S or hostile["peak_mb"] > MEMORY_TARGET_MB:
            misses.append(case.id)
    print(
        f"worst: {worst_time:.2f} s, {worst_memory:.1f} MB over baseline "
        f"(targets: <= {TIME_TARGET_S:.0f} s, <= {MEMORY_TARGET_MB:.0f} MB)"
    )
    print("PASS" if not misses else f"MISS: {', '.join(misses)}")


def child(case_id: str, kind: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", case_id, kind],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{case_id} ({kind}) failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def measure(case_id: str, kind: str) -> dict:
    """In the child: build the bytes, then time and sample the load (and profile)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from hostile_cases import BY_ID, normal_file

    from core.data.loading import load_bytes
    from core.data.profile import profile_frame
    from core.i18n import UserError

    case = BY_ID[case_id]
    data = case.data
    name = case.filename
    if kind == "normal":
        data, name = normal_file(len(data)), "normal.csv"
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
    started = time.perf_counter()
    try:
        dataset = load_bytes(data, name)
        profile_frame(dataset.frame)
        outcome = "loaded"
    except UserError:
        outcome = "refused"
    seconds = time.perf_counter() - started
    running.clear()
    sampler.join()
    peak_mb = max(peak[0], rss_mb()) - baseline
    maxrss_after = maxrss_mb()
    if maxrss_after > maxrss_before:  # a new high-water mark: the sampler may have missed it
        peak_mb = max(peak_mb, maxrss_after - baseline)
    return {"bytes": len(data), "outcome": outcome, "seconds": seconds, "peak_mb": peak_mb}


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
