"""Compliance tab (f): the session's audit trail."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from ui.widgets import (
    audit_key,
    audit_trail,
    say,
    show_error,
    tr,
)


def audit_section() -> None:
    """Every event of this session, and whether the keyed chain still holds."""
    trail = audit_trail()
    verification = trail.verify()
    if verification.ok:
        st.success(say(verification.message), icon=":material/verified:")
    else:
        show_error(verification)
    if not audit_key().configured:
        st.info(tr("compage.audit.ephemeral_key"), icon=":material/key_off:")
    events = trail.events
    if not events:
        st.caption(tr("compliance.evidence.no_audit"))
        return
    table = pd.DataFrame(
        {
            tr("compage.audit.index"): [e.index for e in events],
            tr("compage.audit.time"): [e.time for e in events],
            tr("compage.audit.event"): [tr(f"audit.kind.{e.kind}") for e in events],
            tr("compage.audit.origin"): [
                tr("compage.audit.imported" if e.imported else "compage.audit.own") for e in events
            ],
            tr("compage.audit.details"): [
                json.dumps(e.details, ensure_ascii=False)[:300] for e in events
            ],
            tr("compage.audit.hash"): [e.hash[:16] for e in events],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button(
        tr("compage.audit.download"),
        trail.to_json(),
        file_name="modeldesk_audit.json",
        mime="application/json",
        icon=":material/download:",
        key="cp_audit_download",
    )
