"""Room: post runs to the room board (only on the participant's click); the facilitator's view
(everyone's curves overlaid, a leaderboard per challenge, reveal to the room) behind a password."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from core.i18n import Message
from core.workshop.board import BoardEntry
from ui import state
from ui.widgets import labeler, run_app_first, show_error, tr
from ui.workshop import (
    attempt_keys,
    attempt_limiter,
    challenges_done,
    current_lesson,
    facilitator_password,
    participant,
    room_board,
    room_code,
)


def room_page() -> None:
    st.title(tr("app.nav.room"))
    st.caption(tr("workshop.board.intro"))
    code = room_code()
    if code is None:
        st.info(tr("workshop.board.no_room"))
        return
    board = room_board()
    me = participant()
    _post_section(board, me, code)
    if board.revealed:
        st.subheader(tr("workshop.board.title"))
        _show_board(board)
    _facilitator_section(board)


def _post_section(board, me: str, code: str) -> None:
    st.subheader(tr("workshop.board.post_title"))
    runs = state.runs()
    entered = st.text_input(tr("workshop.board.room_code"), key="rb_code")
    nickname = st.text_input(tr("workshop.board.nickname"), key="rb_nick", max_chars=40)
    ids = list(runs)
    chosen = None
    if ids:
        chosen = st.selectbox(
            tr("workshop.board.run"),
            ids,
            index=len(ids) - 1,
            format_func=labeler(ids, lambda i: runs[i].name),
            key="rb_run",
        )
    else:
        st.caption(tr("workshop.board.no_runs"))
    if (
        st.button(
            tr("workshop.board.post"),
            icon=":material/publish:",
            key="rb_post",
            disabled=chosen is None or not nickname.strip(),
        )
        and chosen is not None
    ):
        matched, wait = attempt_limiter().check(entered.strip(), code, attempt_keys("code"))
        if wait:
            show_error(Message("hostile.room.wait", {"seconds": f"{wait:.0f}"}))
        elif not matched:
            show_error(Message("workshop.board.wrong_code"))
        elif board.post(_entry(me, nickname, runs[chosen])):
            st.success(tr("workshop.board.posted_now"))
        else:
            show_error(Message("workshop.board.full"))
    mine = board.posted_by(me)
    if mine:
        st.caption(tr("workshop.board.posted", count=len(mine)))
        if st.button(tr("workshop.board.leave"), icon=":material/logout:", key="rb_leave"):
            board.leave(me)
            st.rerun()


def _facilitator_section(board) -> None:
    with st.expander(tr("workshop.board.facilitator"), icon=":material/lock:"):
        if not state.facilitator():
            given = st.text_input(tr("workshop.board.password"), type="password", key="rb_pw")
            if st.button(tr("workshop.board.sign_in"), key="rb_sign_in"):
                limiter, keys = attempt_limiter(), attempt_keys("facilitator")
                matched, wait = limiter.check(given, facilitator_password(), keys)
                if matched:
                    state.set_facilitator(True)
                    st.rerun()
                elif wait:
                    show_error(Message("hostile.room.wait", {"seconds": f"{wait:.0f}"}))
                else:
                    show_error(Message("workshop.board.wrong_password"))
            return
        st.caption(tr("workshop.board.entries", count=len(board.entries())))
        shown = board.revealed
        label = "workshop.board.hide" if shown else "workshop.board.reveal"
        if st.button(tr(label), icon=":material/visibility:", key="rb_reveal"):
            board.reveal(not shown)
            st.rerun()
        _show_board(board, key="fac")


def _show_board(board, key: str = "room") -> None:
    import plotly.graph_objects as go

    entries = board.entries()
    if not entries:
        st.caption(tr("workshop.board.empty"))
        return
    figure = go.Figure()
    for entry in entries:
        curve = entry.curves.get("val_loss") or entry.curves.get("loss") or []
        figure.add_trace(
            go.Scatter(
                y=curve,
                mode="lines",
                name=html.escape(f"{entry.nickname} · {entry.run_id[:6]}"),
            )
        )
    figure.update_layout(
        xaxis_title=tr("workshop.board.epoch"),
        yaxis_title=tr("workshop.board.loss"),
        height=360,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    st.plotly_chart(figure, width="stretch", key=f"rb_curves_{key}")
    lesson = current_lesson()
    if lesson is not None:
        for challenge in lesson.challenges:
            names = sorted({e.nickname for e in entries if challenge.id in e.challenges_done})
            title = challenge.title.get(state.language() or "en") or challenge.title["en"]
            st.markdown(f"**{html.escape(title)}**")
            st.dataframe(
                pd.DataFrame({tr("workshop.board.nickname"): names}),
                hide_index=True,
                key=f"rb_lb_{key}_{challenge.id}",
            )
    table = pd.DataFrame(
        [
            {
                tr("workshop.board.nickname"): e.nickname,
                tr("workshop.board.lesson"): e.lesson,
                tr("workshop.board.optimizer"): e.config.get("train", {}).get("optimizer"),
                tr("workshop.board.learning_rate"): e.config.get("train", {}).get("learning_rate"),
                tr("workshop.board.val_loss"): e.metrics.get("val_loss"),
                tr("workshop.board.challenges_done"): len(e.challenges_done),
            }
            for e in entries
        ]
    ).sort_values(tr("workshop.board.val_loss"))
    st.dataframe(table, hide_index=True, width="stretch", key=f"rb_table_{key}")


def _entry(me: str, nickname: str, run) -> BoardEntry:
    losses = run.history.get("val_loss") or run.history.get("loss") or []
    metrics = {k: float(v) for k, v in run.metrics.items() if isinstance(v, int | float)}
    if losses:
        metrics["val_loss"] = float(losses[-1])
    return BoardEntry(
        session=me,
        nickname=nickname,
        lesson=state.lesson_id() or "",
        run_id=run.run_id,
        config={"model": run.model_spec.to_dict(), "train": run.train_spec.to_dict()},
        metrics=metrics,
        curves={k: list(run.history.get(k, [])) for k in ("loss", "val_loss")},
        challenges_done=challenges_done(),
    )


run_app_first()
room_page()
