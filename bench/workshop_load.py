"""The room in a bench: one shared server, N Chromium participants through a lesson.

Starts `streamlit run app.py` with MODELDESK_SHARED=1, then for each N runs N participants at
once (Playwright, Debian's Chromium at /usr/bin/chromium launched under `nice -n 19` and in
Linux's SCHED_IDLE class, so they take what the server leaves; `--nice-only` for nice alone;
one browser context each). Every participant opens `/?lesson=<id>`, opens Train, trains with the
lesson's presets, waits for the run to appear in their history *without reopening a page*,
names the run with a secret word, and opens Evaluate. Meanwhile the server's RSS and CPU time
are sampled and a health probe runs. At the end every participant's page is searched for
the other participants' secret words (isolation).

Prints per step median / worst seconds, failures, frontend errors, pages drawn wrong (a run in
the history whose heading is missing), health-probe p50/p95/max (the probe is a process of
its own; p95 also while the pages load and after), the machine's CPU beside the server's,
server RSS peak, the server CPU-seconds per participant, and from that how many cores a room
of 30 needs for every participant to finish training within 60 s.

    .venv/bin/python bench/workshop_load.py --n 1 10 20 [--lesson first_model] [--shots DIR]
        [--trace FILE] [--nice-only]
    --trace FILE: the server writes one line per script-run event there (ui.trace)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MODELDESK_CHROMIUM", "/usr/bin/chromium")
STEPS = ("open_lesson", "open_train", "train_done", "open_evaluate")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Participant:
    index: int
    word: str = field(default_factory=lambda: "w" + secrets.token_hex(6))
    times: dict[str, float] = field(default_factory=dict)
    failure: str | None = None
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # every other console error, for diagnosis
    leaked: list[str] = field(default_factory=list)
    sees_own: bool = False
    glitches: list[str] = field(default_factory=list)
    opened_at: float | None = None  # monotonic time when the lesson page was up
    who: str = "-"  # the trace's name for this participant (a hash of their resume token)


# The health probe runs in its own process, so it measures the server and not this one (whose
# GIL is busy driving twenty pages through Playwright).
PROBE = """
import sys, time, urllib.request
url, every = sys.argv[1], float(sys.argv[2])
while True:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30):
            ok = 1
    except OSError:
        ok = 0
    print(f"{time.monotonic():.3f} {time.monotonic() - started:.4f} {ok}", flush=True)
    time.sleep(every)
