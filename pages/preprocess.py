"""Preprocess: target and task, a per-column plan with reasons, a leak-free split, a preview."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from core.data.profile import target_suggestion
from core.i18n import UserError
from core.prep.pipeline import Prepared, prepare
from core.prep.plan_table import apply_plan_table, plan_table
from core.prep.preprocessing import (
    ACTIONS,
    DATETIME_PARTS,
    ENCODINGS,
    IMPUTES,
    KINDS,
    SCALES,
    TASKS,
    PreprocessSpec,
    default_spec,
    detect_task,
    plan_warnings,
    preview,
    split_explanation,
    split_summary,
)
from core.train.runner import audit_details
from ui import state
from ui.widgets import (
    labeler,
    lang,
    page_link,
    record_event,
    run_app_first,
    say,
    session_cache,
    show_error,
    show_frame,
    tr,
)
from ui.workshop import setup_link_button

PREVIEW_ROWS = 5


def preprocess_page() -> None:
    """Target, task, plan, split, then the prepared splits and their preview."""
    st.title(tr("app.nav.preprocess"))
    st.caption(tr("preppage.intro"))
    dataset, profile = state.dataset(), state.profile()
    if dataset is None or profile is None:  # set together (state.set_dataset)
        st.warning(tr("app.planned.needs", step=tr("app.nav.data")))
        page_link("data", label=tr("app.nav.data"), icon=":material/arrow_back:")
        return
    frame = dataset.frame
    # Widget keys carry the dataset's hash: a new table starts from its own defaults.
    prefix = f"pp_{dataset.sha256[:12]}"
    _apply_uploaded_spec(prefix, frame)

    columns = [str(c) for c in frame.columns]
    guess = target_suggestion(profile)
    suggestion = dataset.target_suggestion or (guess.column if guess else None) or columns[-1]
    target = st.selectbox(
        tr("preppage.target"),
        columns,
        **_default(
            f"{prefix}_target",
            index=columns.index(suggestion) if suggestion in columns else len(columns) - 1,
        ),
        key=f"{prefix}_target",
    )
    if guess is not None and not dataset.target_suggestion and target == guess.column:
        st.caption(say(guess.reason))
    try:
        info = detect_task(frame[target])
    except UserError as error:
        show_error(error)
        return
    st.markdown(
        tr("preppage.detected", task=tr(f"preprocess.task.name.{info.task}"))
        + " "
        + say(info.reason)
    )
    task = st.selectbox(
        tr("preppage.task"),
        TASKS,
        **_default(f"{prefix}_task_{target}", index=TASKS.index(info.task)),
        format_func=labeler(TASKS, lambda name: tr(f"preprocess.task.name.{name}")),
        key=f"{prefix}_task_{target}",
    )
    try:
        base = session_cache(
            ("default_spec", dataset.sha256, target, task),
            lambda: default_spec(frame, target, task, profile),
        )
    except UserError as error:
        show_error(error)
        return
    loaded = state.widget(f"{prefix}_loaded")
    if loaded is not None and (loaded.target, loaded.task) == (target, task):
        base = loaded

    st.subheader(tr("preppage.plan"))
    st.caption(tr("preppage.plan_help"))
    version = state.widget(f"{prefix}_version", 0)
    edited = st.data_editor(
        plan_table(base, lang()),
        column_config=_plan_columns(),
        disabled=["column", "reason"],
        hide_index=True,
        key=f"{prefix}_plan_{target}_{task}_{version}",
    )
    try:
        spec = apply_plan_table(base, edited)
    except UserError as error:
        show_error(error)
        return
    kept = len(spec.kept)
    st.caption(tr("preppage.plan_summary", kept=kept, dropped=len(spec.columns) - kept))

    split_spec = _split_controls(prefix, spec, task)
    if split_spec is None:
        return
    spec = _group_control(prefix, frame, split_spec, version)
    warnings = session_cache(
        ("plan_warnings", dataset.sha256, spec.to_json()), lambda: plan_warnings(frame, spec)
    )
    for warning in warnings:
        st.warning(say(warning), icon=":material/warning:")

    download, upload = st.columns(2)
    download.download_button(
        tr("preppage.download_spec"),
        spec.to_json(),
        file_name="preprocess.json",
        mime="application/json",
        icon=":material/download:",
        key="pp_download",
    )
    upload.file_uploader(tr("preppage.upload_spec"), type=["json"], key=f"{prefix}_spec_upload")
    spec_error = state.widget(f"{prefix}_spec_error")
    if spec_error is not None:
        show_error(spec_error)
    setup_link_button(_link_config(spec), "preprocess")

    if st.button(
        tr("preppage.prepare"), type="primary", icon=":material/call_split:", key="pp_prepare"
    ):
        try:
            fresh = prepare(frame, spec)
        except UserError as error:
            show_error(error)
        else:
            state.set_prepared(fresh)
            record_event("preprocess", audit_details(spec))
    prepared = state.prepared()
    if prepared is None:
        st.info(tr("preppage.not_prepared"), icon=":material/info:")
        return
    if prepared.spec != spec:
        st.warning(tr("preppage.stale"), icon=":material/update:")
    _show_prepared(frame, prepared)


def _split_controls(prefix: str, spec: PreprocessSpec, task: str) -> PreprocessSpec | None:
    st.subheader(tr("preppage.split"))
    val_col, test_col, seed_col, strat_col = st.columns(4)
    val = val_col.slider(
        tr("preppage.val_share"),
        0.05,
        0.4,
        **_default(f"{prefix}_val", value=spec.val_share),
        step=0.05,
        key=f"{prefix}_val",
    )
    test = test_col.slider(
        tr("preppage.test_share"),
        0.05,
        0.4,
        **_default(f"{prefix}_test", value=spec.test_share),
        step=0.05,
        key=f"{prefix}_test",
    )
    seed = seed_col.number_input(
        tr("preppage.seed"),
        min_value=0,
        **_default(f"{prefix}_seed", value=spec.seed),
        step=1,
        key=f"{prefix}_seed",
    )
    stratify = strat_col.checkbox(
        tr("preppage.stratify"),
        **_default(f"{prefix}_stratify", value=spec.stratify),
        disabled=task == "regression",
        help=tr("preppage.stratify_help"),
        key=f"{prefix}_stratify",
    )
    try:
        spec = replace(spec, val_share=val, test_share=test, seed=int(seed), stratify=stratify)
    except UserError as error:
        show_error(error)
        return None
    st.caption(tr("preppage.train_share", share=1 - val - test))
    return spec


def _group_control(prefix: str, frame, spec: PreprocessSpec, version: int) -> PreprocessSpec:
    """Split by group: proposed when the profile found a grouping key; explained either way."""
    options = (None, *[str(c) for c in frame.columns if c != spec.target])
    none_label = tr("special.page.no_group")
    group = st.selectbox(
        tr("special.page.split_by_group"),
        options,
        index=options.index(spec.group) if spec.group in options else 0,
        format_func=labeler(options, lambda c: none_label if c is None else c),
        help=tr("special.page.split_by_group_help"),
        key=f"{prefix}_group_{spec.target}_{version}",
    )
    spec = replace(spec, group=group)
    st.caption(say(split_explanation(spec)))
    if group is not None and st.button(
        tr("special.lesson.compare"),
        help=tr("special.lesson.compare_help"),
        icon=":material/compare_arrows:",
        key="pp_compare_splits",
    ):
        from core.evaluate.group_split import compare_row_and_group_splits

        try:
            result = compare_row_and_group_splits(frame, spec)
        except UserError as error:
            show_error(error)
        else:
            st.info(say(result.message), icon=":material/school:")
    return spec


def _default(key: str, **default: Any) -> dict[str, Any]:
    """A widget's default, unless a preset (an uploaded plan, a setup link) already set its
    value: Streamlit ignores the default then and logs a warning for the pair. The widgets are
    identified by their key, so leaving the default out keeps their state."""
    return {} if state.widget(key) is not None else default


def _link_config(spec: PreprocessSpec):
    """This plan with the Train page's current controls (or the defaults) for a setup link."""
    from core.train.runner import RunConfig, default_model_spec, default_train_spec

    current = state.train_config()
    if current is not None:
        return RunConfig(spec, current.model, current.train)
    return RunConfig(spec, default_model_spec(), default_train_spec())


