"""Compliance tab (d): the evidence-backed checklist and its progress."""

from __future__ import annotations

import streamlit as st

from core.compliance.checklist import (
    ANSWERS,
    JURISDICTIONS,
    STATUSES,
    filter_results,
    load_checklist,
    progress,
)
from ui.sections.compliance.answers import (
    current_answers,
    jurisdiction_name,
    on_answer,
    on_note,
    start_widget,
)
from ui.widgets import (
    PERSIST,
    escape_md,
    labeler,
    lang,
    say,
    tr,
)

UNSET = "unset"  # the answer control's "not answered"
STATUS_BADGE = {
    "pass": "green",
    "warn": "orange",
    "fail": "red",
    "not_applicable": "gray",
    "unanswered": "blue",
}
STATUS_ICON = {
    "pass": ":material/check_circle:",
    "warn": ":material/warning:",
    "fail": ":material/cancel:",
    "not_applicable": ":material/remove_circle_outline:",
    "unanswered": ":material/help:",
}


def progress_summary(results) -> None:
    """The checklist's progress bar and one summary line, above the tabs."""
    summary = progress(results)
    st.progress(summary.share, text=say(summary.message))
    columns = st.columns(len(STATUSES))
    for column, status in zip(columns, STATUSES, strict=True):
        column.metric(tr(f"compliance.status.{status}"), summary.counts.get(status, 0))


def checklist_section(results) -> None:
    """Filters, then each item: status, question, help, references, evidence, answer and note."""
    checklist = load_checklist()
    left, right = st.columns(2)
    options = (None, *JURISDICTIONS)
    everywhere = tr("compage.filter.all")
    jurisdiction = left.selectbox(
        tr("compage.filter.jurisdiction"),
        options,
        format_func=labeler(
            options,
            lambda j: everywhere if j is None else jurisdiction_name(j),
        ),
        key="cp_filter_jurisdiction",
        **PERSIST,
    )
    statuses = right.multiselect(
        tr("compage.filter.status"),
        STATUSES,
        default=list(STATUSES),
        format_func=labeler(STATUSES, lambda s: tr(f"compliance.status.{s}")),
        key="cp_filter_status",
        **PERSIST,
    )
    shown = filter_results(results, jurisdiction=jurisdiction, statuses=statuses)
    st.caption(tr("compage.filter.shown", shown=len(shown), total=len(results)))
    answers = current_answers()
    answer_options = (UNSET, *ANSWERS)
    answer_label = labeler(
        answer_options,
        lambda a: tr("compage.answer.unset") if a == UNSET else tr(f"compliance.answer.{a}"),
    )
    section = None
    for result in shown:
        item = checklist.item(result.id)
        if item.section != section:
            section = item.section
            st.subheader(checklist.section(section).text(lang()))
        status = tr(f"compliance.status.{result.status}")
        label = f"{item.text('title', lang())} :{STATUS_BADGE[result.status]}-badge[{status}]"
        with st.expander(label, icon=STATUS_ICON[result.status]):
            st.markdown(f"**{item.text('question', lang())}**")
            st.caption(item.text("help", lang()))
            if item.references:
                references = "; ".join(ref.text() for ref in item.references)
                st.caption(tr("compage.item.references", references=escape_md(references)))
            if result.evidence:
                st.markdown(
                    f"{tr('compage.item.evidence')}\n"
                    + "\n".join(f"- {say(message)}" for message in result.evidence)
                )
            if item.action:
                st.caption(tr(f"compage.item.action.{item.action}"))
            if item.action == "access_control":
                st.markdown(tr("compage.access.body"))
            start_widget(f"cp_ans_{item.id}", answers.answers.get(item.id, UNSET))
            start_widget(f"cp_note_{item.id}", answers.notes.get(item.id, ""))
            st.radio(
                tr("compage.item.answer"),
                answer_options,
                format_func=answer_label,
                horizontal=True,
                key=f"cp_ans_{item.id}",
                on_change=on_answer,
                args=(item.id,),
            )
            st.text_area(
                tr("compage.item.note"),
                key=f"cp_note_{item.id}",
                height=68,
                on_change=on_note,
                args=(item.id,),
            )
