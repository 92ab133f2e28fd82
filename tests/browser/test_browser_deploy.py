"""The real app in Chromium: train the first model, then download its bundle from Deploy."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def wait_idle(page: Page) -> None:
    """Streamlit has finished the current script run."""
    page.wait_for_selector(
        "[data-test-script-state='notRunning']", state="attached", timeout=60_000
    )
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0, timeout=60_000)


def test_train_then_download_the_bundle(page: Page, app_url: str, tmp_path: Path):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{app_url}/train")
    wait_idle(page)
    page.get_by_role("button", name="Classic first model").click()
    wait_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    wait_idle(page)
    # Training goes on in the background; Deploy shows its tabs once the run has finished.
    export_tab = page.get_by_role("tab", name="Export")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page.locator("[data-testid='stSidebarNav']").get_by_text("Deploy", exact=True).click()
        wait_idle(page)
        if export_tab.count():
            break
        page.wait_for_timeout(1_000)
    expect(page.get_by_role("heading", name="Deploy", exact=True)).to_be_visible()
    export_tab.click()
    button = page.get_by_role("button", name=re.compile("Download bundle.zip"))
    expect(button).to_be_visible(timeout=30_000)
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == "bundle.zip"
    target = tmp_path / "bundle.zip"
    download.save_as(target)
    with zipfile.ZipFile(target) as zipped:
        names = set(zipped.namelist())
    assert {"model.keras", "predict.py", "README.md", "schema.json"} <= names
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
