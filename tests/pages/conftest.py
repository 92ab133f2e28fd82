"""Every page test fails on a warning from Streamlit's own loggers (its server log).

Streamlit's loggers do not propagate to the root logger, so pytest's caplog never sees them;
the capture wraps `logging.Logger.callHandlers` instead, which every logger goes through. The
"created with a default value but also had its value set via the Session State API" warning is
logged once per process (a module flag): the flag is reset before each test so that every test
can catch it, not only the first one to trigger it.

One warning is the harness's own: the test thread (MainThread) seeding `at.session_state`
outside any script run logs "missing ScriptRunContext". The app's scripts run in AppTest's
script thread, so the same warning from any other thread (a background job touching Streamlit)
still fails the test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from streamlit.elements.lib import policies


class StreamlitLog:
    """The warnings Streamlit's loggers emitted during one test."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    @property
    def warnings(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records]


@pytest.fixture(autouse=True)
def streamlit_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[StreamlitLog]:
    """Capture Streamlit's warnings; fail the test if there were any."""
    log = StreamlitLog()
    original = logging.Logger.callHandlers

    def capture(logger: logging.Logger, record: logging.LogRecord) -> None:
        harness = record.threadName == "MainThread" and "ScriptRunContext" in record.getMessage()
        ours = record.name.startswith("streamlit") and record.levelno >= logging.WARNING
        if ours and not harness:
            log.records.append(record)
        original(logger, record)

    monkeypatch.setattr(logging.Logger, "callHandlers", capture)
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    yield log
    if getattr(log, "expected", False):
        return
    assert not log.warnings, "Streamlit logged warnings:\n" + "\n".join(log.warnings)