"""


class Sampler(threading.Thread):
    """The server's RSS every `every` seconds, its CPU time, and a health probe (a process of
    its own, at normal priority) every `every` seconds."""

    def __init__(self, pid: int, url: str, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.url, self.every = pid, url, every
        self.rss_peak = 0
        self.health: list[tuple[float, float, bool]] = []  # (monotonic time, seconds, answered)
        self.halt = threading.Event()
        self.probe = subprocess.Popen(
            [sys.executable, "-c", PROBE, f"{url}/_stcore/health", str(every)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def stop(self) -> None:
        self.halt.set()
        self.probe.terminate()
        out, _ = self.probe.communicate(timeout=30)
        for line in out.splitlines():
            at, seconds, ok = line.split()
            self.health.append((float(at), float(seconds), ok == "1"))

    @staticmethod
    def machine_cpu_seconds() -> float:
        """CPU time of every process on the machine (busy time from /proc/stat), in seconds."""
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
        return (user + nice + system + irq + softirq) / TICKS

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def run(self) -> None:
        while not self.halt.wait(self.every):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.rss_peak = max(self.rss_peak, int(line.split()[1]) * 1024)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, trace: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "MODELDESK_SHARED": "1"}
    if trace is not None:
        env["MODELDESK_TRACE"] = str(trace)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.port", str(port), "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not become healthy in 90 s")


def niced_chromium(idle: bool = True) -> str:
    """A wrapper that starts Debian's Chromium at the lowest priority (the server goes first):
    `nice -n 19`, and by default also Linux's SCHED_IDLE class (`chrt --idle 0`), which runs the
    browsers only when the server does not want the CPU. Nice 19 alone still gives twenty busy
    renderers time slices the server waits behind (a room's browsers run on the participants'
    own machines; here they share the server's two cores)."""
    wrapper = Path(tempfile.mkdtemp(prefix="modeldesk-bench-")) / "chromium"
    idle_class = "chrt --idle 0 " if idle else ""
    wrapper.write_text(f'#!/bin/sh\nexec {idle_class}nice -n 19 {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def participant_flow(
    browser, url: str, lesson: str, p: Participant, timeout: float, shots: Path | None
):
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: p.errors.append(str(error)[:200]))
    page.on("console", lambda msg: _console(p, msg))
    # A dropped websocket loses whatever the server had not yet delivered: worth seeing.
    page.on("websocket", lambda ws: ws.on("close", lambda _: p.console.append("websocket closed")))
    ms = timeout * 1000

    async def step(name, action):
        started = time.monotonic()
        await action()
        p.times[name] = time.monotonic() - started

    try:
        await step("open_lesson", lambda: _open_lesson(page, url, lesson, ms))
        p.opened_at = time.monotonic()
        await step("open_train", lambda: _open_page(page, "Train", "h1:has-text('Train')", ms))
        await step("train_done", lambda: _train(page, ms))
        if not await page.get_by_text("Runs in this session").count():
            p.glitches.append("the run history's heading is missing")
        await page.get_by_role("textbox", name="Name").fill(p.word, timeout=ms)
        await page.get_by_role("button", name="Rename").click()
        # The run picker is a combobox whose value is the run's name once the rename landed.
        await page.wait_for_function(
            "w => [...document.querySelectorAll('input')].some("
            "e => e.getAttribute('aria-label') === 'Run' && e.value === w)",
            arg=p.word,
            timeout=ms,
        )
        await step(
            "open_evaluate",
            lambda: _open_page(page, "Evaluate", "h3:has-text('Held-out metrics')", ms),
        )
    except Exception as error:  # a participant's failure is a figure, not a crash
        token = parse_qs(urlparse(page.url).query).get("resume", [""])[0]
        p.who = hashlib.sha256(token.encode()).hexdigest()[:8] if token else "-"
        p.failure = f"{len(p.times)}:{type(error).__name__}: {str(error).splitlines()[0][:120]}"
        if shots is not None:
            with contextlib.suppress(Exception):
                await page.screenshot(path=str(shots / f"failed-{p.index}.png"), full_page=True)
                text = await page.inner_text("body")
                (shots / f"failed-{p.index}.txt").write_text(text)
                (shots / f"failed-{p.index}.html").write_text(await page.content())
    return context, page


def _console(p: Participant, msg) -> None:
    if msg.type != "error":
        return
    (p.errors if "setIn" in msg.text else p.console).append(msg.text[:300])


async def _open_lesson(page, url, lesson, ms):
    await page.goto(f"{url}/?lesson={lesson}", timeout=ms)
    await page.get_by_text("Lesson:").first.wait_for(timeout=ms)


async def _open_page(page, title, ready, ms):
    await page.get_by_role("link", name=title).first.click(timeout=ms)
    await page.locator(ready).first.wait_for(timeout=ms)


async def _train(page, ms):
    await page.get_by_role("button", name="Train", exact=True).click(timeout=ms)
    # The run is in the history when the history's run picker shows up (its heading is checked
    # on its own afterwards: a page that lost it is a glitch, not a run that never landed).
    await page.get_by_role("combobox", name="Run").wait_for(timeout=ms)


async def one_room(
    n: int,
    lesson: str,
    timeout: float,
    shots: Path | None = None,
    trace: Path | None = None,
    idle: bool = True,
) -> dict:
    from playwright.async_api import async_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, trace)
    sampler = Sampler(server.pid, url)
    sampler.start()
    cpu_before = sampler.cpu_seconds()
    machine_before = sampler.machine_cpu_seconds()
    people = [Participant(i) for i in range(n)]
    started = time.monotonic()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=niced_chromium(idle),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            opened = await asyncio.gather(
                *(participant_flow(browser, url, lesson, p, timeout, shots) for p in people)
            )
            for p, (_, page) in zip(people, opened, strict=True):
                try:
                    # Every text node (the run table's cells included) and every input's value.
                    text = await page.evaluate(
                        "() => document.body.textContent + ' ' + [...document.querySelectorAll("
                        "'input, textarea')].map(e => e.value).join(' ')"
                    )
                except Exception:
                    continue
                p.leaked = [o.word for o in people if o is not p and o.word in text]
                p.sees_own = p.word in text  # the check can see a word when one is there
            await browser.close()
    finally:
        elapsed = time.monotonic() - started
        cpu = sampler.cpu_seconds() - cpu_before
        machine = sampler.machine_cpu_seconds() - machine_before
        sampler.stop()
        server.terminate()
        server.wait(timeout=30)
    return {
        "n": n, "people": people, "cpu": cpu, "machine": machine, "elapsed": elapsed,
        "opened": max((p.opened_at or started for p in people), default=started),
        "sampler": sampler,
    }  # fmt: skip


