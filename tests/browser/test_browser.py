"""The real app in Chromium: switch language, upload a real file, see its profile, screenshot it."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.data.loading import load_sample
from core.train.runner import default_config
from core.workshop.share import Setup, encode_setup

ROOT = Path(__file__).resolve().parents[2]
# The README's picture: refreshed only on request (MODELDESK_UPDATE_SCREENSHOT=1), so an ordinary
# run never rewrites a tracked file.
README_SCREENSHOT = ROOT / "docs" / "screenshot.png"

pytestmark = pytest.mark.browser


def wait_idle(page: Page) -> None:
    """Streamlit has finished the current script run."""
    page.wait_for_selector(
        "[data-test-script-state='notRunning']", state="attached", timeout=60_000
    )
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0, timeout=60_000)


def switch_language(page: Page, name: str) -> None:
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=name).click()
    wait_idle(page)


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    """A GBK-encoded, semicolon-separated file with decimal commas: what Excel in China saves."""
    lines = ["城市;年龄;收入;是否购买"]
    cities = ["北京", "上海", "广州", "深圳"]
    lines += [
        f"{cities[i % 4]};{20 + i % 40};{1000 + i * 7},5;{'是' if i % 3 else '否'}"
        for i in range(240)
    ]
    path = tmp_path / "客户.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    return path


def test_switch_language_upload_and_profile(
    page: Page, app_url: str, csv_file: Path, tmp_path: Path
):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(app_url)
    wait_idle(page)
    expect(page.get_by_role("heading", name="ModelDesk")).to_be_visible()

    switch_language(page, "简体中文")
    nav = page.locator("[data-testid='stSidebarNav']")
    expect(nav.get_by_text("数据", exact=True)).to_be_visible()
    nav.get_by_text("数据", exact=True).click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="数据", exact=True)).to_be_visible()

    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(csv_file))
    wait_idle(page)
    metrics = page.locator("[data-testid='stMetric']")
    expect(metrics.filter(has_text="行数")).to_contain_text("240", timeout=30_000)
    expect(metrics.filter(has_text="列数")).to_contain_text("4")
    expect(page.get_by_text(re.compile("gb18030"))).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar).to_contain_text("客户.csv：240 行 × 4 列")

    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("MODELDESK_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, README_SCREENSHOT)


def test_bad_file_shows_message_and_app_keeps_running(page: Page, app_url: str, tmp_path: Path):
    page.goto(f"{app_url}/data")
    wait_idle(page)
    bad = tmp_path / "broken.xlsx"
    bad.write_text("this is not a workbook\n")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bad))
    wait_idle(page)
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text("Excel")
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def epoch_shown(page: Page) -> int:
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    match = re.search(r"(\d+)/(\d+)", text)
    return int(match.group(1)) if match else -1


def test_first_model_preset_trains_and_lands_in_the_history(page: Page, app_url: str):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{app_url}/train")
    wait_idle(page)
    page.get_by_role("button", name="Classic first model").click()
    wait_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Runs in this session")).to_be_visible(timeout=120_000)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    # A rename shows in the run picker at once (Streamlit kept the old label before).
    page.get_by_role("textbox", name="Name").fill("line fit")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(
        "line fit", timeout=30_000
    )


def test_live_curves_move_and_stop_keeps_the_run(page: Page, app_url: str):
    # The compiled engine trains the y = 2x + 1 preset in about a second: a long job to watch is
    # breast cancer with batch size 1, 500 epochs and no early stopping, opened by a setup link.
    config = default_config(load_sample("breast_cancer").frame, "diagnosis")
    long_job = replace(
        config, train=replace(config.train, epochs=500, batch_size=1, early_stopping=False)
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{app_url}/train?setup={encode_setup(Setup(long_job, 'breast_cancer'))}")
    wait_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible(timeout=120_000)
    first = epoch_shown(page)
    deadline = time.monotonic() + 30  # poll the progress bar until it moves
    while epoch_shown(page) <= first and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert epoch_shown(page) > first, "the progress and curves move while training"
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text(re.compile(r"Stopped after \d+ complete epochs"))).to_be_visible(
        timeout=30_000
    )
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_a_deep_link_as_the_first_request_still_runs_the_app_shell(page: Page, start_server):
    # Streamlit decides once per process whether a pages/ folder means old-style multipage
    # mode; a first visit to /data must still get app.py's navigation, sidebar and layout.
    with start_server() as url:
        page.goto(f"{url}/data")
        wait_idle(page)
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text("Language")).to_be_visible()
        expect(sidebar.get_by_text("Overview")).to_be_visible()
        expect(sidebar.get_by_text("app", exact=True)).to_have_count(0)
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()


def test_a_chinese_browser_gets_the_chinese_interface(browser, app_url: str):
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(app_url)
        wait_idle(page)
        expect(page.get_by_text("在你自己的数据表上训练")).to_be_visible()
        expect(page.locator("[data-testid='stSidebarNav']").get_by_text("数据")).to_be_visible()
    finally:
        context.close()
