"""Compliance settings (where the model is used) and the checklist answers' widgets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from core.compliance.checklist import (
    JURISDICTIONS,
    ChecklistAnswers,
    load_checklist,
)
from ui import state
from ui.widgets import (
    labeler,
    record_event,
    tr,
)

UNSET = "unset"  # the answer control's "not answered"
SENSITIVE_CHOICES = ("scan", "yes", "no")
SENSITIVE_VALUE = {"scan": None, "yes": True, "no": False}


def current_answers() -> ChecklistAnswers:
    """This session's checklist answers and settings."""
    return state.checklist_answers()


def start_widget(key: str, value: object) -> None:
    """Start a widget from the stored answers (widgets forget their value off the page)."""
    state.preset_widget(key, value)


def settings_section() -> None:
    """Where the model is used and what it does: decides which items apply."""
    answers = current_answers()
    start_widget("cp_jurisdictions", list(answers.jurisdictions))
    start_widget("cp_automated_decisions", answers.automated_decisions)
    start_widget("cp_generative", answers.generative)
    sensitive = next(k for k, v in SENSITIVE_VALUE.items() if v == answers.sensitive_data)
    start_widget("cp_sensitive_data", sensitive)
    with st.container(border=True):
        left, right = st.columns([2, 3])
        left.multiselect(
            tr("compage.settings.jurisdictions"),
            JURISDICTIONS,
            format_func=labeler(
                JURISDICTIONS, lambda j: tr(f"compliance.jurisdiction.{j.lower()}")
            ),
            help=tr("compage.settings.jurisdictions_help"),
            key="cp_jurisdictions",
            on_change=_on_setting,
            args=("jurisdictions",),
        )
        with right:
            st.checkbox(
                tr("compliance.flag.automated_decisions"),
                help=tr("compage.settings.automated_help"),
                key="cp_automated_decisions",
                on_change=_on_setting,
                args=("automated_decisions",),
            )
            st.checkbox(
                tr("compliance.flag.generative"),
                help=tr("compage.settings.generative_help"),
                key="cp_generative",
                on_change=_on_setting,
                args=("generative",),
            )
        st.radio(
            tr("compage.settings.sensitive"),
            SENSITIVE_CHOICES,
            format_func=labeler(SENSITIVE_CHOICES, lambda c: tr(f"compage.settings.sensitive_{c}")),
            horizontal=True,
            key="cp_sensitive_data",
            on_change=_on_setting,
            args=("sensitive_data",),
        )


def jurisdiction_name(code: str) -> str:
    """A jurisdiction's name in the session's language."""
    return tr(f"compliance.jurisdiction.{code.lower()}")


def _on_setting(name: str) -> None:
    value = state.widget(f"cp_{name}")
    answers = current_answers()
    if name == "jurisdictions":
        value = [j for j in JURISDICTIONS if j in value]
        answers = replace(answers, jurisdictions=tuple(value))
    elif name == "sensitive_data":
        answers = replace(answers, sensitive_data=SENSITIVE_VALUE[value])
    else:
        value = bool(value)
        flag: dict[str, Any] = {name: value}  # one of the answers' yes/no fields
        answers = replace(answers, **flag)
    state.set_checklist_answers(answers)
    record_event("checklist", {"setting": name, "value": value})


def on_answer(item_id: str) -> None:
    """Store an item's answer from its widget, and record it in the audit trail."""
    value = state.widget(f"cp_ans_{item_id}")
    state.set_checklist_answers(
        current_answers().answer(item_id, None if value == UNSET else value)
    )
    record_event("checklist", {"item": item_id, "answer": value})


def on_note(item_id: str) -> None:
    """Store an item's note from its widget, and record it in the audit trail."""
    note = state.widget(f"cp_note_{item_id}")
    answers = current_answers()
    state.set_checklist_answers(answers.answer(item_id, answers.answers.get(item_id), note))
    record_event("checklist", {"item": item_id, "note": note.strip()[:500]})


def set_answer_widgets(answers: ChecklistAnswers) -> None:
    """Point every settings and answer widget at `answers` (after a restore)."""
    state.set_widget("cp_jurisdictions", list(answers.jurisdictions))
    state.set_widget("cp_automated_decisions", answers.automated_decisions)
    state.set_widget("cp_generative", answers.generative)
    state.set_widget(
        "cp_sensitive_data",
        next(k for k, v in SENSITIVE_VALUE.items() if v == answers.sensitive_data),
    )
    for item in load_checklist().items:
        state.set_widget(f"cp_ans_{item.id}", answers.answers.get(item.id, UNSET))
        state.set_widget(f"cp_note_{item.id}", answers.notes.get(item.id, ""))
