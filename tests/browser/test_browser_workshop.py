"""A room in Chromium: a reload keeps a participant's work (and only theirs), and two
participants on one server never see each other, while a closed tab frees its queue slot."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page, expect

from core.data.loading import load_sample
from core.train.runner import default_config
from core.workshop.share import Setup, encode_setup

pytestmark = pytest.mark.browser
RUNS_HEADING = "Runs in this session"


def wait_idle(page: Page) -> None:
    page.wait_for_selector(
        "[data-test-script-state='notRunning']", state="attached", timeout=120_000
    )


def open_page(page: Page, name: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_text(name, exact=True).click()
    wait_idle(page)


def open_train(page: Page) -> None:
    open_page(page, "Train")
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible(timeout=60_000)


def train(page: Page) -> None:
    page.get_by_role("button", name="Train", exact=True).click()


def test_a_reload_keeps_the_participants_work_and_their_token_gives_nothing_to_another(
    browser: Browser, app_url: str
):
    mine = browser.new_context(locale="en-US")
    page = mine.new_page()
    page.goto(f"{app_url}/?lesson=first_model")
    wait_idle(page)
    open_train(page)
    train(page)
    expect(page.get_by_text(RUNS_HEADING)).to_be_visible(timeout=180_000)
    page.wait_for_url(re.compile(r"resume="), timeout=30_000)
    token = re.search(r"resume=([A-Za-z0-9_-]+)", page.url).group(1)

    page.reload()  # the tab is reloaded mid-lesson: a new Streamlit session
    wait_idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text(re.compile(r"line"))).to_be_visible(timeout=60_000)
    open_train(page)
    expect(page.get_by_text(RUNS_HEADING)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Your first model", exact=False).first).to_be_visible()

    other = browser.new_context(locale="en-US")  # another participant, with my link
    stranger = other.new_page()
    stranger.goto(f"{app_url}/?resume={token}")
    wait_idle(stranger)
    expect(stranger.get_by_text("None yet")).to_be_visible(timeout=60_000)
    open_page(stranger, "Train")
    expect(stranger.get_by_text(RUNS_HEADING)).to_have_count(0)
    assert token not in stranger.url  # they were given a token of their own
    mine.close()
    other.close()


def test_two_participants_never_see_each_other_and_a_closed_tab_frees_the_slot(
    browser: Browser, start_server
):
    config = default_config(load_sample("breast_cancer").frame, "diagnosis")
    endless = replace(
        config, train=replace(config.train, epochs=500, batch_size=1, early_stopping=False)
    )
    with start_server(env={"MODELDESK_MAX_JOBS": "1", "MODELDESK_SHARED": "1"}) as url:
        first_context = browser.new_context(locale="en-US")
        first = first_context.new_page()
        first.goto(f"{url}/?setup={encode_setup(Setup(endless, 'breast_cancer'))}")
        wait_idle(first)
        open_train(first)
        train(first)
        expect(first.get_by_text(re.compile(r"^Training · Epoch"))).to_be_visible(timeout=120_000)

        second_context = browser.new_context(locale="en-US")
        second = second_context.new_page()
        second.goto(f"{url}/?lesson=first_model")
        wait_idle(second)
        open_train(second)
        train(second)
        expect(second.get_by_text("Waiting for a free slot")).to_be_visible(timeout=60_000)

        # Neither sees the other's dataset, runs or audit events.
        assert "breast_cancer" not in second.inner_text("body")
        assert "line" not in first.locator("[data-testid='stSidebar']").inner_text()

        first_context.close()  # closed mid-training
        closed = time.monotonic()
        expect(second.get_by_text(RUNS_HEADING)).to_be_visible(timeout=90_000)
        assert time.monotonic() - closed < 90
        open_page(second, "Compliance")
        assert "breast_cancer" not in second.inner_text("body")
        second_context.close()


def test_a_reload_keeps_the_private_training_settings(browser: Browser, app_url: str):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(app_url)
    wait_idle(page)
    open_page(page, "Train")  # no data yet: the preset loads it
    page.get_by_role("button", name="Classic first model: y = 2x + 1").click()
    wait_idle(page)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible(timeout=60_000)
    page.get_by_text("Private training (DP-SGD)", exact=True).click()
    wait_idle(page)
    epsilon = page.get_by_role("spinbutton", name="Target ε (privacy budget)", exact=True)
    epsilon.fill("1.5")
    epsilon.press("Enter")
    page.wait_for_timeout(1500)  # the rerun the value starts, before waiting for it to end
    wait_idle(page)
    clip = page.get_by_role("spinbutton", name="Clipping norm C", exact=True)
    clip.fill("2.5")
    clip.press("Enter")
    page.wait_for_timeout(1500)
    wait_idle(page)
    page.wait_for_url(re.compile(r"resume="), timeout=30_000)

    page.reload()  # a new Streamlit session, given the same resume token
    wait_idle(page)
    open_train(page)
    expect(
        page.get_by_role("checkbox", name="Private training (DP-SGD)", exact=True)
    ).to_be_checked(timeout=60_000)
    expect(
        page.get_by_role("spinbutton", name="Target ε (privacy budget)", exact=True)
    ).to_have_value("1.50")
    expect(page.get_by_role("spinbutton", name="Clipping norm C", exact=True)).to_have_value("2.50")
    context.close()
