"""Train page: Search (hyperparameters, core.train.search) and the TabM model's controls.

The search runs in the background like a training job; the leaderboard redraws in a fragment
every second while it runs. A trial "used" from the leaderboard joins the run history with its
own data, so Evaluate, Deploy and Compliance treat it like any run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.export_safety import safe_csv
from core.i18n import UserError
from core.train.jobs import server_limiter
from core.train.models import DEFAULT_ENSEMBLE_SIZE, MAX_ENSEMBLE_SIZE
from core.train.runner import RunConfig, audit_details
from core.train.search import (
    MAX_TRIALS,
    PRUNERS,
    Search,
    SearchSettings,
    SearchSpace,
    best_so_far,
    default_space,
    importance_figure,
    leaderboard,
    max_slots,
    parallel_figure,
)
from ui import state
from ui.widgets import labeler, record_event, say, show_error, show_frame, tr
from ui.workshop import heartbeat, participant

LIVE_POLL_S = 1.0
SPACE_COLUMNS = ("name", "type", "low", "high", "log", "choices")


def tabm_controls(kind: str) -> tuple[int, bool]:
    """The TabM model's own controls (heads, adapters) and its explanation; defaults elsewhere."""
    if kind != "tabm":
        return DEFAULT_ENSEMBLE_SIZE, True
    size = st.slider(
        tr("tabular.field.ensemble_size"),
        1,
        MAX_ENSEMBLE_SIZE,
        value=DEFAULT_ENSEMBLE_SIZE,
        help=tr("tabular.field.ensemble_size_help"),
        key="train_ensemble_size",
    )
    adapters = st.checkbox(
        tr("tabular.field.adapters"),
        value=True,
        help=tr("tabular.field.adapters_help"),
        key="train_adapters",
    )
    with st.expander(tr("tabular.explain.title"), icon=":material/school:"):
        st.markdown(tr("tabular.explain.body"))
    return int(size), bool(adapters)


def search_section(prepared: Any, config: RunConfig) -> None:
    """Search: the editable space, the budget, Start/Stop, and the live leaderboard."""
    dataset = state.dataset()
    if dataset is None or prepared is None:
        return
    st.subheader(tr("search.ui.title"))
    st.caption(tr("search.ui.intro"))
    task, rows = prepared.spec.task, len(prepared.y_train)
    space = _space_editor(task, rows)
    trials_col, budget_col, epochs_col, pruner_col = st.columns(4)
    trials = trials_col.number_input(tr("search.ui.trials"), 1, MAX_TRIALS, 20, key="search_trials")
    budget = budget_col.number_input(
        tr("search.ui.budget"), 5, 3600, 60, step=5, key="search_budget"
    )
    epochs = epochs_col.number_input(tr("search.ui.epochs"), 1, 500, 60, key="search_epochs")
    pruner = pruner_col.selectbox(
        tr("search.ui.pruner"),
        PRUNERS,
        format_func=labeler(PRUNERS, lambda p: tr(f"search.pruner.{p}")),
        help=tr("search.ui.pruner_help"),
        key="search_pruner",
    )
    search: Search | None = state.scratch("search.current")
    busy = search is not None and not search.done
    start_col, stop_col = st.columns(2)
    if start_col.button(
        tr("search.ui.start"),
        type="primary",
        icon=":material/travel_explore:",
        disabled=busy or space is None,
        key="search_start",
    ):
        try:
            limiter = server_limiter()
            settings = SearchSettings(
                trials=int(trials),
                budget_seconds=float(budget),
                seed=config.train.seed,
                max_epochs=int(epochs),
                pruner=str(pruner),
                slots=max_slots(limiter),
            )
            assert space is not None
            search = Search(
                dataset.frame,
                config,
                space,
                settings,
                limiter=limiter,
                owner=participant(),
                prepared=prepared,
            ).start()
            state.set_scratch("search.current", search)
            state.set_scratch("search.redrawn", None)
            busy = True
        except UserError as error:
            show_error(error)
    if stop_col.button(
        tr("search.ui.stop"), icon=":material/stop:", disabled=not busy, key="search_stop"
    ):
        assert search is not None
        search.stop()
    if search is None:
        return
    every = None if search.done and state.scratch("search.redrawn") == id(search) else LIVE_POLL_S
    state.set_scratch("search.inline", True)
    try:
        st.fragment(_live, run_every=every)()
    finally:
        state.set_scratch("search.inline", False)
    if search.done:
        _figures(search)


def _space_editor(task: str, rows: int) -> SearchSpace | None:
    """The search space as an editable table (one row per hyperparameter; delete a row to fix
    it at the Train controls' value); None with the error shown when a row is invalid."""
    default = default_space(task, rows)
    frame = pd.DataFrame(
        [
            {
                "name": param.name,
                "type": param.type,
                "low": param.low,
                "high": param.high,
                "log": param.log,
                "choices": ", ".join(str(c) for c in param.choices),
            }
            for param in default.params
        ],
        columns=list(SPACE_COLUMNS),
    )
    with st.expander(tr("search.ui.space"), icon=":material/tune:"):
        st.caption(tr("search.ui.space_help"))
        edited = st.data_editor(
            frame,
            num_rows="dynamic",
            hide_index=True,
            key=f"search_space_{task}_{rows >= 2000}",
            column_config={
                "name": st.column_config.TextColumn(tr("search.col.name")),
                "type": st.column_config.SelectboxColumn(
                    tr("search.col.type"), options=["float", "int", "categorical"]
                ),
                "low": st.column_config.NumberColumn(tr("search.col.low"), format="%g"),
                "high": st.column_config.NumberColumn(tr("search.col.high"), format="%g"),
                "log": st.column_config.CheckboxColumn(tr("search.col.log")),
                "choices": st.column_config.TextColumn(tr("search.col.choices")),
            },
        )
    try:
        return SearchSpace.from_dict({"params": [_param(row) for row in _records(edited)]})
    except UserError as error:
        show_error(error)
        return None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [row for row in frame.to_dict("records") if str(row.get("name") or "").strip()]


