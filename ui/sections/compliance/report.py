"""Compliance tab (g): the model card inputs and the report downloads."""

from __future__ import annotations

import streamlit as st

from core.compliance import report as compliance_report
from core.compliance.evidence import (
    CARD_FIELDS,
)
from core.compliance.report import FORMATS, ModelCardText
from ui.widgets import (
    PERSIST,
    lang,
    record_event,
    tr,
)

REPORT_FILES = {"markdown": ("md", "text/markdown"), "html": ("html", "text/html"),
                "json": ("json", "application/json")}  # fmt: skip


def card_inputs() -> ModelCardText:
    """The model card's free-text fields (intended use, limits, ...), as the person wrote them."""
    with st.expander(tr("compage.report.card"), icon=":material/edit_note:"):
        st.caption(tr("compage.report.card_intro"))
        values = {}
        for name in CARD_FIELDS:
            widget = (
                st.text_area
                if name in ("limitations", "ethical_considerations")
                else (st.text_input)
            )
            values[name] = widget(tr(f"compage.card.{name}"), key=f"cp_card_{name}", **PERSIST)
    return ModelCardText(**values)


def report_section(inputs) -> None:
    """Markdown, HTML and JSON downloads of the report in the session's language."""
    st.caption(tr("compage.report.intro"))
    columns = st.columns(len(FORMATS))
    for column, fmt in zip(columns, FORMATS, strict=True):
        extension, mime = REPORT_FILES[fmt]
        column.download_button(
            tr(f"compage.report.{fmt}"),
            compliance_report.render_report(inputs, fmt, lang()),
            file_name=f"modeldesk_report_{lang()}.{extension}",
            mime=mime,
            icon=":material/download:",
            key=f"cp_report_{fmt}",
            on_click=record_event,
            args=("export", {"what": "report", "format": fmt, "language": lang()}),
        )
