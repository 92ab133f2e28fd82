"""The Compliance page's plain helpers: choices, dataset versions, run evidence, backups."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.compliance.anonymity import Action, suggest_quasi_identifiers
from core.compliance.audit import AuditTrail
from core.compliance.checklist import ChecklistAnswers, evaluate_checklist, load_checklist
from core.compliance.evidence import (
    ACTION_CHOICES,
    checklist_context,
    columns_to_review,
    deidentified_dataset,
    fairness_for,
    matching_spec,
    read_backup,
    report_inputs,
    run_evidence,
    session_backup,
    suggested_choice,
    to_action,
    weight_facts,
)
from core.compliance.privacy import scan_frame
from core.compliance.report import ModelCardText, render_report
from core.data.loading import load_bytes
from core.i18n import UserError
from core.prep.pipeline import prepare
from core.prep.preprocessing import default_spec


def people(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": [f"person{i}@example.org" for i in range(rows)],
            "age": [20 + i % 40 for i in range(rows)],
            "gender": ["F", "M"] * (rows // 2),
            "score": [float(i % 7) for i in range(rows)],
            "approved": ["yes" if i % 3 else "no" for i in range(rows)],
        }
    )


class Predicts:
    """Stands in for a Keras model: predicts the positive class when score is high."""

    def __init__(self, column: int) -> None:
        self.column = column

    def __call__(self, X, training=False):  # as a Keras model is called for inference
        return (X[:, self.column : self.column + 1] > 0).astype(np.float32)


def fake_run(prepared, weights=None):
    column = prepared.feature_names.index(
        next(name for name in prepared.feature_names if "score" in name)
    )
    return SimpleNamespace(
        weights=weights if weights is not None else [np.zeros((3, 1)), np.zeros(1)],
        model=None,
        n_features=prepared.X_test.shape[1],
        duration_s=1.5,
        build_model=lambda: Predicts(column),
    )


def test_suggested_choices_follow_what_the_scan_found():
    frame = people()
    frame["id"] = ["110101199003071235"] * len(frame)  # not a valid ID: stays "keep"
    scan = scan_frame(frame)
    assert suggested_choice(scan, "email") == "drop"
    assert suggested_choice(scan, "age", "age") == "generalise_age_band"
    assert suggested_choice(scan, "dob", "birth_date") == "generalise_year"
    assert suggested_choice(scan, "score") == "keep"
    assert suggested_choice(None, "anything") == "keep"


def test_columns_to_review_lists_flagged_then_quasi_identifiers_once():
    frame = people()
    scan = scan_frame(frame)
    suggestions = suggest_quasi_identifiers(frame)
    assert columns_to_review(scan, suggestions, ["gender", "score"]) == [
        "email",
        "age",
        "gender",
        "score",
    ]


def test_page_choices_become_core_actions():
    assert to_action("a", "keep") is None
    assert to_action("a", "mask", keep_last=2) == Action("a", "mask", keep_last=2)
    assert to_action("a", "generalise_cn_id_region").method == "cn_id_region"
    assert to_action("a", "generalise_age_band", band_width=5).band_width == 5
    assert all(choice == "keep" or to_action("c", choice) for choice in ACTION_CHOICES)
    with pytest.raises(UserError):
        to_action("a", "shred")


def test_a_deidentified_version_gets_its_own_name_and_hash():
    dataset = load_bytes(people().to_csv(index=False).encode(), "people.csv")
    smaller = dataset.frame.drop(columns=["email"])
    version = deidentified_dataset(dataset, smaller, "de-identified")
    assert version.name == "people.csv (de-identified)"
    assert version.sha256 != dataset.sha256 and len(version.sha256) == 64
    assert list(version.frame.columns) == ["age", "gender", "score", "approved"]
    again = deidentified_dataset(version, smaller.head(10), "de-identified")
    assert again.name == "people.csv (de-identified)", "no doubled suffix"
    assert dataset.frame.shape[1] == 5, "the original is untouched"


def test_the_prepared_spec_is_used_only_for_its_own_table_and_target():
    frame = people()
    prepared = prepare(frame, default_spec(frame, "approved"))
    assert matching_spec(prepared, frame, "approved") is prepared.spec
    assert matching_spec(prepared, frame, "gender") is None
    assert matching_spec(prepared, frame.drop(columns=["email"]), "approved") is None
    assert matching_spec(None, frame, "approved") is None


def test_weight_facts_count_parameters_and_bytes_without_tensorflow():
    run = SimpleNamespace(weights=[np.zeros((4, 3), np.float32), np.zeros(3, np.float32)])
    assert weight_facts(run) == (15, 60)
    assert weight_facts(SimpleNamespace(weights=None, model=None)) == (None, None)


def test_run_evidence_and_fairness_on_the_test_rows():
    frame = people(200)
    prepared = prepare(frame, default_spec(frame, "approved"))
    evidence = run_evidence(fake_run(prepared), prepared)
    facts = evidence.facts
    assert facts.task == "binary" and facts.metric == "accuracy"
    assert 0 <= facts.value <= 1
    assert set(facts.baselines) == {"majority", "logistic", "boosting"}
    assert facts.parameters == 4 and facts.training_seconds == 1.5
    assert set(evidence.y_true) <= {"yes", "no"}
    report, why = fairness_for(evidence, prepared, "gender")
    assert why is None
    assert report.sensitive == "gender"
    assert {group.group for group in report.groups} == {"F", "M"}
    assert sum(group.count for group in report.groups) == len(prepared.y_test)


def test_fairness_says_why_it_cannot_be_measured():
    frame = people(200)
    prepared = prepare(frame, default_spec(frame, "approved"))
    evidence = run_evidence(fake_run(prepared), prepared)
    assert fairness_for(evidence, prepared, None)[1].key == "compage.model.fairness_choose"
    assert fairness_for(evidence, prepared, "approved")[1].key.endswith("fairness_is_target")
    assert fairness_for(evidence, prepared, "nope")[1].key.endswith("fairness_not_in_test")
    regression = SimpleNamespace(y_true=None, y_pred=None)
    assert fairness_for(regression, prepared, "gender")[1].key.endswith("fairness_regression")


def test_run_evidence_refuses_a_run_without_a_model_or_with_other_inputs():
    frame = people(60)
    prepared = prepare(frame, default_spec(frame, "approved"))
    with pytest.raises(UserError, match="no trained model"):
        run_evidence(SimpleNamespace(weights=None, model=None, n_features=1), prepared)
    with pytest.raises(UserError, match="expects 99 inputs"):
        run_evidence(SimpleNamespace(weights=[], model=None, n_features=99), prepared)


def test_context_and_report_carry_the_page_evidence():
    frame = people()
    dataset = load_bytes(frame.to_csv(index=False).encode(), "people.csv")
    from core.compliance.checklist import data_evidence
    from core.i18n import Message

    evidence = data_evidence(dataset.frame, quasi_identifiers=["age", "gender"])
    deid = {"label": "anonymised", "reason": Message("anonymity.reason.no_quasi"), "summary": {}}
    answers = ChecklistAnswers().answer("purpose.intended_use", "yes")
    context = checklist_context(
        answers, evidence=evidence, deidentification=deid, encrypted_export=True
    )
    results = {r.id: r for r in evaluate_checklist(context)}
    assert results["purpose.intended_use"].status == "pass"
    assert results["identifiers.deidentified"].status == "pass"
    assert results["security.encryption"].status == "pass"
    inputs = report_inputs(
        list(results.values()), dataset=dataset, evidence=evidence, deidentification=deid
    )
    assert inputs.dataset_name == "people.csv" and inputs.rows == len(frame)
    assert inputs.k_anonymity is evidence["k_anonymity"]
    chinese = render_report(inputs, "markdown", "zh").decode()
    assert load_checklist().item("purpose.intended_use").text("title", "zh") in chinese


def test_backup_round_trip_keeps_answers_card_and_trail():
    trail = AuditTrail()
    trail.record("upload", {"name": "people.csv"})
    answers = ChecklistAnswers(jurisdictions=("CN",), automated_decisions=True).answer(
        "lawful.basis", "partial", "consent form v2"
    )
    dataset = load_bytes(people().to_csv(index=False).encode(), "people.csv")
    text = session_backup(
        answers=answers, audit=trail, card=ModelCardText(owner="Risk team"), dataset=dataset
    )
    document = json.loads(text)
    assert "person0@example.org" not in text, "no data values in a backup"
    assert document["dataset"]["columns"][0] == "email"
    restored = read_backup(text.encode())
    assert restored.answers == answers
    assert restored.card.owner == "Risk team"
    assert [e.hash for e in restored.audit.events] == [e.hash for e in trail.events]
    assert restored.summary()["answers"] == 1 and restored.summary()["audit_events"] == 1


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: "{oops", "compage.backup.error.not_json"),
        (lambda d: json.dumps([1, 2]), "compage.backup.error.not_backup"),
        (lambda d: json.dumps({**d, "version": 99}), "compage.backup.error.version"),
        (lambda d: json.dumps({**d, "runs": [{"x": 1}]}), "compage.backup.error.runs"),
        (
            lambda d: json.dumps({**d, "checklist": {"sensitive_data": "maybe"}}),
            "compage.backup.error.not_backup",
        ),
        (
            lambda d: json.dumps({**d, "checklist": {"answers": {"a": "maybe"}}}),
            "compliance.error.answer",
        ),
    ],
)
def test_a_bad_backup_is_a_user_error(change, key):
    trail = AuditTrail()
    document = json.loads(session_backup(answers=ChecklistAnswers(), audit=trail))
    with pytest.raises(UserError) as caught:
        read_backup(change(document))
    assert caught.value.message.key == key


def test_a_backup_trail_is_read_for_import_and_bad_events_are_a_user_error():
    # A backup's chain was made under another key: it is read, not trusted
    # ...but an event kind this version does not know, or a secret in details, refuses it whole.
    trail = AuditTrail()
    trail.record("upload", {"name": "a.csv"})
    document = json.loads(session_backup(answers=ChecklistAnswers(), audit=trail))
    document["audit"]["events"][0]["details"]["name"] = "b.csv"
    assert read_backup(json.dumps(document)).audit.events[0].details == {"name": "b.csv"}
    for event in (
        {**document["audit"]["events"][0], "kind": "party"},
        {**document["audit"]["events"][0], "details": {"password": "x"}},
    ):
        bad = {**document, "audit": {"events": [event]}}
        with pytest.raises(UserError) as caught:
            read_backup(json.dumps(bad))
        assert caught.value.message.key == "audit.error.bad_json"


def test_importance_from_the_evaluate_page_answers_the_explainability_check():
    from core.compliance.checklist import ChecklistContext, evaluate_checklist

    frame = people(200)
    prepared = prepare(frame, default_spec(frame, "approved"))
    without = run_evidence(fake_run(prepared), prepared).facts
    with_importance = run_evidence(fake_run(prepared), prepared, {"age": 0.2, "gender": 0.0}).facts
    assert without.importance is None
    assert with_importance.importance == {"age": 0.2, "gender": 0.0}
    keys = {
        facts_name: {
            m.key
            for result in evaluate_checklist(ChecklistContext(model=facts))
            for m in result.evidence
        }
        for facts_name, facts in (("without", without), ("with", with_importance))
    }
    assert "explain.evidence.not_computed" in keys["without"]
    assert "compliance.evidence.importance" in keys["with"]
