"""Compliance tab (a), special categories: what the scan found, and the person's corrections.

Every call of the scan (a column holds ethnic origin, health, sex ...) can be corrected in a
table; a correction outranks the scan everywhere after (checklist, fairness, report) and is
recorded in the audit trail.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.compliance.privacy import SENSITIVE_CATEGORIES, ScanResult, category_key
from ui import state
from ui.widgets import escape_md, record_event, tr

NONE = ""


def corrections_for(sha256: str) -> dict[str, list[str]]:
    """The person's corrections for one dataset: column -> categories (empty: none)."""
    stored = state.scratch_dict("special_corrections").get(sha256, {})
    return {str(column): list(categories) for column, categories in stored.items()}


def corrected_scan(sha256: str, scan: ScanResult) -> ScanResult:
    """The scan with this session's corrections for the dataset applied (columns it has)."""
    names = {column.name for column in scan.columns}
    corrections = {c: v for c, v in corrections_for(sha256).items() if c in names}
    return scan.corrected(corrections)


def special_section(sha256: str, scan: ScanResult) -> ScanResult:
    """Report the special-category data, offer corrections, and return the corrected scan."""
    labels = {NONE: tr("special.page.no_category")}
    labels.update({category: tr(category_key(category)) for category in SENSITIVE_CATEGORIES})
    by_label = {label: category for category, label in labels.items()}
    base = pd.DataFrame(
        {
            "column": [column.name for column in scan.columns],
            "category": [
                labels[column.sensitive[0].category] if column.sensitive else labels[NONE]
                for column in scan.columns
            ],
        }
    )
    summary = st.container()
    with st.expander(tr("special.page.correct"), icon=":material/edit:"):
        st.caption(tr("special.page.correct_help"))
        edited = st.data_editor(
            base,
            column_config={
                "column": st.column_config.TextColumn(tr("special.page.col.column")),
                "category": st.column_config.SelectboxColumn(
                    tr("special.page.col.category"), options=list(labels.values()), required=True
                ),
            },
            disabled=["column"],
            hide_index=True,
            key=f"cp_special_{sha256[:12]}_{_columns_hash(scan)}",
        )
    _record(sha256, scan, base, edited, by_label)
    result = corrected_scan(sha256, scan)
    with summary:
        _summary(result)
    return result


def _record(
    sha256: str, scan: ScanResult, base: pd.DataFrame, edited: pd.DataFrame, by_label: dict
) -> None:
    """Store the rows the person changed, and audit each change once."""
    wanted: dict[str, list[str]] = {}
    for (column, before), after in zip(
        base[["column", "category"]].itertuples(index=False), edited["category"], strict=True
    ):
        if after != before and after in by_label:
            chosen = by_label[after]
            wanted[column] = [chosen] if chosen else []
    store = state.scratch_dict("special_corrections")
    current = store.get(sha256, {})
    if wanted == current:
        return
    store[sha256] = wanted
    names = {column.name for column in scan.columns}
    for column in sorted((set(wanted) | set(current)) & names):
        if wanted.get(column) == current.get(column):
            continue
        found = [f.category for f in scan.column(column).sensitive]
        record_event(
            "checklist",
            {
                "correction": "special_category",
                "column": column,
                "scan": found,
                "person": wanted.get(column, found),
            },
        )


def _columns_hash(scan: ScanResult) -> str:
    """The same file re-read with other options has other columns: a fresh editor then."""
    names = repr([column.name for column in scan.columns]).encode()
    return hashlib.sha256(names).hexdigest()[:8]


def _summary(scan: ScanResult) -> None:
    special = [column for column in scan.columns if column.special]
    protected = [column for column in scan.columns if column.sensitive and not column.special]
    if special:
        lines = [_line(column) for column in special]
        st.warning(
            tr("special.page.special_found") + "\n\n" + "\n".join(lines),
            icon=":material/shield_person:",
        )
    else:
        st.info(tr("special.page.no_special"), icon=":material/info:")
    if protected:
        lines = [_line(column) for column in protected]
        st.info(tr("special.page.protected_found") + "\n\n" + "\n".join(lines))


def _line(column) -> str:
    parts = []
    for finding in column.sensitive:
        law = ", ".join(finding.law)
        how = tr(f"special.page.source.{finding.source}")
        confidence = tr(f"special.page.confidence.{finding.confidence}")
        parts.append(f"{tr(category_key(finding.category))} ({law}; {how}; {confidence})")
    return f"- **{escape_md(column.name)}**: " + "; ".join(parts)
