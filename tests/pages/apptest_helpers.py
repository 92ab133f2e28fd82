"""AppTest helpers shared by the page tests: open the app on a page, train the first model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_app(
    lang: str = "en", page: str | None = None, *, state: dict | None = None, timeout: float = 60
) -> AppTest:
    """The app through app.py in `lang` (session `state` seeded first), switched to `page` if
    given, with no exception shown."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.session_state["lang"] = lang
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def poll_until_done(at: AppTest, timeout: float = 120) -> None:
    """run_every does not fire by itself in AppTest: rerun until the job has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if at.session_state["job"].done:
            at.run()
            return
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
    pytest.fail("training did not end in time")


def train_first_model(at: AppTest, epochs: int) -> AppTest:
    """On the Train page: the y = 2x + 1 preset for `epochs` epochs, trained to the end."""
    at.button(key="train_preset").click().run()
    at.slider(key="train_epochs").set_value(epochs).run()
    at.button(key="train_train").click().run()
    assert not at.exception, at.exception
    poll_until_done(at)
    return at
