"""Compliance tab (b): de-identification of the current dataset, labelled honestly."""

from __future__ import annotations

import json

import streamlit as st

from core.compliance.anonymity import (
    DEFAULT_K,
    DeidentifySpec,
    deidentify,
    new_pseudonym_key,
)
from core.compliance.evidence import (
    ACTION_CHOICES,
    columns_to_review,
    deidentified_dataset,
    suggested_choice,
    to_action,
)
from core.compliance.privacy import scan_frame
from core.i18n import UserError
from ui import state
from ui.sections.compliance.data_evidence import TableFacts, needs_step
from ui.widgets import (
    PERSIST,
    escape_md,
    labeler,
    record_event,
    say,
    set_dataset,
    show_error,
    tr,
)


def deidentify_section(dataset, facts: TableFacts | None) -> None:
    """Per-column actions and small-group suppression; the result becomes the current dataset."""
    st.caption(tr("compage.deid.intro"))
    if dataset is None or facts is None:
        needs_step("data")
        _last_deidentification()
        return
    frame = dataset.frame
    scan = facts.scan
    prefix = f"cp_{dataset.sha256[:12]}"
    quasi = list(state.widget(f"{prefix}_quasi") or [])
    suggestions = facts.suggestions
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
        show_error(error)
        return False
    if result.frame.shape[1] == 0 or result.frame.shape[0] == 0:
        st.error(tr("compage.deid.empty"), icon=":material/error:")
        return False
    new = deidentified_dataset(dataset, result.frame, tr("compage.deid.suffix"))
    # The de-identified table's one scan and one profile: kept with it, so no tab makes them again.
    after = scan_frame(new.frame)
    set_dataset(new, profile_frame(new.frame), after)
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


def current_deidentification(dataset) -> dict | None:
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
