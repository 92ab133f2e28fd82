"""Streamlit glue for a workshop room: lesson links, setup links, resume tokens, heartbeats and
the room board (core.workshop holds the logic; core.train.jobs the server's queue).

Kept out of `core` on purpose: core never imports streamlit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import streamlit as st

from core.i18n import UserError
from core.train.jobs import server_limiter
from core.workshop.board import AttemptLimiter, RoomBoard
from core.workshop.resume import ResumeStore, browser_binding, new_token
from ui import state
from ui.widgets import lang, server_setting, show_error, tr, trace

XSRF_COOKIE = "_streamlit_xsrf"
_MISSING = object()
HEARTBEAT_S = 10.0


@st.cache_resource
def resume_store() -> ResumeStore:
    """The server's resume tokens (memory only; MODELDESK_RESUME_MINUTES, default 120)."""
    minutes = _env_float("MODELDESK_RESUME_MINUTES", 120.0)
    return ResumeStore(ttl_s=minutes * 60)


@st.cache_resource
def room_board() -> RoomBoard:
    """The server's room board (memory only)."""
    return RoomBoard()


@st.cache_resource
def attempt_limiter() -> AttemptLimiter:
    """The server's limiter of wrong room codes and facilitator passwords (memory only)."""
    return AttemptLimiter()


def attempt_keys(secret: str) -> tuple[str, ...]:
    """Who is trying `secret`: this session and, when Streamlit knows it, the client's address."""
    address = st.context.ip_address
    keys = (f"{secret}:session:{participant()}",)
    return (*keys, f"{secret}:address:{address}") if address else keys


def room_code() -> str | None:
    """The room code the facilitator set (MODELDESK_ROOM_CODE or secrets' room_code)."""
    return server_setting("MODELDESK_ROOM_CODE", "room_code")


def facilitator_password() -> str | None:
    """The facilitator's password (MODELDESK_FACILITATOR_PASSWORD or secrets)."""
    return server_setting("MODELDESK_FACILITATOR_PASSWORD", "facilitator_password")


# --- identity, resume and heartbeat ---------------------------------------------------------


def participant() -> str:
    """This participant's id: their resume token (the same across a reload of the tab)."""
    token = state.resume_token()
    if token is None:
        token = new_token()
        state.set_resume_token(token)
    return token


def start_session() -> None:
    """First thing of every run: restore a reloaded tab's work, keep the token in the URL."""
    if state.resume_token() is None:
        offered = st.query_params.get("resume")
        saved = resume_store().restore(offered, _binding()) if offered else None
        if saved is not None:
            state.restore_work(saved)
            state.set_resume_token(str(offered))
            trace("restore", job=state.job_phase(), runs=len(state.runs()))
    token = participant()
    if st.query_params.get("resume") != token:
        st.query_params["resume"] = token
    heartbeat()


def end_of_run() -> None:
    """Last thing of every run: keep this session's work for a reload (references, no copy)."""
    resume_store().save(participant(), _binding(), state.work_snapshot())


def heartbeat() -> None:
    """Tell the queue and the board this participant's tab is still open."""
    token = participant()
    server_limiter().heartbeat(token)
    board = room_board()
    board.heartbeat(token)
    board.prune()  # participants silent past its liveness have left: their entries go


def keep_alive() -> None:
    """While a job trains or runs are posted, tick every HEARTBEAT_S (even on other pages)."""
    job = state.job()
    if (job is not None and not job.done) or room_board().posted_by(participant()):
        st.fragment(heartbeat, run_every=HEARTBEAT_S)()


def _binding() -> str:
    cookies = getattr(st.context, "cookies", None) or {}
    return browser_binding(cookies.get(XSRF_COOKIE))


# --- lessons --------------------------------------------------------------------------------


def current_lesson() -> Any:
    """The session's lesson (core.workshop.lessons.Lesson), or None."""
    lesson_id = state.lesson_id()
    if lesson_id is None:
        return None
    from core.workshop.lessons import load_lesson

    try:
        return load_lesson(lesson_id)
    except UserError:
        return None