def report(room: dict) -> None:
    n, people, sampler = room["n"], room["people"], room["sampler"]
    print(f"\nN = {n}: {sum(p.failure is None for p in people)} of {n} finished the lesson")
    for name in STEPS:
        times = [p.times[name] for p in people if name in p.times]
        if times:
            print(
                f"  {name:14s} median {statistics.median(times):6.1f} s"
                f"   worst {max(times):6.1f} s   ({len(times)} of {n})"
            )
    for p in people:
        if p.failure:
            print(f"  failure: participant {p.index} (trace {p.who}): {p.failure}")
    errors = sum(len(p.errors) for p in people)
    console = Counter(text for p in people for text in p.console)
    leaks = sum(len(p.leaked) for p in people)
    own = sum(p.sees_own for p in people)
    glitches = [f"participant {p.index}: {g}" for p in people for g in p.glitches]
    print(f"  pages drawn wrong: {len(glitches)}" + "".join(f"\n    {g}" for g in glitches))
    print(
        f"  frontend errors: {errors}   isolation violations: {leaks}"
        f"   (own run name found on {own} of {n} pages)"
    )
    print(
        f"  other console errors: {sum(console.values())}"
        + "".join(f"\n    {count} x {text}" for text, count in console.most_common(5))
    )
    for p in people:
        if p.failure and p.console:
            print(f"    participant {p.index} (failed): {', '.join(p.console[-3:])}")
    latencies = [seconds for _, seconds, _ in sampler.health]
    unanswered = sum(not ok for _, _, ok in sampler.health)
    print(
        f"  health probe: p50 {percentile(latencies, 0.5):.3f} s,"
        f" p95 {percentile(latencies, 0.95):.3f} s, max {max(latencies, default=0):.3f} s"
        f" ({len(latencies)} probes, {unanswered} unanswered)"
    )
    opened = room["opened"]  # when the last participant's lesson page was up
    for label, keep in (
        ("while the pages load", lambda at: at <= opened),
        ("after", lambda at: at > opened),
    ):
        part = [seconds for at, seconds, _ in sampler.health if keep(at)]
        if part:
            print(
                f"    {label}: p95 {percentile(part, 0.95):.3f} s,"
                f" max {max(part):.3f} s ({len(part)} probes)"
            )
    print(f"  server RSS peak: {sampler.rss_peak / 2**30:.2f} GB")
    per = room["cpu"] / max(1, n)
    print(
        f"  server CPU: {room['cpu']:.1f} s in {room['elapsed']:.0f} s, {per:.1f} s per participant"
        f"; the browsers and the rest of the machine: {room['machine'] - room['cpu']:.1f} s"
    )
    print(
        f"  a room of 30 finishing training within 60 s needs about "
        f"{max(1, math.ceil(30 * per / 60))} cores for the server (browsers elsewhere)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 10, 20])
    parser.add_argument("--lesson", default="first_model")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per step")
    parser.add_argument("--shots", type=Path, help="folder for a screenshot of each failed page")
    parser.add_argument(
        "--nice-only",
        action="store_true",
        help="browsers at nice 19 only, not also in the SCHED_IDLE class",
    )
    parser.add_argument(
        "--trace", type=Path, help="file for the server's per-run trace (MODELDESK_TRACE)"
    )
    args = parser.parse_args()
    print(
        f"ModelDesk workshop load: lesson {args.lesson}, {os.cpu_count()} cores on this machine,"
        f" browsers at nice 19{'' if args.nice_only else ' in the SCHED_IDLE class'}"
    )
    rooms = []
    for n in args.n:
        rooms.append(
            asyncio.run(
                one_room(n, args.lesson, args.timeout, args.shots, args.trace, not args.nice_only)
            )
        )
        report(rooms[-1])
    if len(rooms) > 1:
        small, large = min(rooms, key=lambda r: r["n"]), max(rooms, key=lambda r: r["n"])
        marginal = (large["cpu"] - small["cpu"]) / max(1, large["n"] - small["n"])
        print(
            f"\nMarginal server CPU per added participant (N = {small['n']} -> {large['n']}):"
            f" {marginal:.1f} s; a room of 30 training within 60 s needs about"
            f" {max(1, math.ceil(30 * marginal / 60))} cores for the server"
        )


if __name__ == "__main__":
    main()
