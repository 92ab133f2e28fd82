"""Compliance: the evidence-backed checklist, PII scan, de-identification, fairness, security
actions (encrypted export, access control, backup), the audit trail and the report."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import streamlit as st

import state
from core.compliance.anonymity import (
    DEFAULT_K,
    DEFAULT_L,
    DeidentifySpec,
    deidentify,
    new_pseudonym_key,
)
from core.compliance.anonymity import suggest_quasi_identifiers as _suggest_quasi
from core.compliance.checklist import (
    ANSWERS,
    JURISDICTIONS,
    QUALITY_ALERTS,
    STATUSES,
    ChecklistAnswers,
    data_evidence,
    evaluate_checklist,
    filter_results,
    load_checklist,
    progress,
)
from core.compliance.evidence import (
    ACTION_CHOICES,
    CARD_FIELDS,
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
)
from core.compliance.privacy import scan_frame
from core.compliance.report import FORMATS, ModelCardText, render_report
from core.compliance.secure import FILE_SUFFIX, decrypt, encrypt
from core.i18n import UserError
from ui import (
    audit_trail,
    escape_md,
    labeler,
    lang,
    page_link,
    record_event,
    run_app_first,
    say,
    session_cache,
    set_dataset,
    tr,
)

PERSIST = {"persist_state": "session"}  # choices survive a visit to another page
UNSET = "unset"  # the answer control's "not answered"
SENSITIVE_CHOICES = ("scan", "yes", "no")
SENSITIVE_VALUE = {"scan": None, "yes": True, "no": False}
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
REPORT_FILES = {"markdown": ("md", "text/markdown"), "html": ("html", "text/html"),
                "json": ("json", "application/json")}  # fmt: skip
EXPORTS = ("report_html", "report_markdown", "report_json", "backup", "bundle")
PREVIEW_GROUPS = 20


def compliance_page() -> None:
    """Settings, progress, then the tabs; evidence first so the checklist can use it."""
    st.title(tr("app.nav.compliance"))
    st.caption(tr("compage.intro"))
    _settings()
    summary = st.container()
    names = ("checklist", "data", "deidentify", "model", "actions", "audit", "report")
    tabs = dict(zip(names, st.tabs([tr(f"compage.tab.{name}") for name in names]), strict=True))
    dataset = state.dataset()
    with tabs["data"]:
        evidence = data_section(dataset)
    with tabs["deidentify"]:
        deidentify_section(dataset, evidence)
    with tabs["model"]:
        facts, fairness = model_section(evidence)
    deid = _current_deidentification(dataset)
    trail = audit_trail()
    context = checklist_context(
        _answers(),
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
        _progress(results)
    with tabs["checklist"]:
        checklist_section(results)
    with tabs["report"]:
        card = _card_inputs()
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


# --- settings and answers -------------------------------------------------------------------


def _answers() -> ChecklistAnswers:
    return state.checklist_answers()


def _init(key: str, value: object) -> None:
    """Start a widget from the stored answers (widgets forget their value off the page)."""
    state.preset_widget(key, value)


def _settings() -> None:
    """Where the model is used and what it does: decides which items apply."""
    answers = _answers()
    _init("cp_jurisdictions", list(answers.jurisdictions))
    _init("cp_automated_decisions", answers.automated_decisions)
    _init("cp_generative", answers.generative)
    sensitive = next(k for k, v in SENSITIVE_VALUE.items() if v == answers.sensitive_data)
    _init("cp_sensitive_data", sensitive)
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


def _jurisdiction_name(code: str) -> str:
    return tr(f"compliance.jurisdiction.{code.lower()}")


def _on_setting(name: str) -> None:
    value = state.widget(f"cp_{name}")
    answers = _answers()
    if name == "jurisdictions":
        value = [j for j in JURISDICTIONS if j in value]
        answers = replace(answers, jurisdictions=tuple(value))
    elif name == "sensitive_data":
        answers = replace(answers, sensitive_data=SENSITIVE_VALUE[value])
    else:
        value = bool(value)
        answers = replace(answers, **{name: value})
    state.set_checklist_answers(answers)
    record_event("checklist", {"setting": name, "value": value})


def _on_answer(item_id: str) -> None:
    value = state.widget(f"cp_ans_{item_id}")
    state.set_checklist_answers(_answers().answer(item_id, None if value == UNSET else value))
    record_event("checklist", {"item": item_id, "answer": value})


def _on_note(item_id: str) -> None:
    note = state.widget(f"cp_note_{item_id}")
    answers = _answers()
    state.set_checklist_answers(answers.answer(item_id, answers.answers.get(item_id), note))
    record_event("checklist", {"item": item_id, "note": note.strip()[:500]})


def _set_answer_widgets(answers: ChecklistAnswers) -> None:
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


# --- (a) evidence from data -----------------------------------------------------------------


def _needs(step: str) -> None:
    st.warning(tr("app.planned.needs", step=tr(f"app.nav.{step}")), icon=":material/info:")
    page_link(step, label=tr(f"app.nav.{step}"), icon=":material/arrow_back:")


def data_section(dataset) -> dict | None:
    """Pickers, then the scan, re-identification risk, quality, balance, representation, leakage."""
    if dataset is None:
        _needs("data")
        return None
    frame = dataset.frame
    columns = [str(name) for name in frame.columns]
    prefix = f"cp_{dataset.sha256[:12]}"
    scan, suggestions = _scan(dataset)
    st.caption(tr("compage.data.dataset", name=escape_md(dataset.name), rows=len(frame)))

    st.subheader(tr("compage.data.scan"))
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
           None if spec is None else spec.to_json())  # fmt: skip
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
                profile=state.profile(),
            ),
        )
    except UserError as error:
        st.error(say(error.message), icon=":material/error:")
        return {"scan": scan}
    _risk(evidence, sensitive, quasi)
    _quality(evidence)
    return evidence


def _scan(dataset):
    """The PII scan and the quasi-identifier suggestions, once per dataset and session."""
    frame = dataset.frame
    return session_cache(
        ("cp_scan", dataset.sha256), lambda: (scan_frame(frame), _suggest_quasi(frame))
    )


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
                    "how": tr(f"compage.scan.source_{finding.source}"),
                    "match": "",
                    "valid": "",
                    "sensitive": tr(f"privacy.category.{finding.category}"),
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
    if scan.sensitive_columns:
        return scan.sensitive_columns[0]
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


# --- (b) de-identification ------------------------------------------------------------------


def deidentify_section(dataset, evidence: dict | None) -> None:
    """Per-column actions and small-group suppression; the result becomes the current dataset."""
    st.caption(tr("compage.deid.intro"))
    if dataset is None:
        _needs("data")
        _last_deidentification()
        return
    frame = dataset.frame
    scan = (evidence or {}).get("scan")
    prefix = f"cp_{dataset.sha256[:12]}"
    quasi = list(state.widget(f"{prefix}_quasi") or [])
    suggestions = _scan(dataset)[1]
    kinds = {s.column: s.kind for s in suggestions}
    columns = [str(name) for name in frame.columns]
    listed = columns_to_review(scan, suggestions, quasi)
    more = st.multiselect(
        tr("compage.deid.more"),
        [c for c in columns if c not in listed],
        key=f"{prefix}_deid_more",
        **PERSIST,
    )
    choice_label = labeler(ACTION_CHOICES, lambda c: tr(f"compage.action.{c}"))
    actions = []
    for name in [*listed, *more]:
        position = columns.index(name)
        key = f"{prefix}_act_{position}"
        default = suggested_choice(scan, name, kinds.get(name))
        col_name, col_choice, col_setting = st.columns([2, 2, 1])
        col_name.markdown(f"**{escape_md(name)}**")
        choice = col_choice.selectbox(
            tr("compage.deid.action"),
            ACTION_CHOICES,
            index=ACTION_CHOICES.index(default),
            format_func=choice_label,
            key=key,
            label_visibility="collapsed",
            **PERSIST,
        )
        keep_last, band = 4, 10
        if choice == "mask":
            keep_last = int(
                col_setting.number_input(
                    tr("compage.deid.keep_last"), 0, 50, 4, key=f"{key}_keep", **PERSIST
                )
            )
        elif choice == "generalise_age_band":
            band = int(
                col_setting.number_input(
                    tr("compage.deid.band"), 1, 100, 10, key=f"{key}_band", **PERSIST
                )
            )
        action = to_action(name, choice, keep_last=keep_last, band_width=band)
        if action is not None:
            actions.append(action)
    if not listed and not more:
        st.caption(tr("compage.deid.nothing_listed"))
    k = int(state.widget("cp_k", DEFAULT_K))
    suppress = st.checkbox(
        tr("compage.deid.suppress", k=k),
        help=tr("compage.deid.suppress_help"),
        disabled=not quasi,
        key=f"{prefix}_suppress",
        **PERSIST,
    )
    if quasi:
        st.caption(tr("compage.deid.quasi", columns=escape_md(", ".join(quasi)), k=k))
    else:
        st.caption(tr("compage.deid.no_quasi"))
    nothing = not actions and not (suppress and quasi)
    if st.button(
        tr("compage.deid.apply"),
        type="primary",
        icon=":material/shield:",
        disabled=nothing,
        key="cp_deid_apply",
    ):
        spec = DeidentifySpec(
            actions=tuple(actions),
            quasi_identifiers=tuple(quasi),
            k=k,
            suppress=bool(suppress and quasi),
        )
        if _apply_deidentification(dataset, spec, scan):
            st.rerun()
    _last_deidentification()


def _apply_deidentification(dataset, spec: DeidentifySpec, scan) -> bool:
    from core.data.profile import profile_frame

    # The key lives in this session's state only: never shown, logged, exported or backed up.
    if state.scratch("_cp_pseudonym_key") is None:
        state.set_scratch("_cp_pseudonym_key", new_pseudonym_key())
    try:
        result = deidentify(
            dataset.frame,
            spec,
            key=state.scratch("_cp_pseudonym_key"),
            direct_identifiers=None if scan is None else scan.direct_identifiers,
        )
    except UserError as error:
        st.error(say(error.message), icon=":material/error:")
        return False
    if result.frame.shape[1] == 0 or result.frame.shape[0] == 0:
        st.error(tr("compage.deid.empty"), icon=":material/error:")
        return False
    new = deidentified_dataset(dataset, result.frame, tr("compage.deid.suffix"))
    after = scan_frame(new.frame)
    set_dataset(new, profile_frame(new.frame))
    state.set_scratch(
        "cp_deid",
        {
            "sha256": new.sha256,
            "name": new.name,
            "source": dataset.name,
            "label": result.label,
            "reason": result.reason,
            "steps": result.steps,
            "summary": result.summary(),
            "k_before": result.k_before,
            "k_after": result.k_after,
            "scan_before": scan,
            "scan_after": after,
        },
    )
    record_event(
        "deidentify",
        {
            "source": dataset.name,
            "source_sha256": dataset.sha256,
            "result": new.name,
            "result_sha256": new.sha256,
            "plan": json.loads(spec.to_json()),
            **result.summary(),
        },
    )
    return True


def _current_deidentification(dataset) -> dict | None:
    """The last de-identification, while its result is the current dataset."""
    deid = state.scratch("cp_deid")
    if deid is None or dataset is None or deid["sha256"] != dataset.sha256:
        return None
    return deid


def _last_deidentification() -> None:
    deid = state.scratch("cp_deid")
    if deid is None:
        return
    st.subheader(tr("compage.deid.result", name=escape_md(deid["name"])))
    current = state.dataset()
    if current is None or current.sha256 != deid["sha256"]:
        st.caption(tr("compage.deid.not_current"))
    label = tr(f"anonymity.label.{deid['label']}")
    text = f"**{label}**  \n{say(deid['reason'])}"
    if deid["label"] == "anonymised":
        st.success(text, icon=":material/verified_user:")
    else:
        st.warning(text, icon=":material/warning:")
    st.markdown("\n".join(f"- {say(step)}" for step in deid["steps"]))
    before, after = st.columns(2)
    before.markdown(f"**{tr('compage.deid.before')}**")
    after.markdown(f"**{tr('compage.deid.after')}**")
    for column, k_result in ((before, deid["k_before"]), (after, deid["k_after"])):
        if k_result is not None:
            column.caption(say(k_result.message))
    for column, scan in ((before, deid["scan_before"]), (after, deid["scan_after"])):
        if scan is None:
            continue
        found = scan.direct_identifiers
        column.caption(
            tr("compage.scan.identifiers", columns=escape_md(", ".join(found)))
            if found
            else tr("compliance.evidence.no_identifiers")
        )
    st.caption(tr("compage.deid.key_note"))


# --- (c) model evidence ---------------------------------------------------------------------


def model_section(evidence: dict | None):
    """Facts of one trained run, and fairness by the sensitive column on its test rows."""
    usable = state.usable_runs()
    if not usable:
        st.info(tr("compliance.evidence.train_first"), icon=":material/model_training:")
        page_link("train", label=tr("app.nav.train"), icon=":material/arrow_back:")
        return None, None
    ids = list(usable)
    chosen = st.selectbox(
        tr("compage.model.run"),
        ids,
        index=len(ids) - 1,
        format_func=labeler(ids, lambda i: usable[i].run.name),
        key="cp_run",
    )
    run, prepared = usable[chosen].run, usable[chosen].prepared
    try:
        found = _run_evidence(chosen, run, prepared)
    except UserError as error:
        st.error(say(error.message), icon=":material/error:")
        return None, None
    facts = found.facts
    a, b, c = st.columns(3)
    a.metric(tr("compage.model.parameters"), f"{facts.parameters or 0:,}")
    b.metric(tr("compage.model.seconds"), f"{facts.training_seconds or 0:.1f} s")
    c.metric(tr("compage.model.size"), f"{(facts.size_bytes or 0) / 1024:.1f} KiB")
    rows = [(tr("compage.model.this_run", name=run.name), facts.value)] + [
        (tr(f"evaluation.baseline.{name}"), value) for name, value in facts.baselines.items()
    ]
    table = pd.DataFrame(
        {
            tr("compage.model.model"): [name for name, _ in rows],
            tr(f"evaluation.metric.{facts.metric}"): [
                None if v is None else round(v, 4) for _, v in rows
            ],
        }
    )
    st.markdown(f"**{tr('compage.model.performance')}**")
    st.dataframe(table, hide_index=True, width="stretch")
    sensitive = (evidence or {}).get("sensitive_column")
    st.markdown(f"**{tr('compage.model.fairness')}**")
    try:
        report, why = fairness_for(found, prepared, sensitive)
    except UserError as error:
        st.error(say(error.message), icon=":material/error:")
        return facts, None
    if report is None:
        st.info(say(why), icon=":material/info:")
        return facts, None
    _fairness(report)
    return facts, report


def _run_evidence(run_id: str, run, prepared):
    """Predictions and baselines cost seconds: kept per run for the session, not in the LRU."""
    kept = state.scratch_dict("_cp_run_evidence")
    importance = state.importance().get(run_id)
    if run_id not in kept or kept[run_id][0] is not prepared or kept[run_id][1] != importance:
        kept[run_id] = (prepared, importance, run_evidence(run, prepared, importance))
    return kept[run_id][2]


def _fairness(report) -> None:
    def number(value):
        return None if value is None else round(value, 3)

    table = pd.DataFrame(
        {
            tr("compage.group.group"): [g.group for g in report.groups],
            tr("compage.group.count"): [g.count for g in report.groups],
            tr("compage.fair.accuracy"): [number(g.accuracy) for g in report.groups],
            tr("compage.fair.selection"): [number(g.selection_rate) for g in report.groups],
            tr("compage.fair.tpr"): [number(g.tpr) for g in report.groups],
            tr("compage.fair.fpr"): [number(g.fpr) for g in report.groups],
        }
    )
    st.caption(
        tr(
            "compage.fair.positive",
            column=escape_md(report.sensitive),
            label=escape_md(report.positive_label),
        )
    )
    st.dataframe(table, hide_index=True, width="stretch")
    a, b, c = st.columns(3)
    dash = "—"
    dpd, dpr = report.demographic_parity_difference, report.demographic_parity_ratio
    eod = report.equalized_odds_difference
    a.metric(tr("compage.fair.dpd"), dash if dpd is None else f"{dpd:.3f}")
    b.metric(tr("compage.fair.dpr"), dash if dpr is None else f"{dpr:.3f}")
    c.metric(tr("compage.fair.eod"), dash if eod is None else f"{eod:.3f}")
    if report.four_fifths_ok is False:
        st.warning(tr("compage.fair.four_fifths"), icon=":material/warning:")
    for finding in report.findings:
        st.caption(say(finding))


# --- (d) the checklist ----------------------------------------------------------------------


def _progress(results) -> None:
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
            lambda j: everywhere if j is None else _jurisdiction_name(j),
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
    answers = _answers()
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
            _init(f"cp_ans_{item.id}", answers.answers.get(item.id, UNSET))
            _init(f"cp_note_{item.id}", answers.notes.get(item.id, ""))
            st.radio(
                tr("compage.item.answer"),
                answer_options,
                format_func=answer_label,
                horizontal=True,
                key=f"cp_ans_{item.id}",
                on_change=_on_answer,
                args=(item.id,),
            )
            st.text_area(
                tr("compage.item.note"),
                key=f"cp_note_{item.id}",
                height=68,
                on_change=_on_note,
                args=(item.id,),
            )


# --- (e) actions: encrypted export, access control, backup ----------------------------------


def actions_section(inputs, card: ModelCardText) -> None:
    """The four measures as things to do: encrypt, log in, back up (de-identify has its tab)."""
    st.subheader(tr("compage.encrypt.title"))
    st.caption(tr("compage.encrypt.intro"))
    runs = state.runs()
    available = tuple(e for e in EXPORTS if e != "bundle" or state.widget("cp_run"))
    what = st.selectbox(
        tr("compage.encrypt.what"),
        available,
        format_func=labeler(available, lambda e: tr(f"compage.encrypt.what_{e}")),
        key="cp_encrypt_what",
    )
    one, two = st.columns(2)
    passphrase = one.text_input(
        tr("compage.encrypt.passphrase"), type="password", key="cp_passphrase"
    )
    repeat = two.text_input(tr("compage.encrypt.repeat"), type="password", key="cp_passphrase2")
    if st.button(tr("compage.encrypt.button"), icon=":material/lock:", key="cp_encrypt"):
        if passphrase != repeat:
            st.error(tr("compage.encrypt.mismatch"), icon=":material/error:")
        else:
            try:
                name, data = _export_bytes(what, inputs, card, runs)
                blob = encrypt(data, passphrase)
            except UserError as error:
                st.error(say(error.message), icon=":material/error:")
            else:
                state.set_scratch("cp_encrypted", (name + FILE_SUFFIX, blob))
                state.set_scratch("cp_encrypted_export", True)
                record_event("export", {"what": what, "encrypted": True, "bytes": len(blob)})
                st.rerun()  # the checklist above now has its evidence
    encrypted = state.scratch("cp_encrypted")
    if encrypted is not None:
        st.download_button(
            tr("compage.encrypt.download", name=encrypted[0]),
            encrypted[1],
            file_name=encrypted[0],
            mime="application/octet-stream",
            icon=":material/download:",
            key="cp_encrypted_download",
        )
    with st.expander(tr("compage.decrypt.title"), icon=":material/lock_open:"):
        _decrypt_tool()

    st.subheader(tr("compage.access.title"))
    st.markdown(tr("compage.access.body"))

    st.subheader(tr("compage.backup.title"))
    st.caption(tr("compage.backup.intro"))
    st.download_button(
        tr("compage.backup.download"),
        _backup_json(card),
        file_name="modeldesk_backup.json",
        mime="application/json",
        icon=":material/download:",
        key="cp_backup_download",
        on_click=_on_backup_download,
    )
    st.file_uploader(
        tr("compage.backup.upload"),
        type=["json"],
        key="cp_backup_upload",
        on_change=_restore_backup,
    )
    error = state.scratch("cp_backup_error")
    if error is not None:
        st.error(say(error), icon=":material/error:")
        st.caption(tr("compage.backup.kept"))
    restored = state.scratch("cp_restored")
    if restored is not None:
        st.success(tr("compage.backup.restored", **restored), icon=":material/restore:")


def _export_bytes(what: str, inputs, card: ModelCardText, runs: dict) -> tuple[str, bytes]:
    if what.startswith("report_"):
        fmt = what.removeprefix("report_")
        return f"modeldesk_report.{REPORT_FILES[fmt][0]}", render_report(inputs, fmt, lang())
    if what == "backup":
        return "modeldesk_backup.json", _backup_json(card).encode("utf-8")
    return "bundle.zip", _bundle(runs)


def _bundle(runs: dict) -> bytes:
    from core.deploy.bundle import export_bundle_bytes
    from core.evaluate.metrics import run_metrics
    from core.train.runner import RunConfig

    run_id = state.widget("cp_run")
    run = runs.get(run_id)
    prepared = state.run_data(run_id)
    if run is None or prepared is None:
        raise UserError("compage.model.error.no_model")
    config = RunConfig(prepared.spec, run.model_spec, run.train_spec)
    metrics = run_metrics(prepared, run)
    dataset = state.dataset()
    return export_bundle_bytes(
        prepared, run, config, metrics, dataset_name=dataset.name if dataset else "", lang=lang()
    )


def _decrypt_tool() -> None:
    uploaded = st.file_uploader(tr("compage.decrypt.file"), key="cp_decrypt_file")
    passphrase = st.text_input(
        tr("compage.encrypt.passphrase"), type="password", key="cp_decrypt_pass"
    )
    if st.button(tr("compage.decrypt.button"), key="cp_decrypt", disabled=uploaded is None):
        try:
            plain = decrypt(uploaded.getvalue(), passphrase)
        except UserError as error:
            st.error(say(error.message), icon=":material/error:")
            return
        name = uploaded.name.removesuffix(FILE_SUFFIX) or "decrypted"
        st.download_button(
            tr("compage.decrypt.download", name=escape_md(name)),
            plain,
            file_name=name,
            icon=":material/download:",
            key="cp_decrypted_download",
        )


def _backup_json(card: ModelCardText) -> str:
    prepared = state.prepared()
    return session_backup(
        answers=_answers(),
        audit=audit_trail(),
        card=card,
        preprocess_json=None if prepared is None else prepared.spec.to_json(),
        runs=list(state.runs().values()),
        dataset=state.dataset(),
    )


def _on_backup_download() -> None:
    state.set_scratch("cp_backup_saved", True)
    record_event("export", {"what": "backup", "encrypted": False})


def _restore_backup() -> None:
    """Read the uploaded backup whole; replace answers and audit trail only if all of it is good."""
    uploaded = state.widget("cp_backup_upload")
    if uploaded is None:
        return
    state.set_scratch("cp_restored", None)
    try:
        backup = read_backup(uploaded.getvalue())
    except UserError as error:
        state.set_scratch("cp_backup_error", error.message)
        return
    state.set_scratch("cp_backup_error", None)
    state.set_checklist_answers(backup.answers)
    state.set_audit_trail(backup.audit)
    _set_answer_widgets(backup.answers)
    for name in CARD_FIELDS:
        state.set_widget(f"cp_card_{name}", getattr(backup.card, name))
    summary = backup.summary()
    state.set_scratch(
        "cp_restored",
        {
            "answers": summary["answers"],
            "notes": summary["notes"],
            "events": summary["audit_events"],
            "runs": summary["runs"],
            "created": escape_md(summary["created_at"]) or "—",
        },
    )
    record_event("note", {"restored_backup": summary})


# --- (f) audit trail ------------------------------------------------------------------------


def audit_section() -> None:
    """Every event of this session, and whether the hash chain still holds."""
    trail = audit_trail()
    verification = trail.verify()
    if verification.ok:
        st.success(say(verification.message), icon=":material/verified:")
    else:
        st.error(say(verification.message), icon=":material/error:")
    events = trail.events
    if not events:
        st.caption(tr("compliance.evidence.no_audit"))
        return
    table = pd.DataFrame(
        {
            tr("compage.audit.index"): [e.index for e in events],
            tr("compage.audit.time"): [e.time for e in events],
            tr("compage.audit.event"): [tr(f"audit.kind.{e.kind}") for e in events],
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


# --- (g) report -----------------------------------------------------------------------------


def _card_inputs() -> ModelCardText:
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
            render_report(inputs, fmt, lang()),
            file_name=f"modeldesk_report_{lang()}.{extension}",
            mime=mime,
            icon=":material/download:",
            key=f"cp_report_{fmt}",
            on_click=record_event,
            args=("export", {"what": "report", "format": fmt, "language": lang()}),
        )


run_app_first()
compliance_page()