def open_lesson_from_url() -> None:
    """`/?lesson=<id>` starts the session in that lesson (once per lesson id)."""
    wanted = st.query_params.get("lesson")
    if not wanted or wanted == state.lesson_id() or wanted == state.scratch("refused_lesson"):
        return
    from core.workshop.lessons import load_lesson

    try:
        start_lesson(load_lesson(wanted))
    except UserError as error:
        state.set_scratch("refused_lesson", wanted)
        show_error(error)


def start_lesson(lesson: Any) -> None:
    """Load the lesson's data, prepare it with its split presets and preset the controls."""
    from core.data.profile import profile_frame
    from core.prep.pipeline import prepare
    from core.train.runner import default_model_spec, default_train_spec, first_model_setup

    prepared = None
    first = lesson.setup == "first_model"
    if first:
        dataset, spec, _, _ = first_model_setup()
    else:
        from core.data.loading import SAMPLES, load_bytes, load_sample

        if lesson.sample is not None:
            dataset, target = load_sample(lesson.sample), SAMPLES[lesson.sample].target
        else:
            dataset = load_bytes(lesson.data_file.read_bytes(), lesson.data_file.name)
            target = None
        spec = None
        if target is not None:
            from core.prep.preprocessing import default_spec

            spec = replace(default_spec(dataset.frame, target), **lesson.preprocess)
    state.set_dataset(dataset, profile_frame(dataset.frame))
    if spec is not None:
        prepared = prepare(dataset.frame, spec)
        state.set_prepared(prepared, first_model=first)
    model = lesson.model_spec(default_model_spec())
    train = lesson.train_spec(default_train_spec())
    preset_train_controls(model, train, prepared.spec.task if prepared else None)
    state.set_lesson_id(lesson.id)


def preset_train_controls(model: Any, train: Any, task: str | None) -> None:
    """Set the Train page's widgets to a ModelSpec and TrainSpec (core.train.controls)."""
    from core.train.controls import widget_values

    state.update_widgets(**widget_values(model, train, task))


