"""The page tests' log capture (tests/pages/conftest.py) catches what Streamlit logs; every page
opens in both languages without a Streamlit warning."""

from __future__ import annotations

import pytest
from apptest_helpers import open_app
from streamlit.testing.v1 import AppTest

PAGES = ("data", "preprocess", "train", "evaluate", "deploy", "compliance")


def _default_and_state() -> None:
    import streamlit as st

    if "amount" not in st.session_state:
        st.session_state["amount"] = 3
    st.slider("Amount", 0, 10, value=5, key="amount")


def test_the_capture_catches_the_default_value_and_session_state_warning(streamlit_log):
    at = AppTest.from_function(_default_and_state)
    at.run()
    assert any("default value" in w for w in streamlit_log.warnings), streamlit_log.warnings
    streamlit_log.expected = True  # this test is the one place the warning is wanted


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_opens_without_a_streamlit_warning(lang: str, streamlit_log):
    at = open_app(lang)
    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, (page, at.exception)
    assert not streamlit_log.warnings
