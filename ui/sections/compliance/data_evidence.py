"""Compliance tab (a): evidence from the data: PII scan, re-identification risk, quality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.compliance.anonymity import (
    DEFAULT_K,
    DEFAULT_L,
)
from core.compliance.anonymity import suggest_quasi_identifiers as _suggest_quasi
from core.compliance.checklist import (
    QUALITY_ALERTS,
    data_evidence,
)
from core.compliance.evidence import (
    matching_spec,
)
from core.compliance.privacy import category_key, scan_frame
from core.i18n import UserError
from ui import state
from ui.sections.compliance.special import special_section
from ui.widgets import (
    PERSIST,
    escape_md,
    labeler,
    page_link,
    say,
    session_cache,
    show_error,
    tr,
)

PREVIEW_GROUPS = 20


def needs_step(step: str) -> None:
    """Say that a tab needs an earlier step first, with a link to it."""
    st.warning(tr("app.planned.needs", step=tr(f"app.nav.{step}")), icon=":material/info:")
    page_link(step, label=tr(f"app.nav.{step}"), icon=":material/arrow_back:")


@dataclass(frozen=True)
class TableFacts:
    """What the Compliance tabs read about the current table, computed once per table (and per
    de-identified version) and handed to each tab: none of them profiles or scans it again."""

    profile: Any  # core.data.profile.Profile, made with the dataset (the Data page's)
    scan: Any  # core.compliance.privacy.ScanResult
    suggestions: list  # core.compliance.anonymity.QuasiSuggestion, likely quasi-identifiers


def table_facts(dataset) -> TableFacts | None:
    """The current table's profile and PII scan as the session holds them; the scan is made here
    the first time a table reaches the Compliance page, and kept with the dataset."""
    if dataset is None:
        return None
    scan = state.pii_scan()
    if scan is None:
        scan = scan_frame(dataset.frame)
        state.set_pii_scan(scan)
    frame = dataset.frame
    suggestions = session_cache(("cp_quasi", dataset.sha256), lambda: _suggest_quasi(frame))
    return TableFacts(state.profile(), scan, suggestions)


def data_section(dataset, facts: TableFacts | None) -> dict | None:
    """Pickers, then the scan, re-identification risk, quality, balance, representation, leakage."""
    if dataset is None or facts is None:
        needs_step("data")
        return None
    frame = dataset.frame
    columns = [str(name) for name in frame.columns]
    prefix = f"cp_{dataset.sha256[:12]}"
    scan, suggestions = facts.scan, facts.suggestions
    st.caption(tr("compage.data.dataset", name=escape_md(dataset.name), rows=len(frame)))

    st.subheader(tr("compage.data.scan"))
    table = st.container()  # drawn once the person's corrections are known
    scan = special_section(dataset.sha256, scan)  # the person's corrections outrank the scan
    with table:
        _scan_table(scan)

    st.subheader(tr("compage.data.choices"))
    if suggestions:
        st.markdown(tr("compage.data.quasi_suggested"))
        st.markdown("\n".join(f"- {say(s.reason)}" for s in suggestions))
    else:
        st.caption(tr("compage.data.quasi_none"))
    quasi = st.multiselect(
        tr("compage.data.quasi"),
        columns,
        default=[s.column for s in suggestions],
        help=tr("compage.data.quasi_help"),
        key=f"{prefix}_quasi",
        **PERSIST,
    )
    options = (None, *columns)
    none_label = tr("compage.none")
    sensitive_default = _default_sensitive(scan, suggestions)
    pick, target_pick, k_col, l_col = st.columns([3, 3, 1, 1])
    sensitive = pick.selectbox(
        tr("compage.data.sensitive"),
        options,
        index=options.index(sensitive_default),
        format_func=labeler(options, lambda c: none_label if c is None else c),
        help=tr("compage.data.sensitive_help"),
        key=f"{prefix}_sensitive",
        **PERSIST,
    )
    target_default = _default_target(dataset)
    target = target_pick.selectbox(
        tr("compage.data.target"),
        options,
        index=options.index(target_default),
        format_func=labeler(options, lambda c: none_label if c is None else c),
        help=tr("compage.data.target_help"),
        key=f"{prefix}_target",
        **PERSIST,
    )
    k = int(
        k_col.number_input(
            tr("compage.data.k"), 1, 1000, DEFAULT_K, help=tr("compage.data.k_help"), key="cp_k"
        )
    )
    l_target = int(
        l_col.number_input(
            tr("compage.data.l"), 1, 100, DEFAULT_L, help=tr("compage.data.l_help"), key="cp_l"
        )
    )
    spec = matching_spec(state.prepared(), frame, target)
    key = ("cp_evidence", dataset.sha256, target, sensitive, tuple(quasi), k, l_target,
           None if spec is None else spec.to_json(),
           tuple(column.sensitive for column in scan.columns))  # fmt: skip
    try:
        evidence = session_cache(
            key,
            lambda: data_evidence(
                frame,
                target=target,
                sensitive=sensitive,
                quasi_identifiers=quasi,
                k=k,
                l=l_target,
                spec=spec,
                scan=scan,
                profile=facts.profile,
            ),
        )
    except UserError as error:
        show_error(error)
        return {"scan": scan}
    _risk(evidence, sensitive, quasi)
    _quality(evidence)
    return evidence


def _scan_table(scan) -> None:
    rows = []
    for column in scan.flagged:
        for entity in column.entities:
            rows.append(
                {
                    "column": column.name,
                    "found": tr(f"privacy.entity.{entity.type.lower()}"),
                    "how": tr(f"compage.scan.source_{entity.source}"),
                    "match": f"{entity.match_rate:.0%}" if entity.source == "values" else "",
                    "valid": f"{entity.valid_rate:.0%}" if entity.source == "values" else "",
                    "sensitive": "",
                    "direct": tr("compage.yes" if column.direct_identifier else "compage.no"),
                }
            )
        for finding in column.sensitive:
            rows.append(
                {
                    "column": column.name,
                    "found": "",
                    "how": tr(f"special.page.source.{finding.source}"),
                    "match": "",
                    "valid": "",
                    "sensitive": tr(category_key(finding.category)),
                    "direct": tr("compage.yes" if column.direct_identifier else "compage.no"),
                }
            )
    st.caption(tr("compage.scan.summary", flagged=len(scan.flagged), columns=len(scan.columns)))
    for note in scan.notes:
        st.caption(say(note))
    if not rows:
        st.success(tr("compage.scan.nothing"), icon=":material/check:")
        return
    table = pd.DataFrame(rows)
    table.columns = [tr(f"compage.scan.col.{name}") for name in table.columns]
    st.dataframe(table, hide_index=True, width="stretch")
    if scan.direct_identifiers:
        st.warning(
            tr("compage.scan.identifiers", columns=escape_md(", ".join(scan.direct_identifiers))),
            icon=":material/badge:",
        )


def _risk(evidence: dict, sensitive: str | None, quasi: list[str]) -> None:
    st.subheader(tr("compage.data.risk"))
    k_result = evidence.get("k_anonymity")
    if k_result is None:
        st.info(tr("compliance.evidence.choose_quasi"), icon=":material/info:")
    else:
        a, b, c, d = st.columns(4)
        a.metric(tr("compage.risk.k"), k_result.k)
        b.metric(tr("compage.risk.below"), f"{k_result.share_below_k:.1%}")
        c.metric(tr("compage.risk.unique"), f"{k_result.unique_share:.1%}")
        d.metric(tr("compage.risk.groups"), f"{k_result.groups:,}")
        show = st.success if k_result.satisfied else st.warning
        show(say(k_result.message))
    l_result = evidence.get("l_diversity")
    if l_result is not None:
        a, b = st.columns(2)
        a.metric(tr("compage.risk.l"), l_result.l)
        b.metric(tr("compage.risk.l_below"), f"{l_result.share_below_l:.1%}")
        show = st.success if l_result.satisfied else st.warning
        show(say(l_result.message))
    elif quasi and sensitive in quasi:
        st.caption(tr("compage.risk.sensitive_in_quasi", column=escape_md(sensitive)))
    elif quasi:
        st.caption(tr("compliance.evidence.choose_quasi_sensitive"))


def _quality(evidence: dict) -> None:
    st.subheader(tr("compage.data.quality"))
    profile = evidence.get("profile")
    alerts = [a for a in profile.alerts if a.kind in QUALITY_ALERTS] if profile else []
    if not alerts:
        st.success(tr("compliance.evidence.no_quality_alerts"), icon=":material/check:")
    for alert in alerts:
        st.warning(say(alert.message), icon=":material/warning:")
    st.subheader(tr("compage.data.balance"))
    balance = evidence.get("class_balance")
    if balance is None:
        st.caption(tr("compliance.evidence.choose_target"))
    elif not balance:
        st.success(tr("compliance.evidence.balanced", column=escape_md(evidence["target"])))
    for message in balance or ():
        st.warning(say(message), icon=":material/balance:")
    st.subheader(tr("compage.data.representation"))
    shares = evidence.get("representation")
    if shares is None:
        st.caption(tr("compliance.evidence.choose_sensitive"))
    else:
        table = pd.DataFrame(
            {
                tr("compage.group.group"): [s.group for s in shares[:PREVIEW_GROUPS]],
                tr("compage.group.count"): [s.count for s in shares[:PREVIEW_GROUPS]],
                tr("compage.group.share"): [f"{s.share:.1%}" for s in shares[:PREVIEW_GROUPS]],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch")
    st.subheader(tr("compage.data.leakage"))
    leakage = evidence.get("leakage")
    if leakage is None:
        st.caption(tr("compliance.evidence.choose_target"))
    elif not leakage:
        st.success(tr("compliance.evidence.no_leakage"), icon=":material/check:")
    for message in leakage or ():
        st.warning(say(message), icon=":material/warning:")


def _default_sensitive(scan, suggestions) -> str | None:
    found = scan.fairness_column()  # ethnicity first, then sex, religion ...
    if found is not None:
        return found
    for kind in ("gender", "ethnicity", "age"):
        for suggestion in suggestions:
            if suggestion.kind == kind:
                return suggestion.column
    return None


def _default_target(dataset) -> str | None:
    columns = [str(name) for name in dataset.frame.columns]
    prepared = state.prepared()
    if prepared is not None and prepared.spec.target in columns:
        return prepared.spec.target
    if dataset.target_suggestion in columns:
        return dataset.target_suggestion
    return None