def _apply_uploaded_spec(prefix: str, frame) -> None:
    """A plan JSON uploaded on the last run sets the widgets before they are drawn."""
    uploaded = state.widget(f"{prefix}_spec_upload")
    if uploaded is None or state.widget(f"{prefix}_spec_seen") == uploaded.file_id:
        return
    state.set_widget(f"{prefix}_spec_seen", uploaded.file_id)
    state.set_widget(f"{prefix}_spec_error", None)
    try:
        spec = PreprocessSpec.from_json(uploaded.getvalue())
        if spec.target not in frame.columns:
            raise UserError("preppage.spec_target_missing", target=spec.target)
    except UserError as error:
        state.set_widget(f"{prefix}_spec_error", error.message)
        return
    state.set_widget(f"{prefix}_loaded", spec)
    state.set_widget(f"{prefix}_target", spec.target)
    state.set_widget(f"{prefix}_task_{spec.target}", spec.task)
    state.set_widget(f"{prefix}_val", spec.val_share)
    state.set_widget(f"{prefix}_test", spec.test_share)
    state.set_widget(f"{prefix}_seed", spec.seed)
    state.set_widget(f"{prefix}_stratify", spec.stratify)
    state.set_widget(f"{prefix}_version", state.widget(f"{prefix}_version", 0) + 1)


