"""Shared test setup: strict translations, and a real app server for browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("MODELDESK_CHROMIUM", "/usr/bin/chromium"))

# A missing translation raises instead of showing a raw key, so any page test catches it.
os.environ["MODELDESK_STRICT_I18N"] = "1"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium, never a downloaded browser; a missing one fails loudly."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with 'apt-get install -y chromium'"
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def embedded_ray():
    """One embedded Ray cluster (2 CPUs, loopback only) for every test that trains on Ray:
    starting one costs seconds, so the cluster and job-contract tests share it."""
    pytest.importorskip("ray")
    from core.train import cluster

    cluster.start_local(num_cpus=2)
    yield cluster
    cluster.disconnect()


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """A real `streamlit run app.py` shared by the browser tests."""
    with app_server() as url:
        yield url


@pytest.fixture
def start_server():
    """Start a server of one's own (a fresh process), as a context manager."""
    return app_server


@contextmanager
def app_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """A real `streamlit run app.py` on a free port (with `env` added), healthy before it is
    handed out."""
    port = _free_port()
    env = {**os.environ, "MODELDESK_STRICT_I18N": "1", **(env or {})}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true", "--server.port", str(port),
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode(errors="replace") if server.stdout else ""
            raise RuntimeError(f"streamlit exited early:\n{output}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit at {url} not healthy after {timeout} s")


# Each folder of tests is one kind, and its tests carry that kind's marker (pyproject.toml).
FOLDER_MARKERS = {
    "browser": "browser",
    "pages": "pages",
    "lint": "lint",
    "ray": "ray",
    "multiprocess": "multiprocess",
    "tracking": "tracking",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder (tests/unit, plain pytest over core, has no marker)."""
    for item in items:
        marker = FOLDER_MARKERS.get(Path(str(item.fspath)).parent.name)
        if marker is not None:
            item.add_marker(getattr(pytest.mark, marker))
