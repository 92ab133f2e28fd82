"""Compliance: the evidence-backed checklist, PII scan, de-identification, fairness, security
actions (encrypted export, access control, backup), the audit trail and the report."""

from __future__ import annotations

import streamlit as st

from core.compliance.checklist import (
    evaluate_checklist,
)
from core.compliance.evidence import (
    checklist_context,
    report_inputs,
)
from ui import state
from ui.sections.compliance.actions import actions_section
from ui.sections.compliance.answers import current_answers, settings_section
from ui.sections.compliance.audit import audit_section
from ui.sections.compliance.checklist import checklist_section, progress_summary
from ui.sections.compliance.data_evidence import data_section, table_facts
from ui.sections.compliance.deidentify import current_deidentification, deidentify_section
from ui.sections.compliance.model import model_section
from ui.sections.compliance.report import card_inputs, report_section
from ui.widgets import (
    audit_trail,
    run_app_first,
    tr,
)


def compliance_page() -> None:
    """Settings, progress, then the tabs; evidence first so the checklist can use it."""
    st.title(tr("app.nav.compliance"))
    st.caption(tr("compage.intro"))
    settings_section()
    summary = st.container()
    names = ("checklist", "data", "deidentify", "model", "actions", "audit", "report")
    tabs = dict(zip(names, st.tabs([tr(f"compage.tab.{name}") for name in names]), strict=True))
    dataset = state.dataset()
    facts = table_facts(dataset)  # the table's profile and PII scan, made once per table
    with tabs["data"]:
        evidence = data_section(dataset, facts)
    with tabs["deidentify"]:
        deidentify_section(dataset, facts)
    with tabs["model"]:
        facts, fairness = model_section(evidence)
    deid = current_deidentification(dataset)
    trail = audit_trail()
    context = checklist_context(
        current_answers(),
        evidence=evidence,
        deidentification=deid,
        model=facts,
        fairness=fairness,
        audit=trail.verify(),
        encrypted_export=bool(state.scratch("cp_encrypted_export")),
        backup_saved=bool(state.scratch("cp_backup_saved")),
    )
    results = evaluate_checklist(context)
    with summary:
        progress_summary(results)
    with tabs["checklist"]:
        checklist_section(results)
    with tabs["report"]:
        card = card_inputs()
        inputs = report_inputs(
            results,
            card=card,
            dataset=dataset,
            evidence=evidence,
            deidentification=deid,
            model=facts,
            fairness=fairness,
            audit=trail,
        )
        report_section(inputs)
    with tabs["actions"]:
        actions_section(inputs, card)
    with tabs["audit"]:
        audit_section()


run_app_first()
compliance_page()
