"""The checklist as data, and statuses from evidence and answers."""

import json
import re

import pandas as pd
import pytest

from core.compliance.anonymity import k_anonymity
from core.compliance.audit import AuditTrail
from core.compliance.checklist import (
    ANSWERS,
    CHECKLIST_PATH,
    CHECKS,
    JURISDICTIONS,
    STATUSES,
    ChecklistAnswers,
    ChecklistContext,
    ModelFacts,
    data_evidence,
    evaluate_checklist,
    filter_results,
    load_checklist,
    progress,
)
from core.compliance.fairness import fairness_report
from core.i18n import LANGUAGES, UserError, catalog_for

CHECKLIST = load_checklist()


def by_id(results):
    return {result.id: result for result in results}


@pytest.fixture
def customers() -> pd.DataFrame:
    n = 120
    return pd.DataFrame(
        {
            "name": [f"Customer {chr(65 + i % 26)}{chr(97 + i % 7)}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "age": [18 + i % 50 for i in range(n)],
            "gender": ["F", "M", "M"] * 40,
            "zip": [f"{100 + i % 4}" for i in range(n)],
            "plan": ["basic", "pro", "basic", "team"] * 30,
            "churn": [0, 0, 0, 1] * 30,
        }
    )


def test_the_checklist_file_is_complete_in_both_languages():
    data = json.loads(CHECKLIST_PATH.read_text(encoding="utf-8"))
    assert 30 <= len(data["items"]) <= 45
    ids = [item["id"] for item in data["items"]]
    assert len(ids) == len(set(ids))
    sections = {section["id"] for section in data["sections"]}
    assert {item["section"] for item in data["items"]} == sections
    for item in CHECKLIST.items:
        for part in ("title", "question", "help"):
            for lang in LANGUAGES:
                assert getattr(item, part)[lang].strip(), (item.id, part, lang)
            assert re.search(r"[\u4e00-\u9fff]", item.text(part, "zh")), (item.id, part)
        assert item.references, item.id
        for reference in item.references:
            assert reference.framework in CHECKLIST.frameworks, reference
        assert item.check is None or item.check in CHECKS, item.id
        assert set(item.jurisdictions) <= set(JURISDICTIONS)
        if item.not_applicable:
            assert item.not_applicable in catalog_for("en"), item.id
    assert {item.check for item in CHECKLIST.items} - {None} == set(CHECKS)


def test_it_covers_the_required_sections_and_frameworks():
    frameworks = {ref.framework for item in CHECKLIST.items for ref in item.references}
    for name in ("EU AI Act", "GDPR", "PIPL", "NIST AI RMF 1.0", "CN Cybersecurity Law"):
        assert name in frameworks
    assert any(name.startswith("GB/T") for name in frameworks)
    assert [s.id for s in CHECKLIST.sections] == [
        "purpose",
        "lawful_basis",
        "identifiers",
        "security",
        "data",
        "model",
        "oversight",
    ]


def test_without_anything_items_are_unanswered_or_not_applicable_with_reasons():
    results = evaluate_checklist(ChecklistContext())
    assert {r.status for r in results} <= {"unanswered", "not_applicable"}
    for result in results:
        assert result.status in STATUSES
        if result.status == "not_applicable":
            assert result.evidence, result.id
    genai = by_id(results)["purpose.generative_ai"]
    assert genai.status == "not_applicable"
    assert genai.evidence[0].key == "compliance.na.genai_scope"
    model = by_id(results)["model.performance"]
    assert model.evidence[0].key == "compliance.evidence.train_first"


def test_jurisdictions_and_flags_decide_what_applies():
    only_us = ChecklistAnswers(jurisdictions=("US",))
    results = by_id(evaluate_checklist(ChecklistContext(answers=only_us)))
    assert results["purpose.risk_class"].status == "not_applicable"
    assert results["purpose.risk_class"].evidence[0].key == "compliance.na.jurisdiction"
    assert results["oversight.human"].status == "not_applicable"
    deciding = ChecklistAnswers(jurisdictions=("EU",), automated_decisions=True)
    results = by_id(evaluate_checklist(ChecklistContext(answers=deciding)))
    assert results["purpose.risk_class"].status == "unanswered"
    assert results["oversight.human"].status == "unanswered"
    assert results["purpose.impact_assessment"].status == "unanswered"


def test_evidence_from_the_data(customers):
    evidence = data_evidence(
        customers, target="churn", sensitive="gender", quasi_identifiers=["age", "gender", "zip"]
    )
    results = by_id(evaluate_checklist(ChecklistContext(**evidence)))
    assert results["identifiers.scan"].status == "warn"
    assert "email" in results["identifiers.scan"].evidence[-1].text()
    assert results["lawful.minimisation"].status == "warn"
    assert results["identifiers.k_anonymity"].status == "fail"  # age x gender x zip: many unique
    assert results["data.quality"].status == "pass"
    assert results["data.imbalance"].status == "pass"  # 25% churn
    assert results["data.representation"].status == "pass"
    assert results["model.fairness"].evidence[0].key == "compliance.evidence.train_first"


def test_answers_combine_with_checks_and_the_worse_wins(customers):
    evidence = data_evidence(customers, quasi_identifiers=["gender"])
    answers = ChecklistAnswers(
        answers={"identifiers.k_anonymity": "no", "lawful.basis": "yes", "identifiers.scan": "yes"},
        notes={"lawful.basis": "Contract, art. 6(1)(b)."},
    )
    results = by_id(evaluate_checklist(ChecklistContext(answers=answers, **evidence)))
    assert results["identifiers.k_anonymity"].status == "fail"  # check passes, answer says no
    assert results["identifiers.k_anonymity"].source == "both"
    assert results["lawful.basis"].status == "pass"
    assert results["lawful.basis"].note == "Contract, art. 6(1)(b)."
    assert results["identifiers.scan"].status == "warn"  # "yes" does not hide the identifiers


def test_a_person_settles_consent_for_sensitive_data():
    frame = pd.DataFrame({"religion": ["a", "b"] * 10, "x": range(20)})
    context = ChecklistContext(**data_evidence(frame))
    item = by_id(evaluate_checklist(context))["lawful.sensitive_consent"]
    assert item.status == "warn"
    answered = ChecklistContext(
        answers=ChecklistAnswers(answers={"lawful.sensitive_consent": "yes"}),
        **data_evidence(frame),
    )
    assert by_id(evaluate_checklist(answered))["lawful.sensitive_consent"].status == "pass"
    without = by_id(evaluate_checklist(ChecklistContext(**data_evidence(frame[["x"]]))))
    assert without["lawful.sensitive_consent"].status == "not_applicable"


def test_model_checks_use_the_model_facts(customers):
    evidence = data_evidence(customers, target="churn", sensitive="gender")
    truth = customers["churn"].to_numpy()
    predicted = (customers["gender"] == "F").astype(int).to_numpy()
    model = ModelFacts(
        task="binary",
        metric="balanced_accuracy",
        value=0.81,
        baselines={"majority": 0.5, "logistic": 0.74},
        parameters=1234,
        training_seconds=3.2,
        size_bytes=40_960,
        features=("age", "gender", "email"),
        importance={"age": 0.12, "gender": 0.05},
    )
    context = ChecklistContext(
        model=model,
        fairness=fairness_report(truth, predicted, customers["gender"], sensitive="gender"),
        **evidence,
    )
    results = by_id(evaluate_checklist(context))
    assert results["model.performance"].status == "pass"
    assert results["model.performance"].evidence[0].params["name"] == "logistic"
    assert results["model.fairness"].status == "warn"  # everyone F selected, no M
    assert results["lawful.minimisation"].status == "fail"  # email is an input
    assert results["model.privacy"].status == "fail"
    assert results["model.explainability"].status == "pass"
    assert "age (0.120)" in results["model.explainability"].evidence[0].text()
    assert results["model.compute"].status == "pass"
    weaker = ModelFacts(task="binary", metric="balanced_accuracy", value=0.6, baselines={"l": 0.7})
    assert (
        by_id(evaluate_checklist(ChecklistContext(model=weaker)))["model.performance"].status
        == "warn"
    )


def test_k_anonymity_status_thresholds():
    frame = pd.DataFrame({"zip": ["1"] * 99 + ["2"]})
    nearly = ChecklistContext(k_anonymity=k_anonymity(frame, ["zip"], 5))
    assert by_id(evaluate_checklist(nearly))["identifiers.k_anonymity"].status == "warn"
    fine = ChecklistContext(k_anonymity=k_anonymity(frame, ["zip"], 1))
    assert by_id(evaluate_checklist(fine))["identifiers.k_anonymity"].status == "pass"


def test_security_actions_and_the_audit_trail():
    trail = AuditTrail()
    trail.record("upload", {"sha256": "00"})
    context = ChecklistContext(encrypted_export=True, backup_saved=True, audit=trail.verify())
    results = by_id(evaluate_checklist(context))
    assert results["security.encryption"].status == "pass"
    assert results["security.backup"].status == "pass"
    assert results["security.logs"].status == "pass"


def test_progress_and_filters(customers):
    answers = ChecklistAnswers(
        jurisdictions=("CN", "EU", "US"),
        answers={"lawful.basis": "yes", "purpose.intended_use": "na"},
    )
    results = evaluate_checklist(ChecklistContext(answers=answers, **data_evidence(customers)))
    summary = progress(results)
    assert summary.total == len(CHECKLIST.items)
    assert sum(summary.counts.values()) == summary.total
    assert summary.done == summary.applicable - summary.counts.get("unanswered", 0)
    assert 0 < summary.share < 1
    assert summary.message.key == "compliance.progress"
    failing = filter_results(results, statuses=["fail", "warn"])
    assert failing and all(r.status in ("fail", "warn") for r in failing)
    eu = {r.id for r in filter_results(results, jurisdiction="EU")}
    cn = {r.id for r in filter_results(results, jurisdiction="CN")}
    assert "purpose.risk_class" in eu and "purpose.risk_class" not in cn
    assert "purpose.generative_ai" in cn and "purpose.generative_ai" not in eu
    assert {r.id for r in filter_results(results, section="security")} == {
        item.id for item in CHECKLIST.items if item.section == "security"
    }


def test_answers_round_trip_and_reject_nonsense():
    answers = ChecklistAnswers(jurisdictions=("CN",), automated_decisions=True).answer(
        "lawful.basis", "partial", "同意书见附件"
    )
    assert ChecklistAnswers.from_json(answers.to_json()) == answers
    assert answers.answer("lawful.basis", None).answers == {}
    assert set(ANSWERS) == {"yes", "partial", "no", "na"}
    with pytest.raises(UserError):
        ChecklistAnswers(answers={"lawful.basis": "maybe"})
    with pytest.raises(UserError):
        ChecklistAnswers(jurisdictions=("UK",))
    with pytest.raises(UserError):
        ChecklistAnswers.from_json("[1, 2]")


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_evidence_message_renders_in_both_languages(customers, lang):
    evidence = data_evidence(
        customers, target="churn", sensitive="gender", quasi_identifiers=["age", "zip"]
    )
    for result in evaluate_checklist(ChecklistContext(**evidence)):
        for message in result.evidence:
            text = message.text(lang)
            assert text and text != message.key


def test_checklist_json_holds_structure_only_and_the_catalog_holds_every_text():
    import json

    from core.compliance.checklist import CHECKLIST_PATH

    raw = CHECKLIST_PATH.read_text(encoding="utf-8")
    data = json.loads(raw)
    assert '"zh"' not in raw and '"en"' not in raw, "texts belong in core/locales/*/checklist.json"
    for lang in ("en", "zh"):
        catalog = catalog_for(lang)
        missing = [
            key
            for item in data["items"]
            for key in (f"checklist.item.{item['id']}.{p}" for p in ("title", "question", "help"))
            if not catalog.get(key, "").strip()
        ] + [
            f"checklist.section.{s['id']}"
            for s in data["sections"]
            if f"checklist.section.{s['id']}" not in catalog
        ]
        assert not missing, f"{lang}: {missing}"
    checklist = load_checklist()
    first = checklist.items[0]
    assert first.text("title", "zh") == catalog_for("zh")[f"checklist.item.{first.id}.title"]
    assert first.text("title", "en") != first.text("title", "zh")


def test_checks_are_one_registry_that_items_must_name_from(tmp_path):
    from core.compliance.checklist import evidence_check

    with pytest.raises(ValueError, match="twice"):
        evidence_check("pii_scan")(lambda context: None)
    data = json.loads(CHECKLIST_PATH.read_text(encoding="utf-8"))
    data["items"][0]["check"] = "no_such_check"
    path = tmp_path / "checklist.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=data["items"][0]["id"]):
        load_checklist(path)