def _param(row: dict[str, Any]) -> dict[str, Any]:
    """One edited row as Param data: numbers from the range, choices parsed from text."""
    kind = str(row.get("type") or "")
    data: dict[str, Any] = {"name": str(row["name"]).strip(), "type": kind}
    if kind == "categorical":
        data["choices"] = [_choice(text) for text in str(row.get("choices") or "").split(",")]
        return data
    for key in ("low", "high"):
        value = row.get(key)
        data[key] = None if value is None or pd.isna(value) else float(value)
    data["log"] = bool(row.get("log"))
    return data


def _choice(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)  # numbers as numbers
    except json.JSONDecodeError:
        return text


def _live() -> None:
    search: Search | None = state.scratch("search.current")
    if search is None:
        return
    heartbeat()
    search.heartbeat()
    snapshot = search.snapshot()
    finished = sum(t.state != "running" for t in snapshot.trials)
    st.progress(
        min(1.0, finished / max(snapshot.planned, 1)),
        text=tr(
            "search.ui.progress",
            status=tr(f"search.status.{snapshot.status}"),
            done=finished,
            planned=snapshot.planned,
            seconds=round(snapshot.elapsed),
            slots=search.slots,
        ),
    )
    if snapshot.message is not None:
        (st.error if snapshot.status == "failed" else st.info)(say(snapshot.message))
    board = leaderboard(snapshot.trials, search.space, snapshot.metric)
    shown = board.assign(state=[tr(f"search.state.{s}") for s in board["state"]])
    show_frame(shown, hide_index=True, width="stretch", key="search_board")
    times, values = best_so_far(snapshot.trials)
    if times:
        figure = go.Figure(go.Scatter(x=times, y=values, mode="lines+markers", line_shape="hv"))
        figure.update_layout(
            title=tr("search.ui.best_so_far"),
            xaxis_title=tr("search.ui.seconds"),
            yaxis_title=tr("search.ui.val_loss"),
            height=280,
            margin={"l": 40, "r": 10, "t": 40, "b": 40},
        )
        st.plotly_chart(figure, width="stretch", key="search_best_curve")
    st.download_button(
        tr("search.ui.download"),
        safe_csv(board),
        file_name="leaderboard.csv",
        mime="text/csv",
        icon=":material/download:",
        key="search_download",
    )
    _use_trial(search, snapshot)
    if snapshot.done and not state.scratch("search.inline"):
        # The search ended during a tick: one full run stops the polling and draws the figures.
        state.set_scratch("search.redrawn", id(search))
        st.rerun(scope="app")


def _use_trial(search: Search, snapshot: Any) -> None:
    kept = [t.number for t in snapshot.trials if t.kept_weights]
    if not kept:
        return
    ordered = sorted(kept, key=lambda n: (n != snapshot.best, n))
    pick_col, use_col = st.columns([3, 1])
    number = pick_col.selectbox(
        tr("search.ui.pick"),
        ordered,
        format_func=labeler(ordered, lambda n: tr("search.ui.trial_label", number=n)),
        key="search_pick",
    )
    if use_col.button(tr("search.ui.use"), icon=":material/done:", key="search_use"):
        try:
            run, prepared, config = search.trial_run(int(number))
        except UserError as error:
            show_error(error)
            return
        run = replace(run, name=tr("search.ui.run_name", number=number))
        state.add_run(run, prepared)
        record_event("train", audit_details(config))
        state.set_scratch("search.promoted", run.name)
        st.rerun(scope="app")
    promoted = state.scratch("search.promoted")
    if promoted:
        st.success(tr("search.ui.promoted", name=promoted), icon=":material/check_circle:")


def _figures(search: Search) -> None:
    """Optuna's importance and parallel-coordinates figures, once the search has ended."""
    cache = state.scratch_dict("search.figures")
    key = (id(search), len(search.snapshot().trials))
    if cache.get("key") != key:
        cache.clear()
        cache.update(
            key=key,
            importance=importance_figure(search.study),
            parallel=parallel_figure(search.study),
        )
    if cache["importance"] is None and cache["parallel"] is None:
        return
    with st.expander(tr("search.ui.figures"), expanded=True, icon=":material/insights:"):
        st.caption(tr("search.ui.figures_help"))
        if cache["importance"] is not None:
            st.plotly_chart(cache["importance"], width="stretch", key="search_importance")
        if cache["parallel"] is not None:
            st.plotly_chart(cache["parallel"], width="stretch", key="search_parallel")