def _show_prepared(frame, prepared: Prepared) -> None:
    st.subheader(tr("preppage.result"))
    for notice in prepared.splits.notices:
        st.info(say(notice), icon=":material/info:")
    summary = split_summary(prepared.splits, prepared.preprocessor, lang())
    st.dataframe(summary, hide_index=True, width="stretch")
    shapes = {
        tr("preprocess.summary.train"): prepared.X_train.shape,
        tr("preprocess.summary.val"): prepared.X_val.shape,
        tr("preprocess.summary.test"): prepared.X_test.shape,
    }
    st.caption(" · ".join(f"{name}: {rows:,} × {cols}" for name, (rows, cols) in shapes.items()))
    names = prepared.feature_names
    with st.expander(tr("preppage.features", count=len(names)), icon=":material/list:"):
        show_frame({tr("preppage.feature"): names}, hide_index=True, width="stretch")
    before, after = preview(frame, prepared.spec, prepared.preprocessor, n=PREVIEW_ROWS)
    st.markdown(f"**{tr('preppage.before')}**")
    show_frame(before, width="stretch")
    st.markdown(f"**{tr('preppage.after')}**")
    show_frame(after, width="stretch")
    page_link("train", label=tr("preppage.next"), icon=":material/arrow_forward:")


def _plan_columns() -> dict:
    choices = {"action": ACTIONS, "kind": KINDS, "impute": IMPUTES, "scale": SCALES,
               "encoding": ENCODINGS, "part": DATETIME_PARTS}  # fmt: skip

    def options(prefix: str):
        return labeler(choices[prefix], lambda value: tr(f"preprocess.option.{prefix}.{value}"))

    column = st.column_config
    return {
        "column": column.TextColumn(tr("preppage.col.column"), pinned=True),
        "action": column.SelectboxColumn(
            tr("preppage.col.action"), options=ACTIONS, format_func=options("action"), required=True
        ),
        "kind": column.SelectboxColumn(
            tr("preppage.col.kind"), options=KINDS, format_func=options("kind"), required=True
        ),
        "impute": column.SelectboxColumn(
            tr("preppage.col.impute"), options=IMPUTES, format_func=options("impute"), required=True
        ),
        "add_indicator": column.CheckboxColumn(
            tr("preppage.col.indicator"), help=tr("preppage.col.indicator_help")
        ),
        "scale": column.SelectboxColumn(
            tr("preppage.col.scale"), options=SCALES, format_func=options("scale"), required=True
        ),
        "encoding": column.SelectboxColumn(
            tr("preppage.col.encoding"),
            options=ENCODINGS,
            format_func=options("encoding"),
            required=True,
        ),
        "clip_low": column.NumberColumn(
            tr("preppage.col.clip_low"),
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            format="%.2f",
            help=tr("preppage.col.clip_help"),
        ),
        "clip_high": column.NumberColumn(
            tr("preppage.col.clip_high"),
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            format="%.2f",
            help=tr("preppage.col.clip_help"),
        ),
        "datetime_parts": column.MultiselectColumn(
            tr("preppage.col.dates"), options=DATETIME_PARTS, format_func=options("part")
        ),
        "reason": column.TextColumn(tr("preppage.col.reason"), width="large"),
    }


run_app_first()
preprocess_page()
