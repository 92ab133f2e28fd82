"""Reports in both languages: Markdown, HTML (everything user-supplied escaped) and JSON."""

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from core.compliance.anonymity import DeidentifySpec, deidentify
from core.compliance.audit import AuditTrail
from core.compliance.checklist import (
    ChecklistAnswers,
    ChecklistContext,
    ModelFacts,
    data_evidence,
    evaluate_checklist,
)
from core.compliance.fairness import fairness_report
from core.compliance.report import (
    FORMATS,
    ModelCardText,
    ReportInputs,
    render_report,
    report_document,
    report_html,
    report_markdown,
)
from core.i18n import LANGUAGES

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def inputs() -> ReportInputs:
    frame = pd.DataFrame(
        {
            EVIL: ["a", "b"] * 30,
            "email": [f"u{i}@example.com" for i in range(60)],
            "gender": ["F", "M", "M"] * 20,
            "churn": [0, 1, 0, 0] * 15,
        }
    )
    evidence = data_evidence(
        frame, target="churn", sensitive="gender", quasi_identifiers=["gender"]
    )
    model = ModelFacts(
        task="binary",
        metric="balanced_accuracy",
        value=0.7,
        baselines={"majority": 0.5},
        parameters=321,
        training_seconds=1.5,
        size_bytes=2048,
        metrics={"accuracy": 0.8, "balanced_accuracy": 0.7},
    )
    fairness = fairness_report(frame["churn"], [0, 1] * 30, frame["gender"], sensitive="gender")
    answers = ChecklistAnswers(answers={"lawful.basis": "yes"}, notes={"lawful.basis": EVIL})
    context = ChecklistContext(answers=answers, model=model, fairness=fairness, **evidence)
    trail = AuditTrail()
    when = datetime(2025, 1, 1, tzinfo=UTC)
    trail.record("upload", {"name": EVIL, "sha256": "ab" * 32}, now=when)
    trail.record("train", {"epochs": 5}, now=when)
    cleaned = deidentify(frame, DeidentifySpec(quasi_identifiers=("gender",), k=2))
    return ReportInputs(
        results=evaluate_checklist(context),
        card=ModelCardText(
            name="Churn model", intended_use=EVIL, limitations="Small sample | **bold**"
        ),
        dataset_name="customers.csv",
        dataset_sha256="ab" * 32,
        rows=len(frame),
        columns=list(frame.columns),
        scan=evidence["scan"],
        k_anonymity=evidence["k_anonymity"],
        deidentification=cleaned.summary(),
        model=model,
        fairness=fairness,
        audit=trail,
        generated_at="2025-01-01T00:00:00+00:00",
    )


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_json_report_holds_every_part(inputs, lang):
    doc = json.loads(render_report(inputs, "json", lang))
    assert doc["language"] == lang
    assert len(doc["checklist"]["items"]) == len(inputs.results)
    assert doc["checklist"]["progress"]["total"] == len(inputs.results)
    basis = next(item for item in doc["checklist"]["items"] if item["id"] == "lawful.basis")
    assert basis["status"] == "pass" and basis["note"] == EVIL
    assert basis["references"]
    assert doc["audit"]["verified"] is True
    assert len(doc["audit"]["events"]) == 2
    assert doc["model_card"]["groups"]
    assert any("email" in row for row in doc["datasheet"]["pii"])


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_html_escapes_everything_user_supplied(inputs, lang):
    page = report_html(inputs, lang)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Churn model" in page


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_markdown_is_inert_and_has_all_sections(inputs, lang):
    text = report_markdown(inputs, lang)
    assert "<script>" not in text
    assert "\\*\\*bold\\*\\*" in text and "\\|" in text
    assert text.count("\n## ") == 4  # checklist, model card, datasheet, audit trail
    assert report_document(inputs, lang)["title"] in text


def test_reports_follow_the_language(inputs):
    english, chinese = report_markdown(inputs, "en"), report_markdown(inputs, "zh")
    assert "Model card" in english and "模型卡" in chinese
    assert "Pass" in english and "通过" in chinese
    assert "目的" not in english


def test_render_report_gives_bytes_in_every_format(inputs):
    for fmt in FORMATS:
        assert isinstance(render_report(inputs, fmt, "zh"), bytes)
    with pytest.raises(ValueError):
        render_report(inputs, "pdf")


def test_an_empty_report_still_renders():
    for lang in LANGUAGES:
        assert "ModelDesk" in report_markdown(ReportInputs(), lang)
        assert report_html(ReportInputs(), lang).endswith("</html>\n")


@pytest.mark.parametrize(
    ("lang", "mark"), [("en", "imported, not verified here"), ("zh", "未在此校验")]
)
def test_imported_audit_events_are_marked_in_the_report(lang, mark):
    # A restored backup's events never read as this session's own (they were not verified).
    from core.compliance.report import report_document

    backup = AuditTrail(key=b"another server")
    backup.record("export", {"what": "report", "encrypted": True})
    trail = AuditTrail()
    trail.record("upload", {"name": "real.csv"})
    trail.import_events(backup.events)
    inputs = ReportInputs(results=(), card=ModelCardText(), audit=trail)
    audit = report_document(inputs, lang)["audit"]
    assert audit["verified"] is True
    own, imported = audit["rows"]
    assert mark not in own[2] and mark in imported[2]
    assert [e["imported"] for e in audit["events"]] == [False, True]
