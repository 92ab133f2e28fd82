"""The Compliance page through app.py: checklist, PII scan, de-identification, report, backup."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from apptest_helpers import open_app, train_first_model
from stdnum.cn import ric
from streamlit.testing.v1 import AppTest

import core.compliance.evidence
import core.compliance.report
from core.compliance.checklist import load_checklist
from core.compliance.secure import decrypt
from core.data.loading import load_bytes
from core.i18n import t

PAGE = "pages/compliance.py"
ROWS = 60
CHINESE = re.compile(r"[\u4e00-\u9fff]")
RAW_KEY = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")


def resident_id(i: int) -> str:
    """A valid Chinese resident ID number (birth date, region and MOD 11-2 check digit)."""
    body = f"110101{1960 + i % 40:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def people_csv() -> bytes:
    frame = pd.DataFrame(
        {
            "id_number": [resident_id(i) for i in range(ROWS)],
            "email": [f"user{i}@example.com" for i in range(ROWS)],
            "phone": [f"1381234{i:04d}" for i in range(ROWS)],
            "age": [20 + i % 50 for i in range(ROWS)],
            "gender": ["F", "M"] * (ROWS // 2),
            "income": [1000 + 10 * i for i in range(ROWS)],
            "approved": [i % 2 for i in range(ROWS)],
        }
    )
    return frame.to_csv(index=False).encode()


def page(lang: str = "en", *, with_data: bool = False) -> AppTest:
    state = {"dataset": load_bytes(people_csv(), "people.csv")} if with_data else {}
    return open_app(lang, PAGE, state=state)


def texts(at: AppTest) -> list[str]:
    found: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error",
                 "success"):  # fmt: skip
        found += [str(el.value) for el in getattr(at, kind)]
    for kind in ("button", "selectbox", "radio", "checkbox", "multiselect", "text_input",
                 "text_area", "metric", "expander", "download_button"):  # fmt: skip
        found += [str(el.label) for el in getattr(at, kind)]
    return found


def progress_text(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def answer(at: AppTest, item_id: str, value: str) -> AppTest:
    return at.radio(key=f"cp_ans_{item_id}").set_value(value).run()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_without_data_the_page_asks_for_it_and_still_shows_the_checklist(lang: str):
    at = page(lang)
    shown = texts(at)
    assert any(t("app.nav.data", lang) in w.value for w in at.warning), "needs a dataset"
    assert at.get("page_link"), "a link to the Data page"
    assert not [s for s in shown if RAW_KEY.match(s.strip())], "no raw catalog keys"
    titles = [expander.label for expander in at.expander]
    first = load_checklist().items[0]
    assert any(label.startswith(first.text("title", lang)) for label in titles)
    unanswered = t("compliance.status.unanswered", lang)
    not_applicable = t("compliance.status.not_applicable", lang)
    assert any(unanswered in label for label in titles)
    assert any(not_applicable in label for label in titles)
    assert progress_text(at)
    if lang == "zh":
        assert CHINESE.search(progress_text(at))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_scan_table_flags_identifiers_in_the_loaded_table(lang: str):
    at = page(lang, with_data=True)
    table = at.dataframe[0].value
    columns = table[t("compage.scan.col.column", lang)].tolist()
    found = table[t("compage.scan.col.found", lang)].tolist()
    assert {"id_number", "email", "phone"} <= set(columns)
    assert "income" not in columns and "approved" not in columns
    assert t("privacy.entity.cn_resident_id", lang) in found
    assert t("privacy.entity.email", lang) in found
    assert any("id\\_number" in w.value for w in at.warning), "direct identifiers named, escaped"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("compage.risk.k", lang)] == "1", "age and gender suggested as quasi-ids"


def test_answering_an_item_changes_progress_and_is_logged():
    at = page("en")
    before = progress_text(at)
    answer(at, "purpose.intended_use", "yes")
    assert not at.exception, at.exception
    assert progress_text(at) != before
    assert at.session_state["cp_answers"].answers == {"purpose.intended_use": "yes"}
    at.text_area(key="cp_note_purpose.intended_use").input("Scores loan applications").run()
    assert at.session_state["cp_answers"].notes["purpose.intended_use"].startswith("Scores")
    events = at.session_state["audit"].events
    assert [e.kind for e in events] == ["checklist", "checklist"]
    assert events[0].details == {"item": "purpose.intended_use", "answer": "yes"}


def test_settings_make_items_not_applicable_and_filters_narrow_the_list():
    at = page("en")
    assert any(label.startswith("EU AI Act risk class") for label in _labels(at))
    at.multiselect(key="cp_jurisdictions").set_value(["CN"]).run()
    assert at.session_state["cp_answers"].jurisdictions == ("CN",)
    risk = next(label for label in _labels(at) if label.startswith("EU AI Act risk class"))
    assert "Not applicable" in risk
    at.multiselect(key="cp_filter_status").set_value(["pass"]).run()
    assert not at.exception, at.exception
    assert len(at.expander) < len(load_checklist().items)


def test_deidentification_replaces_the_dataset_and_labels_it_honestly():
    at = page("en", with_data=True)
    original = at.session_state["dataset"]
    at.checkbox(key=f"cp_{original.sha256[:12]}_suppress").check().run()
    at.button(key="cp_deid_apply").click().run()
    assert not at.exception, at.exception
    current = at.session_state["dataset"]
    assert current.name == "people.csv (de-identified)"
    assert current.sha256 != original.sha256
    assert "email" not in current.frame.columns and "phone" not in current.frame.columns
    assert current.frame["id_number"].iloc[0] == "110000-1960"
    deid = at.session_state["_scratch"]["cp_deid"]
    assert deid["label"] == "anonymised"
    assert any("Anonymised" in s.value for s in at.success)
    event = at.session_state["audit"].events[-1]
    assert event.kind == "deidentify" and event.details["label"] == "anonymised"
    assert at.session_state["audit"].verify().ok


def test_pseudonyms_are_labelled_as_personal_data_and_the_key_is_never_shown():
    at = page("en", with_data=True)
    prefix = f"cp_{at.session_state['dataset'].sha256[:12]}"
    email = list(at.session_state["dataset"].frame.columns).index("email")
    at.selectbox(key=f"{prefix}_act_{email}").set_value("pseudonymise").run()
    at.button(key="cp_deid_apply").click().run()
    assert not at.exception, at.exception
    assert at.session_state["_scratch"]["cp_deid"]["label"] == "pseudonymised"
    assert any("Pseudonymised" in w.value for w in at.warning)
    key = at.session_state["_scratch"]["_cp_pseudonym_key"].hex()
    assert not any(key in s for s in texts(at))
    assert key not in at.session_state["audit"].to_json()
    assert at.session_state["dataset"].frame["email"].str.fullmatch(r"[0-9a-f]{16}").all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_downloads_are_rendered_in_the_session_language(lang: str, monkeypatch):
    rendered: list[tuple[str, str, bytes]] = []
    real = core.compliance.report.render_report

    def recording(inputs, fmt, language="en"):
        data = real(inputs, fmt, language)
        rendered.append((fmt, language, data))
        return data

    monkeypatch.setattr(core.compliance.report, "render_report", recording)
    at = page(lang)
    answer(at, "purpose.intended_use", "yes")
    for fmt in ("markdown", "html", "json"):
        assert at.download_button(key=f"cp_report_{fmt}")
    latest = {fmt: (language, data) for fmt, language, data in rendered}
    assert set(latest) == {"markdown", "html", "json"}
    title = load_checklist().item("purpose.intended_use").text("title", lang)
    for language, data in latest.values():
        assert language == lang
        assert title.encode() in data or json.dumps(title).encode() in data
    document = json.loads(latest["json"][1])
    item = next(i for i in document["checklist"]["items"] if i["id"] == "purpose.intended_use")
    assert item["status"] == "pass" and item["title"] == title


def test_backup_round_trip_restores_answers_and_the_audit_trail(monkeypatch):
    made: list[str] = []
    real = core.compliance.evidence.session_backup

    def recording(**kwargs):
        made.append(real(**kwargs))
        return made[-1]

    monkeypatch.setattr(core.compliance.evidence, "session_backup", recording)
    at = page("en")
    answer(at, "purpose.intended_use", "partial")
    at.checkbox(key="cp_automated_decisions").check().run()
    backup = made[-1]
    assert json.loads(backup)["checklist"]["answers"] == {"purpose.intended_use": "partial"}

    fresh = page("en")
    fresh.file_uploader(key="cp_backup_upload").set_value(
        ("modeldesk_backup.json", backup.encode(), "application/json")
    ).run()
    assert not fresh.exception, fresh.exception
    answers = fresh.session_state["cp_answers"]
    assert answers.answers == {"purpose.intended_use": "partial"}
    assert answers.automated_decisions is True
    assert fresh.radio(key="cp_ans_purpose.intended_use").value == "partial"
    assert fresh.checkbox(key="cp_automated_decisions").value is True
    assert any("1 answers" in s.value for s in fresh.success)
    kinds = [(event.kind, event.imported) for event in fresh.session_state["audit"].events]
    assert kinds == [("checklist", True), ("checklist", True), ("note", False)], (
        "the backup's events appended as imported, then the restore itself"
    )
    assert fresh.session_state["audit"].verify().ok


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"{not json", "not JSON"),
        (b'{"format": "something else"}', "not a ModelDesk session backup"),
    ],
)
def test_a_bad_backup_is_explained_and_loses_nothing(data: bytes, says: str):
    at = page("en")
    answer(at, "purpose.intended_use", "yes")
    trail = at.session_state["audit"]
    at.file_uploader(key="cp_backup_upload").set_value(("b.json", data, "application/json")).run()
    assert not at.exception, at.exception
    assert any(says in e.value for e in at.error)
    assert at.session_state["cp_answers"].answers == {"purpose.intended_use": "yes"}
    assert at.session_state["audit"] is trail
    assert at.radio(key="cp_ans_purpose.intended_use").value == "yes"


def test_a_forged_backup_is_appended_as_imported_and_the_session_keeps_its_own_events():
    # A backup with a fake "export (encrypted)" event, its chain re-hashed,
    # used to replace the trail and verify as intact; the real events are now kept.
    from core.compliance.audit import AuditTrail
    from core.compliance.checklist import ChecklistAnswers
    from core.compliance.evidence import session_backup

    at = page("zh")
    answer(at, "purpose.intended_use", "yes")
    own = [(e.kind, e.details) for e in at.session_state["audit"].events]
    assert own and all(kind == "checklist" for kind, _ in own)
    forged = AuditTrail(key=b"the forger's key")
    forged.record("export", {"what": "report", "format": "html", "encrypted": True})
    document = json.loads(session_backup(answers=ChecklistAnswers(), audit=forged))
    at.file_uploader(key="cp_backup_upload").set_value(
        ("b.json", json.dumps(document).encode(), "application/json")
    ).run()
    assert not at.exception, at.exception
    trail = at.session_state["audit"]
    events = trail.events
    assert [(e.kind, e.details) for e in events[: len(own)]] == own
    assert not any(e.imported for e in events[: len(own)])
    imported = [e for e in events if e.imported]
    assert [(e.kind, e.details["encrypted"]) for e in imported] == [("export", True)]
    result = trail.verify()
    assert result.ok and result.imported == 1
    assert any("随机生成的密钥" in i.value for i in at.info), "no audit key set: the page says so"
    assert any("未在此校验" in s.value for s in at.success)
    assert not at.session_state["_scratch"].get("cp_encrypted_export")


def test_encrypted_export_checks_the_passphrase_and_offers_the_file():
    at = page("en")
    at.text_input(key="cp_passphrase").input("short").run()
    at.text_input(key="cp_passphrase2").input("short").run()
    at.button(key="cp_encrypt").click().run()
    assert any("at least 8 characters" in e.value for e in at.error)
    at.text_input(key="cp_passphrase2").input("different passphrase").run()
    at.button(key="cp_encrypt").click().run()
    assert any("differ" in e.value for e in at.error)
    assert "cp_encrypted" not in at.session_state["_scratch"]
    for key in ("cp_passphrase", "cp_passphrase2"):
        at.text_input(key=key).input("correct horse battery").run()
    at.button(key="cp_encrypt").click().run()
    assert not at.error
    name, blob = at.session_state["_scratch"]["cp_encrypted"]
    assert name.endswith(".mdenc") and blob.startswith(b"MDESK")
    assert at.download_button(key="cp_encrypted_download")
    assert "correct horse" not in at.session_state["audit"].to_json()
    encryption = next(r for r in _results(at) if r["id"] == "security.encryption")
    assert encryption["status"] == "pass"


def test_decrypting_with_the_wrong_passphrase_is_a_translated_error():
    from core.compliance.secure import encrypt

    blob = encrypt(b"report", "correct horse battery", log2_n=10)
    at = page("zh")
    at.file_uploader(key="cp_decrypt_file").set_value(
        ("r.md.mdenc", blob, "application/octet-stream")
    ).run()
    at.text_input(key="cp_decrypt_pass").input("wrong passphrase").run()
    at.button(key="cp_decrypt").click().run()
    assert not at.exception, at.exception
    assert at.error and CHINESE.search(at.error[0].value)


def test_with_a_trained_run_the_model_tab_shows_its_compute_cost():
    at = train_first_model(open_app("en", "pages/train.py", timeout=120), epochs=5)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == "2", "one Dense unit: w and b"
    assert any("regression" in i.value for i in at.info), "fairness needs a classifier"
    compute = next(r for r in _results(at) if r["id"] == "model.compute")
    assert compute["status"] == "pass"
    at.selectbox(key="cp_encrypt_what").set_value("bundle").run()
    for key in ("cp_passphrase", "cp_passphrase2"):
        at.text_input(key=key).input("correct horse battery").run()
    at.button(key="cp_encrypt").click().run()
    assert not at.exception, at.exception
    name, blob = at.session_state["_scratch"]["cp_encrypted"]
    assert name == "bundle.zip.mdenc"
    assert decrypt(blob, "correct horse battery").startswith(b"PK"), "a zip inside"


def _labels(at: AppTest) -> list[str]:
    return [expander.label for expander in at.expander]


def _results(at: AppTest) -> list[dict]:
    """The statuses the page shows, read back from its expander labels."""
    checklist = load_checklist()
    statuses = {t(f"compliance.status.{s}", "en"): s for s in (
        "pass", "warn", "fail", "not_applicable", "unanswered")}  # fmt: skip
    found = []
    for label in _labels(at):
        for item in checklist.items:
            if label.startswith(item.text("title", "en") + " :"):
                status = next(s for text, s in statuses.items() if f"[{text}]" in label)
                found.append({"id": item.id, "status": status})
    return found


def mortgage_csv() -> bytes:
    """A mortgage-denial table with a yes/no race column and no direct identifier."""
    frame = pd.DataFrame(
        {
            "deny": [int(i % 5 == 0) for i in range(ROWS)],
            "pirat": [0.2 + 0.005 * i for i in range(ROWS)],
            "black": ["yes" if i % 4 == 0 else "no" for i in range(ROWS)],
            "single": [i % 2 for i in range(ROWS)],
        }
    )
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_yes_no_race_column_is_special_category_data_everywhere(lang: str):
    dataset = load_bytes(mortgage_csv(), "hmda.csv")
    at = open_app(lang, PAGE, state={"dataset": dataset})
    assert any(t("special.page.special_found", lang) in w.value for w in at.warning)
    assert any("black" in w.value and "GDPR art. 9" in w.value for w in at.warning)
    # Fairness opens with the race column selected.
    assert at.selectbox(key=f"cp_{dataset.sha256[:12]}_sensitive").value == "black"
    checklist = load_checklist()
    for item_id in ("lawful.sensitive_consent", "identifiers.scan"):
        title = checklist.item(item_id).text("title", lang)
        (label,) = [e.label for e in at.expander if e.label.startswith(title)]
        assert t("compliance.status.warn", lang) in label, label
        assert t("compliance.status.not_applicable", lang) not in label


def test_a_correction_outranks_the_scan_and_is_audited():
    dataset = load_bytes(mortgage_csv(), "hmda.csv")
    at = open_app("en", PAGE, state={"dataset": dataset})
    key = next(k for k in at.session_state if str(k).startswith("cp_special_"))
    none_label = t("special.page.no_category", "en")
    # The editor's rows follow the table's columns: black is the third.
    at.session_state[key] = {"edited_rows": {2: {"category": none_label}}, "added_rows": [],
                             "deleted_rows": []}  # fmt: skip
    at.run()
    assert not at.exception, at.exception
    assert any(t("special.page.no_special", "en") in i.value for i in at.info)
    title = load_checklist().item("lawful.sensitive_consent").text("title", "en")
    (label,) = [e.label for e in at.expander if e.label.startswith(title)]
    assert t("compliance.status.warn", "en") not in label
    events = [e for e in at.session_state["audit"].events if e.kind == "checklist"]
    assert events[-1].details == {
        "correction": "special_category",
        "column": "black",
        "scan": ["ethnicity"],
        "person": [],
    }
    at.run()  # a rerun records nothing new
    assert len([e for e in at.session_state["audit"].events if e.kind == "checklist"]) == 1
