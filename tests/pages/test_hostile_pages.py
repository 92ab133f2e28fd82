"""The Data page meets the hostile uploads: each is refused with one clear message (or loaded
harmlessly), the loaded dataset is kept, and no traceback reaches the user; an error no check
foresaw is one line in the user's language too, with the detail in the server log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from apptest_helpers import open_app
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hostile_cases import BY_ID

pytestmark = pytest.mark.pages

# The table's uploads and one of each new class (size bomb, lie in metadata, slow path,
# malformed document); every case also runs through load_bytes in tests/unit/test_hostile.py.
PAGE_CASES = [
    "parquet_40mb_string",
    "xlsx_dimension_lie",
    "xlsx_1_5m_styles",
    "xlsx_unused_strings",
    "json_30000_keys",
    "csv_quoted_newline_header",
    "xlsx_64mb_inline_cell",
    "xlsx_two_far_cells",
    "json_escape_run_upload",
    "xlsx_garbage_sheet",
]


def with_sample(lang: str = "en") -> AppTest:
    at = open_app(lang, "pages/data.py")
    at.button(key="load_sample").click().run()
    return at


@pytest.mark.parametrize("case_id", PAGE_CASES)
def test_a_hostile_upload_is_one_message_and_the_dataset_is_kept(case_id):
    case = BY_ID[case_id]
    at = with_sample()
    sample = at.session_state["dataset"]
    at.file_uploader[0].set_value((case.filename, case.data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    assert "Traceback" not in at.error[0].value and "\n" not in at.error[0].value.strip()
    assert at.session_state["dataset"] is sample


def test_a_hostile_upload_is_explained_in_chinese():
    case = BY_ID["xlsx_1_5m_styles"]
    at = with_sample("zh")
    at.file_uploader[0].set_value((case.filename, case.data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert "单元格格式" in at.error[0].value


def test_an_unexpected_error_is_one_line_and_logged(monkeypatch, caplog):
    import core.data.profile

    def broken(frame):
        raise RuntimeError("a bug the checks missed\nwith a second line")

    at = open_app("en", "pages/data.py")
    monkeypatch.setattr(core.data.profile, "profile_frame", broken)
    with caplog.at_level(logging.ERROR, logger="modeldesk.errors"):
        at.file_uploader[0].set_value(("ok.csv", b"a,b\n1,2\n3,4\n", "text/csv")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "RuntimeError" in at.error[0].value
    assert "second line" not in at.error[0].value
    assert any("RuntimeError" in record.getMessage() for record in caplog.records)
    assert any(record.exc_info for record in caplog.records)


def test_the_facilitator_password_backs_off_after_wrong_tries(monkeypatch):
    monkeypatch.setenv("MODELDESK_ROOM_CODE", "ROOM42")
    monkeypatch.setenv("MODELDESK_FACILITATOR_PASSWORD", "facilitator-pw")
    monkeypatch.setenv("MODELDESK_LOGIN_ATTEMPTS", "2")
    at = open_app("en", "pages/room.py")
    for _ in range(3):  # two free wrong tries, then the third makes this session wait
        at.text_input(key="rb_pw").set_value("guess")
        at.button(key="rb_sign_in").click().run()
        assert any("Wrong password" in e.value for e in at.error)
    at.text_input(key="rb_pw").set_value("facilitator-pw")
    at.button(key="rb_sign_in").click().run()
    assert not at.exception, at.exception
    assert any("Too many wrong tries" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "rb_reveal"]  # not even the right one, yet