def gated(name: str, widget: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Draw a Train control unless the lesson hides it (its preset, else its default, then
    holds); a control the lesson locks is shown disabled."""
    lesson = current_lesson()
    if lesson is not None and name in lesson.hidden:
        value = state.widget(kwargs.get("key", ""), _MISSING)
        if value is not _MISSING:
            return value
        if "value" in kwargs:
            return kwargs["value"]
        options = args[1] if len(args) > 1 else kwargs.get("options")
        return None if options is None else list(options)[kwargs.get("index", 0)]
    if lesson is not None and name in lesson.locked:
        kwargs["disabled"] = True
        kwargs["help"] = tr("workshop.locked")
    if state.widget(kwargs.get("key", ""), _MISSING) is not _MISSING:
        # A preset (the first-model button, a lesson, a setup link) already holds the value:
        # a default beside it would be ignored, and Streamlit logs a warning for the pair. These
        # widgets are identified by their key alone, so dropping the default keeps their state.
        kwargs.pop("value", None)
        kwargs.pop("index", None)
    return widget(*args, **kwargs)


def session_work() -> Any:
    """What this session has done, as challenges read it (its runs, events and table)."""
    from core.workshop.challenges import SessionWork

    dataset = state.dataset()
    trail = state.existing_audit_trail()
    return SessionWork(
        runs=list(state.runs().values()),
        events=trail.events if trail is not None else (),
        frame=None if dataset is None else dataset.frame,
    )


def challenges_done() -> tuple[str, ...]:
    """Ids of the lesson's challenges this session has met."""
    from core.workshop.challenges import is_done

    lesson = current_lesson()
    if lesson is None:
        return ()
    done = session_work()
    return tuple(c.id for c in lesson.challenges if is_done(c.check, done))


def lesson_panel() -> None:
    """The lesson's title, instructions and each challenge's live status, above every page."""
    lesson = current_lesson()
    if lesson is None:
        return
    from core.workshop.challenges import is_done

    done_so_far = session_work()
    language = lang()
    with st.expander(
        f"{tr('workshop.lesson')}: {lesson.text('title', language)}",
        expanded=not state.runs(),
        icon=":material/school:",
    ):
        st.markdown(lesson.text("instructions", language))
        st.caption(tr("workshop.challenges"))
        for challenge in lesson.challenges:
            done = is_done(challenge.check, done_so_far)
            mark = ":material/check_circle:" if done else ":material/radio_button_unchecked:"
            status = tr("workshop.challenge.done" if done else "workshop.challenge.todo")
            st.markdown(
                f"{mark} {challenge.title.get(language) or challenge.title['en']} — **{status}**"
            )


# --- setup links ----------------------------------------------------------------------------


def setup_link_button(config: Any, page: str) -> None:
    """ "Copy link to this setup": the controls in the URL, shown ready to copy."""
    from core.workshop.share import Setup, encode_setup

    if st.button(tr("workshop.copy_link"), icon=":material/link:", key=f"{page}_share_link"):
        dataset = state.dataset()
        sample = dataset.name if dataset is not None and dataset.file_format == "sample" else None
        value = encode_setup(Setup(config, sample, page))
        state.set_scratch("applied_setup", value)  # already what this session shows
        st.query_params["setup"] = value
        base = (getattr(st.context, "url", None) or "").split("?")[0]
        st.code(f"{base}?setup={value}", language=None, wrap_lines=True)
        st.caption(tr("workshop.copy_link_help"))


def open_setup_from_url() -> None:
    """`?setup=<value>` restores a shared setup once: its sample, its split and the controls."""
    from core.workshop.share import decode_setup

    value = st.query_params.get("setup")
    if not value or value == state.scratch("applied_setup"):
        return
    state.set_scratch("applied_setup", value)
    try:
        setup = decode_setup(value)
        apply_setup(setup)
    except UserError as error:
        show_error(error)


def apply_setup(setup: Any) -> None:
    """Load the setup's sample (if it names one), prepare the split and preset the controls."""
    from core.data.loading import load_sample
    from core.data.profile import profile_frame
    from core.prep.pipeline import prepare

    dataset = state.dataset()
    if setup.sample is not None and (dataset is None or dataset.name != setup.sample):
        dataset = load_sample(setup.sample)
        state.set_dataset(dataset, profile_frame(dataset.frame))
    if dataset is None:
        raise UserError("workshop.error.link_needs_data")
    missing = {setup.config.preprocess.target, *(c.name for c in setup.config.preprocess.columns)}
    if missing - set(dataset.frame.columns):
        raise UserError("workshop.error.link_needs_data")
    prepared = prepare(dataset.frame, setup.config.preprocess)
    state.set_prepared(prepared)
    preset_preprocess_controls(dataset, setup.config.preprocess)
    preset_train_controls(setup.config.model, setup.config.train, prepared.spec.task)


def preset_preprocess_controls(dataset: Any, spec: Any) -> None:
    """Set the Preprocess page's widgets to a plan, as its own plan upload does."""
    prefix = f"pp_{dataset.sha256[:12]}"
    state.update_widgets(
        **{
            f"{prefix}_loaded": spec,
            f"{prefix}_target": spec.target,
            f"{prefix}_task_{spec.target}": spec.task,
            f"{prefix}_val": spec.val_share,
            f"{prefix}_test": spec.test_share,
            f"{prefix}_seed": spec.seed,
            f"{prefix}_stratify": spec.stratify,
            f"{prefix}_version": state.widget(f"{prefix}_version", 0) + 1,
        }
    )


# --- helpers --------------------------------------------------------------------------------


def _env_float(name: str, default: float) -> float:
    try:
        return max(1.0, float(os.environ.get(name, "") or default))
    except ValueError:
        return default
