"""Evaluate: metrics with intervals, charts, baselines, curves, comparison, explanations."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core.evaluate.figures as figures
from core.evaluate.diagnosis import diagnose, guessing_loss
from core.evaluate.membership import (
    DEFAULT_SHADOWS,
    lira_audit,
    membership_audit,
    privacy_lines,
)
from core.evaluate.metrics import (
    DEFAULT_RESAMPLES,
    IMPORTANCE_REPEATS,
    LOWER_IS_BETTER,
    THRESHOLD_METRICS,
    WORST_ROWS,
    at_threshold,
    baseline_verdict,
    cell_rows,
    confusion,
    evaluate_with_intervals,
    format_estimate,
    format_value,
    headline_metric,
    metric_names,
    permutation_importance,
    predict_scores,
    run_predictor,
    run_privacy,
    run_settings,
    test_metrics,
    trivial_baseline_verdict,
    worst_rows,
)
from core.i18n import UserError
from core.train.models import resolved_loss
from ui import state
from ui.run_labels import run_name
from ui.sections.explain import explain_section
from ui.widgets import (
    epsilon_text,
    escape_md,
    labeler,
    lang,
    page_link,
    run_app_first,
    say,
    session_cache,
    show_error,
    tr,
)

COMPARE_DEFAULT = 4  # runs pre-selected for comparison: the latest few
THRESHOLD_STEP = 0.01


def evaluate_page() -> None:
    """Pick a run, then its numbers, charts, curves, comparison and explanations in tabs."""
    st.title(tr("app.nav.evaluate"))
    st.caption(tr("evalpage.intro"))
    runs = usable_runs()
    if not runs:
        st.info(tr("evalpage.no_run"), icon=":material/info:")
        page_link("train", label=tr("app.nav.train"), icon=":material/arrow_back:")
        return
    ids = list(runs)
    run_id = st.selectbox(
        tr("evalpage.pick_run"),
        ids,
        index=len(ids) - 1,
        format_func=labeler(ids, lambda i: _run_label(runs[i])),
        key="ev_run",
    )
    try:
        show_run(runs, run_id)
    except UserError as error:
        show_error(error)


def usable_runs() -> dict:
    """The runs this page may show (core.train.runs' rule), by id."""
    return {run_id: found.run for run_id, found in state.usable_runs().items()}


def show_run(runs: dict, run_id: str) -> None:
    """Every view of one run, in tabs."""
    run = runs[run_id]
    prepared = state.run_data(run_id)
    assert prepared is not None, "usable_runs() only offers runs with their data"
    state.evaluated_runs().add(run_id)  # the workflow's step 4
    report = session_cache(("ev_report", run_id), lambda: evaluate_with_intervals(prepared, run))
    task = report.task
    classes = list(prepared.preprocessor.classes_)
    st.caption(
        tr(
            "evalpage.data_line",
            task=tr(f"preprocess.task.name.{task}"),
            test=len(prepared.y_test),
            val=len(prepared.y_val),
        )
    )
    metrics_tab, charts_tab, curves_tab, compare_tab, explain_tab, privacy_tab = st.tabs(
        [
            tr("evalpage.tab.metrics"),
            tr("evalpage.tab.charts"),
            tr("evalpage.tab.curves"),
            tr("evalpage.tab.compare"),
            tr("evalpage.tab.explain"),
            tr("dp.tab"),
        ]
    )
    with metrics_tab:
        _metrics(report, classes)
    with charts_tab:
        threshold = _charts(report, prepared, classes)
    with curves_tab:
        _curves(run, prepared)
    with compare_tab:
        _compare(runs, run_id)
    with explain_tab:
        explain_section(run, prepared)
        _explain(run, report, prepared, classes, threshold)
    with privacy_tab:
        _privacy(runs, run_id)


# --- privacy -------------------------------------------------------------------------------


def _privacy(runs: dict, run_id: str) -> None:
    """The membership-inference attack on the run, its ε, and a side-by-side of the runs."""
    run = runs[run_id]
    prepared = state.run_data(run_id)
    st.caption(tr("dp.page.intro"))
    try:
        audit = session_cache(("ev_membership", run_id), lambda: membership_audit(prepared, run))
    except ValueError:
        audit = None
    for line in privacy_lines(_privacy_block(run_id, run), lang()):
        st.markdown(f"- {line}")
    if audit is not None:
        auc_column, tpr_column = st.columns(2)
        auc_column.metric(
            tr("dp.page.auc"),
            f"{audit.auc:.3f} ± {audit.auc_se:.3f}",
            help=tr("dp.page.auc_help", members=audit.members, non_members=audit.non_members),
        )
        tpr_column.metric(tr("dp.page.tpr"), f"{audit.tpr_at_1pct_fpr:.3f}")
        st.plotly_chart(
            figures.membership_roc_figure(audit.fpr, audit.tpr, audit.auc, lang=lang()),
            width="stretch",
            key="ev_membership_roc",
        )
        _lira(run_id, run, prepared)
    st.subheader(tr("dp.page.compare"))
    st.caption(tr("dp.page.compare_help"))
    headline = headline_metric(run.task)
    rows = []
    for other_id, other in runs.items():
        if other.task != run.task:
            continue
        block = _privacy_block(other_id, other)
        attack = block.get("membership_inference") or {}
        rows.append(
            {
                tr("dp.column.run"): _run_label(other),
                tr("dp.column.dp"): tr("dp.yes") if block.get("dp") else tr("dp.no"),
                tr("dp.column.epsilon"): epsilon_text(block),
                _metric(headline): format_value(headline, (other.metrics or {}).get(headline)),
                tr("dp.column.auc"): "-" if not attack else f"{attack['auc']:.3f}",
                tr("dp.column.tpr"): "-" if not attack else f"{attack['tpr_at_1pct_fpr']:.3f}",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="ev_privacy_table")


def _lira(run_id: str, run, prepared) -> None:
    """The shadow-model (LiRA) attack, on request: it trains DEFAULT_SHADOWS models."""
    key = ("ev_lira", run_id)
    kept = state.scratch_dict("_ev_lira")
    if key not in kept:
        st.caption(tr("dp.page.lira_help", shadows=DEFAULT_SHADOWS))
        if not st.button(tr("dp.page.lira_run"), key="ev_lira", icon=":material/science:"):
            return
        with st.spinner(tr("dp.page.lira_running", shadows=DEFAULT_SHADOWS)):
            kept[key] = lira_audit(prepared, run, shadows=DEFAULT_SHADOWS)
    lira = kept[key]
    auc_column, tpr_column = st.columns(2)
    auc_column.metric(tr("dp.page.lira_auc"), f"{lira.auc:.3f} ± {lira.auc_se:.3f}")
    tpr_column.metric(tr("dp.page.lira_tpr"), f"{lira.tpr_at_1pct_fpr:.3f}")


def _privacy_block(run_id: str, run) -> dict:
    # metrics.json's privacy block (computed with the run's metrics when it was collected).
    block = (run.metrics or {}).get("privacy")
    if block is None:
        prepared = state.run_data(run_id)
        assert prepared is not None, "usable_runs() only offers runs with their data"
        block = session_cache(("ev_privacy", run_id), lambda: run_privacy(prepared, run))
    return block


# --- metrics -------------------------------------------------------------------------------


def _metrics(report, classes: list) -> None:
    task = report.task
    headline = headline_metric(task)
    test, validation = report.test[headline], report.validation[headline]
    columns = st.columns(3)
    columns[0].metric(
        tr("evalpage.headline_test", metric=_metric(headline)), _value(headline, test.value)
    )
    columns[0].caption(_interval_text(headline, test))
    columns[1].metric(
        tr("evalpage.headline_val", metric=_metric(headline)), _value(headline, validation.value)
    )
    columns[1].caption(_interval_text(headline, validation))
    best = report.baselines[list(report.baselines)[-1]].get(headline)
    columns[2].metric(
        tr(
            "evalpage.headline_baseline",
            baseline=tr(f"evaluation.baseline.{list(report.baselines)[-1]}"),
        ),
        _value(headline, best),
    )
    st.subheader(tr("evalpage.held_out"))
    table = pd.DataFrame(
        {
            tr("evalpage.col.metric"): [_metric(name) for name in metric_names(task)],
            tr("evalpage.col.test"): [
                format_estimate(n, report.test[n]) for n in metric_names(task)
            ],
            tr("evalpage.col.validation"): [
                format_estimate(n, report.validation[n]) for n in metric_names(task)
            ],
            tr("evalpage.col.direction"): [
                tr("evalpage.lower_better" if n in LOWER_IS_BETTER else "evalpage.higher_better")
                for n in metric_names(task)
            ],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key="ev_metrics_table")
    st.caption(tr("evalpage.interval_note", resamples=DEFAULT_RESAMPLES))
    st.subheader(tr("evalpage.vs_baselines"))
    point = {name: estimate.value for name, estimate in report.test.items()}
    rows = {tr("evalpage.network"): point} | {
        tr(f"evaluation.baseline.{name}"): values for name, values in report.baselines.items()
    }
    versus = pd.DataFrame(
        [
            {tr("evalpage.col.model"): label}
            | {_metric(name): format_value(name, values.get(name)) for name in metric_names(task)}
            for label, values in rows.items()
        ]
    )
    st.dataframe(versus, hide_index=True, width="stretch", key="ev_baselines_table")
    verdict = baseline_verdict(task, point, report.baselines)
    params = dict(verdict.params)
    if params:
        params["metric"] = _metric(params["metric"])
        params["baseline"] = tr(f"evaluation.baseline.{params['baseline']}")
    st.markdown(tr(verdict.key, **params))
    trivial = trivial_baseline_verdict(task, report.test[headline_metric(task)], report.baselines)
    if trivial is not None:
        st.warning(say(trivial), icon=":material/equal:")
    if report.per_class:
        st.subheader(tr("evalpage.per_class"))
        per_class = pd.DataFrame(
            [
                {
                    tr("evalpage.col.class"): str(classes[item.code]),
                    tr("evalpage.col.support"): item.support,
                    _metric_label("precision"): format_estimate("precision", item.precision),
                    _metric_label("recall"): format_estimate("recall", item.recall),
                    _metric_label("f1"): format_estimate("f1", item.f1),
                }
                for item in report.per_class
            ]
        )
        st.dataframe(per_class, hide_index=True, width="stretch", key="ev_per_class")


# --- charts --------------------------------------------------------------------------------


def _charts(report, prepared, classes: list) -> float:
    """The task's charts; returns the binary threshold in use (0.5 otherwise)."""
    task, y_test, scores = report.task, prepared.y_test, report.test_scores
    current = lang()
    if task == "regression":
        left, right = st.columns(2)
        left.plotly_chart(
            figures.predicted_vs_actual_figure(y_test, scores, lang=current),
            width="stretch",
            key="ev_pred_actual",
        )
        right.plotly_chart(
            figures.residuals_figure(y_test, scores, lang=current),
            width="stretch",
            key="ev_residuals",
        )
        st.plotly_chart(
            figures.residual_histogram_figure(y_test, scores, lang=current),
            width="stretch",
            key="ev_residual_hist",
        )
        return 0.5
    threshold = 0.5
    if task == "binary":
        threshold = st.slider(
            tr("evalpage.threshold", positive=escape_md(classes[1])),
            0.0,
            1.0,
            value=0.5,
            step=THRESHOLD_STEP,
            help=tr("evalpage.threshold_help"),
            key="ev_threshold",
        )
    normalized = st.toggle(tr("evalpage.normalize"), key="ev_cm_norm")
    matrix = confusion(
        task, y_test, scores, len(classes), threshold=threshold, normalize=normalized
    )
    left, right = st.columns(2)
    left.plotly_chart(
        figures.confusion_figure(matrix, classes, normalized=normalized, lang=current),
        width="stretch",
        key="ev_confusion",
    )
    if task == "binary":
        result = at_threshold(y_test, scores, threshold)
        right.markdown(f"**{tr('evalpage.at_threshold', threshold=threshold)}**")
        right.dataframe(
            pd.DataFrame(
                {
                    tr("evalpage.col.metric"): [
                        tr(f"evaluation.threshold.{name}") for name in THRESHOLD_METRICS
                    ],
                    tr("evalpage.col.value"): [
                        format_value(name, result.metrics[name]) for name in THRESHOLD_METRICS
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
            key="ev_threshold_table",
        )
        left, right = st.columns(2)
        left.plotly_chart(
            figures.roc_figure(y_test, scores, threshold=threshold, lang=current),
            width="stretch",
            key="ev_roc",
        )
        right.plotly_chart(
            figures.pr_figure(y_test, scores, threshold=threshold, lang=current),
            width="stretch",
            key="ev_pr",
        )
    left, right = st.columns(2)
    left.plotly_chart(
        figures.calibration_figure(task, y_test, scores, classes, lang=current),
        width="stretch",
        key="ev_calibration",
    )
    right.plotly_chart(
        figures.probability_histogram_figure(
            task, y_test, scores, classes, threshold=threshold, lang=current
        ),
        width="stretch",
        key="ev_probabilities",
    )
    return threshold


# --- learning curves -----------------------------------------------------------------------


def _curves(run, prepared) -> None:
    if not run.history.get("loss"):
        st.info(tr("evalpage.no_history"))
        return
    st.plotly_chart(
        figures.learning_curves_figure(
            run.history,
            run.task,
            best_epoch=run.best_epoch,
            lang=lang(),
            loss=resolved_loss(run.model_spec, run.task),
        ),
        width="stretch",
        key="ev_learning",
    )
    guess = guessing_loss(
        resolved_loss(run.model_spec, run.task), run.task, prepared.y_train, run.n_classes
    )
    st.subheader(tr("evalpage.diagnosis"))
    for finding in diagnose(run.history, guessing_loss=guess, best_epoch=run.best_epoch):
        show = st.success if finding.good else st.warning
        show(
            f"**{tr(f'evaluation.diagnosis.title.{finding.kind}')}** — {say(finding.message)}",
            icon=":material/check_circle:" if finding.good else ":material/lightbulb:",
        )
        st.markdown(
            f"{tr('evalpage.try_next')}\n"
            + "\n".join(f"- {say(advice)}" for advice in finding.advice)
        )


# --- comparison ----------------------------------------------------------------------------


def _compare(runs: dict, run_id: str) -> None:
    task = runs[run_id].task
    candidates = [i for i, run in runs.items() if run.task == task]
    if len(candidates) < 2:
        st.info(tr("evalpage.compare_needs_two"))
        return
    chosen = st.multiselect(
        tr("evalpage.compare_pick"),
        candidates,
        default=candidates[-COMPARE_DEFAULT:],
        format_func=labeler(candidates, lambda i: _run_label(runs[i])),
        key="ev_compare",
    )
    if len(chosen) < 2:
        st.info(tr("evalpage.compare_needs_two"))
        return
    data = {i: found.prepared for i, found in state.usable_runs().items() if i in chosen}
    metrics = session_cache(
        ("ev_compare", tuple(chosen)),
        lambda: {i: test_metrics(task, data[i].y_test, _scores(runs[i], data[i])) for i in chosen},
    )
    names = _unique_run_names(runs, chosen)
    current = lang()
    st.plotly_chart(
        figures.compare_runs_figure(
            {names[i]: runs[i].history for i in chosen}, task, lang=current
        ),
        width="stretch",
        key="ev_compare_curves",
    )
    if len({id(data[i]) for i in chosen}) > 1:
        st.caption(tr("evalpage.different_data"))
    table = pd.DataFrame(
        [
            {
                tr("evalpage.col.run"): names[i],
                tr("evalpage.col.epochs"): runs[i].epochs_trained,
                tr("evalpage.col.seconds"): f"{runs[i].duration_s:.1f}",
            }
            | {_metric(name): format_value(name, metrics[i][name]) for name in metric_names(task)}
            for i in chosen
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch", key="ev_compare_table")
    headline = headline_metric(task)
    rows = [run_settings(runs[i]) | {headline: metrics[i][headline]} for i in chosen]
    st.plotly_chart(
        figures.parallel_coordinates_figure(rows, headline, lang=current),
        width="stretch",
        key="ev_parallel",
    )


# --- explanations --------------------------------------------------------------------------


def _explain(run, report, prepared, classes: list, threshold: float) -> None:
    task, splits = report.task, prepared.splits
    headline = headline_metric(task)
    st.subheader(tr("evalpage.importance"))
    st.caption(tr("evalpage.importance_note", metric=_metric(headline), repeats=IMPORTANCE_REPEATS))
    shown = state.scratch_dict("ev_importance_runs")
    if st.button(tr("evalpage.importance_go"), icon=":material/shuffle:", key="ev_importance"):
        shown[run.run_id] = True
    if run.run_id in shown:
        importances = session_cache(
            ("ev_importance", run.run_id),
            lambda: permutation_importance(
                run_predictor(run, prepared.preprocessor), splits.X_test, prepared.y_test, task
            ),
        )
        # The Compliance page's explainability item uses these as its evidence.
        state.importance()[run.run_id] = {item.column: item.mean for item in importances}
        st.plotly_chart(
            figures.importance_figure(importances, headline, lang=lang()),
            width="stretch",
            key="ev_importance_chart",
        )
        st.dataframe(
            pd.DataFrame(
                {
                    tr("evalpage.col.column"): [item.column for item in importances],
                    tr("evalpage.col.importance"): [item.mean for item in importances],
                    tr("evalpage.col.spread"): [item.std for item in importances],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                tr("evalpage.col.importance"): st.column_config.NumberColumn(format="%.4f"),
                tr("evalpage.col.spread"): st.column_config.NumberColumn(format="%.4f"),
            },
            key="ev_importance_table",
        )
    st.subheader(tr("evalpage.worst", count=WORST_ROWS))
    worst = worst_rows(
        splits.X_test, prepared.y_test, report.test_scores, task, classes,
        threshold=threshold, lang=lang(),
    )  # fmt: skip
    _rows_table(worst, "ev_worst")
    if task == "regression":
        return
    st.subheader(tr("evalpage.cell"))
    codes = list(range(len(classes)))
    names = labeler(codes, lambda c: str(classes[c]))
    left, right = st.columns(2)
    true_code = left.selectbox(
        tr("evalpage.cell_true"), codes, format_func=names, key="ev_cell_true"
    )
    predicted_code = right.selectbox(
        tr("evalpage.cell_predicted"), codes, index=min(1, len(codes) - 1), format_func=names,
        key="ev_cell_predicted",
    )  # fmt: skip
    rows = cell_rows(
        splits.X_test, prepared.y_test, report.test_scores, task, classes, true_code,
        predicted_code, threshold=threshold, lang=lang(),
    )  # fmt: skip
    st.caption(
        tr(
            "evalpage.cell_count",
            count=len(rows),
            true=escape_md(classes[true_code]),
            predicted=escape_md(classes[predicted_code]),
        )
    )
    if len(rows):
        _rows_table(rows, "ev_cell_rows")


def _rows_table(frame: pd.DataFrame, key: str) -> None:
    numbers = {
        column: st.column_config.NumberColumn(format="%.3f")
        for column in frame.columns[:3]
        if pd.api.types.is_float_dtype(frame[column])
    }
    st.dataframe(frame, width="stretch", column_config=numbers, key=key)


# --- helpers -------------------------------------------------------------------------------


def _scores(run, prepared):
    return predict_scores(run, prepared.X_test)


def _run_label(run) -> str:
    return tr(
        "evalpage.run_label",
        name=run_name(run),
        status=tr(f"train.status.{run.status}"),
        epochs=run.epochs_trained,
    )


def _unique_run_names(runs: dict, chosen: list) -> dict:
    names, seen = {}, set()
    for i in chosen:
        name, number = runs[i].name, 2
        while name in seen:
            name, number = f"{runs[i].name} ({number})", number + 1
        seen.add(name)
        names[i] = name
    return names


def _metric(name: str) -> str:
    return tr(f"evaluation.metric.{name}")


def _metric_label(name: str) -> str:
    return tr(f"evalpage.class_metric.{name}")


def _value(metric: str, value: float | None) -> str:
    return format_value(metric, value)


def _interval_text(metric: str, estimate) -> str:
    if estimate.low is None or estimate.high is None:
        return tr("evalpage.no_interval")
    return tr(
        "evalpage.interval",
        low=format_value(metric, estimate.low),
        high=format_value(metric, estimate.high),
    )


run_app_first()
evaluate_page()
