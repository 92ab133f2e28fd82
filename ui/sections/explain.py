"""Shapley attributions in the app: Evaluate's global views, Deploy's waterfall and reasons.

The explainer's background sample is drawn from the run's own training rows, which live in this
session only; it is kept in the session's LRU (`session_cache`), never in a server-wide cache.
What Evaluate computes is kept per run (`state.explanations()`): Compliance reads it as the
evidence of the checklist's explainability item and the report's model card.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.evaluate.explain import (
    TOP_REASONS,
    Explainer,
    Explanation,
    method_text,
    partial_dependence,
    reason_columns,
)
from core.evaluate.explain_figures import (
    beeswarm_figure,
    dependence_figure,
    importance_figure,
    waterfall_figure,
)
from ui import state
from ui.widgets import escape_md, labeler, lang, session_cache, show_frame, tr

DEFAULT_ROWS = 200  # test rows explained by default: about 10 s for 30 columns on 2 cores
MAX_ROWS = 1000
DEPENDENCE_COLUMNS = 5  # columns offered for partial dependence: the largest attributions
BATCH_REASON_ROWS = 500  # rows of a batch file that get reasons


def explainer_for(run_id: str, run: Any, prepared: Any) -> Explainer:
    """The run's explainer: its preprocessing and model, background from its training rows."""
    return session_cache(
        ("explainer", run_id, id(prepared)),
        lambda: Explainer(
            prepared.preprocessor,
            run.build_model(),
            prepared.splits.X_train,
            seed=prepared.spec.seed,
        ),
    )


def explain_section(run: Any, prepared: Any) -> None:
    """Evaluate's Shapley views of one run: importance, beeswarm, dependence, one row."""
    st.subheader(tr("explain.section.title"))
    st.caption(tr("explain.section.intro"))
    test_rows = prepared.splits.X_test
    if len(test_rows) == 0:
        st.info(tr("explain.no_rows"), icon=":material/info:")
        return
    top = min(len(test_rows), MAX_ROWS)
    count = int(
        st.number_input(
            tr("explain.rows"),
            min_value=1,
            max_value=top,
            value=min(top, DEFAULT_ROWS),
            step=10,
            key="ev_explain_rows",
        )
    )
    kept = state.explanations()
    if st.button(tr("explain.compute"), icon=":material/psychology:", key="ev_explain_go"):
        with st.spinner(tr("explain.computing")):
            explainer = explainer_for(run.run_id, run, prepared)
            kept[run.run_id] = explainer.explain(test_rows.iloc[:count])
    explanation: Explanation | None = kept.get(run.run_id)
    if explanation is None:
        return
    st.markdown(escape_md(explanation.output_text(lang(), target=prepared.spec.target)))
    st.caption(method_text(explanation.summary(), lang()))
    st.caption(tr("explain.additivity", error=f"{explanation.additivity_error():.1e}"))
    st.plotly_chart(
        importance_figure(explanation, lang=lang()), width="stretch", key="ev_explain_importance"
    )
    st.caption(tr("explain.importance.caption"))
    table = explanation.importance()
    show_frame(
        pd.DataFrame(
            {
                tr("explain.col.column"): table["column"],
                tr("explain.col.mean_abs"): table["mean_abs"],
                tr("explain.col.spread"): table["std_abs"],
            }
        ),
        hide_index=True,
        column_config={
            tr("explain.col.mean_abs"): st.column_config.NumberColumn(format="%.4g"),
            tr("explain.col.spread"): st.column_config.NumberColumn(format="%.4g"),
        },
    )
    st.plotly_chart(
        beeswarm_figure(explanation, lang=lang()), width="stretch", key="ev_explain_beeswarm"
    )
    st.caption(tr("explain.beeswarm.caption"))
    _dependence(run, prepared, explanation)
    _one_row(explanation)


def _dependence(run: Any, prepared: Any, explanation: Explanation) -> None:
    st.markdown(f"**{tr('explain.pd.title')}**")
    columns = explanation.importance()["column"].tolist()[:DEPENDENCE_COLUMNS]
    column = st.selectbox(
        tr("explain.pd.pick"),
        columns,
        format_func=labeler(columns, str),
        key="ev_explain_pd_column",
    )
    if column is None:
        return
    explainer = explainer_for(run.run_id, run, prepared)
    # A classifier's curve follows one class: the positive one, or the class predicted most.
    labels = pd.Series(explanation.explained_class, dtype=object)
    label = str(labels.mode().iloc[0]) if len(labels) else None
    dependence = session_cache(
        ("ev_explain_pd", run.run_id, column, explanation.rows),
        lambda: partial_dependence(explainer, explanation.data, column, class_label=label),
    )
    if dependence is None:
        st.info(tr("explain.pd.none"), icon=":material/info:")
        return
    output = escape_md(explanation.output_text(lang(), target=prepared.spec.target))
    st.plotly_chart(
        dependence_figure(dependence, _axis_label(explanation, prepared, label), lang=lang()),
        width="stretch",
        key="ev_explain_pd",
    )
    st.caption(f"{tr('explain.pd.caption')} {output}")


def _one_row(explanation: Explanation) -> None:
    st.markdown(f"**{tr('explain.waterfall.title')}**")
    positions = list(range(explanation.rows))
    position = st.selectbox(
        tr("explain.row.pick"),
        positions,
        format_func=labeler(positions, lambda p: tr("explain.figure.row", number=p + 1)),
        key="ev_explain_row",
    )
    if position is None:
        return
    st.plotly_chart(
        waterfall_figure(explanation, int(position), lang=lang()),
        width="stretch",
        key="ev_explain_waterfall",
    )
    st.caption(tr("explain.waterfall.caption"))


def row_waterfall(run_id: str, result: dict) -> None:
    """Deploy's one-row answer: the row's attributions as a waterfall, with what they explain.
    `result` is the page's kept answer ({"row": the one-row frame, ...}); the explanation is
    kept in it, so a rerun does not recompute."""
    found = state.usable_runs().get(run_id)
    if found is None:
        return
    if "explanation" not in result:
        explainer = explainer_for(run_id, found.run, found.prepared)
        result["explanation"] = explainer.explain(result["row"])
    explanation = result["explanation"]
    st.plotly_chart(
        waterfall_figure(explanation, 0, lang=lang()),
        width="stretch",
        key="deploy_waterfall",
    )
    output = escape_md(explanation.output_text(lang(), target=found.prepared.spec.target))
    st.caption(f"{output} {tr('explain.waterfall.caption')}")


def batch_reasons(run_id: str, frame: pd.DataFrame, good: np.ndarray) -> pd.DataFrame:
    """TOP_REASONS text columns per row of `frame` (the first BATCH_REASON_ROWS readable rows;
    empty for the others)."""
    found = state.usable_runs()[run_id]
    explainer = explainer_for(run_id, found.run, found.prepared)
    positions = np.flatnonzero(good)[:BATCH_REASON_ROWS]
    names = [tr("explain.reason_column", number=n) for n in range(1, TOP_REASONS + 1)]
    reasons = pd.DataFrame("", index=frame.index, columns=names, dtype=object)
    if len(positions):
        explanation = explainer.explain(frame.iloc[positions])
        found_reasons = reason_columns(explanation, TOP_REASONS, lang())
        reasons.iloc[positions, :] = found_reasons.to_numpy()
    return reasons


def _axis_label(explanation: Explanation, prepared: Any, label: str | None) -> str:
    if explanation.task == "regression" or label is None:
        return str(prepared.spec.target)
    return tr("explain.figure.probability", label=label)
