"""Compliance tab (c): facts and fairness of one usable run, on its own test rows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.compliance.evidence import (
    fairness_for,
    run_evidence,
)
from core.evaluate.membership import privacy_lines
from core.i18n import UserError
from ui import state
from ui.run_labels import run_name
from ui.widgets import (
    escape_md,
    labeler,
    lang,
    page_link,
    say,
    show_error,
    tr,
)


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
        format_func=labeler(ids, lambda i: run_name(usable[i].run)),
        key="cp_run",
    )
    run, prepared = usable[chosen].run, usable[chosen].prepared
    try:
        found = _run_evidence(chosen, run, prepared)
    except UserError as error:
        show_error(error)
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
    if facts.privacy:
        # DP-SGD's ε and δ, and the membership-inference attack: the evidence of the checklist's
        # "privacy of the model" item (core.evaluate.membership).
        st.markdown(f"**{tr('dp.card.section')}**")
        for line in privacy_lines(facts.privacy, lang()):
            st.markdown(f"- {line}")
    sensitive = (evidence or {}).get("sensitive_column")
    st.markdown(f"**{tr('compage.model.fairness')}**")
    favourable = _favourable(chosen, prepared)
    try:
        report, why = fairness_for(found, prepared, sensitive, favourable)
    except UserError as error:
        show_error(error)
        return facts, None
    if report is None:
        if why is not None:  # fairness_for gives a reason whenever it gives no report
            st.info(say(why), icon=":material/info:")
        return facts, None
    _fairness(report)
    return facts, report


def _favourable(run_id: str, prepared) -> str | None:
    """The outcome a person wants: guessed from the class names, editable."""
    from core.compliance.fairness import guess_favourable

    classes = [str(label) for label in prepared.preprocessor.classes_]
    if prepared.spec.task == "regression" or len(classes) < 2:
        return None
    guess, guessed = guess_favourable(prepared.spec.target, classes)
    default = guess if guess is not None else classes[-1]
    chosen = st.selectbox(
        tr("special.fairness.favourable"),
        classes,
        index=classes.index(default),
        help=tr("special.fairness.favourable_help"),
        key=f"cp_favourable_{run_id}",
    )
    if guessed and chosen == guess:
        st.caption(tr("special.fairness.favourable_guessed", label=escape_md(guess)))
    return chosen


def _run_evidence(run_id: str, run, prepared):
    """Predictions and baselines cost seconds: kept per run for the session, not in the LRU."""
    kept = state.scratch_dict("_cp_run_evidence")
    importance = state.importance().get(run_id)
    # The run's Shapley attributions from Evaluate's Explain tab, as the explainability evidence.
    found = state.explanations().get(run_id)
    explanation = None if found is None else found.summary(run.name, prepared.spec.target)
    facts = (importance, explanation)
    if run_id not in kept or kept[run_id][0] is not prepared or kept[run_id][1] != facts:
        kept[run_id] = (prepared, facts, run_evidence(run, prepared, importance, explanation))
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
