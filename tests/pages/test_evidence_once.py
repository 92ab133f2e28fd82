"""The Compliance page profiles and scans a table once: the Data page's profile and one PII scan
per table (and one of each per de-identified version) are handed to every tab, whatever the
person clicks afterwards."""

from __future__ import annotations

import sys

from apptest_helpers import APP
from streamlit.testing.v1 import AppTest
from test_compliance_page import PAGE, people_csv

import core.compliance.privacy
import core.data.profile
import ui.sections.compliance.data_evidence
import ui.sections.compliance.deidentify  # noqa: F401  (imported so its names are counted too)
from core.data.loading import load_bytes


def count_calls(monkeypatch, function) -> list[int]:
    """Count every call of `function`, under whatever name any loaded module imported it."""
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    for module in list(sys.modules.values()):
        for name, value in list(vars(module).items() if module else ()):
            if value is function:
                monkeypatch.setattr(module, name, counted)
    return calls


def test_the_table_is_profiled_and_scanned_once_per_version(monkeypatch):
    dataset = load_bytes(people_csv(), "people.csv")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["dataset"] = dataset
    at.session_state["profile"] = core.data.profile.profile_frame(dataset.frame)  # Data's
    profiles = count_calls(monkeypatch, core.data.profile.profile_frame)
    scans = count_calls(monkeypatch, core.compliance.privacy.scan_frame)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert (len(profiles), len(scans)) == (0, 1), "the Data page's profile, one scan"

    prefix = f"cp_{dataset.sha256[:12]}"
    at.selectbox(key=f"{prefix}_target").set_value("approved").run()  # leakage: a default plan
    at.selectbox(key=f"{prefix}_sensitive").set_value("gender").run()
    at.multiselect(key=f"{prefix}_quasi").set_value(["age"]).run()
    assert not at.exception, at.exception
    assert (len(profiles), len(scans)) == (0, 1), "no tab profiles or scans the table again"

    at.checkbox(key=f"{prefix}_suppress").check().run()
    at.button(key="cp_deid_apply").click().run()
    at.run()
    new = at.session_state["dataset"]
    assert new.sha256 != dataset.sha256
    at.selectbox(key=f"cp_{new.sha256[:12]}_target").set_value("approved").run()
    assert not at.exception, at.exception
    assert (len(profiles), len(scans)) == (1, 2), "one profile and one scan of the new version"
