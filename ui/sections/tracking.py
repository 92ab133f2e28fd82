"""Train's MLflow section: opt in to logging runs, see whether logging worked, take the runs away.

Shown only where the server names a tracking URI (MODELDESK_MLFLOW_URI or the `mlflow_uri`
secret); the download of the session's runs as an MLflow folder also without one, where MLflow
is installed. Nothing here imports MLflow: core.train.tracking does, in its own thread, once a
run is logged; the download imports it when the person asks for the folder.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.i18n import UserError
from ui import state
from ui.widgets import lang, say, server_setting, show_error, tr

URI_SECRET = "mlflow_uri"


def tracking_uri() -> str | None:
    """The server's tracking URI: MODELDESK_MLFLOW_URI, else the `mlflow_uri` secret."""
    return server_setting("MODELDESK_MLFLOW_URI", URI_SECRET)


def tracking_section(prepared: Any, config: Any) -> None:
    """The opt-in, the logging of a job started with it on, how logging went, and the download
    of the session's runs."""
    _server_logging(prepared, config)
    session_download(state.runs())


def _server_logging(prepared: Any, config: Any) -> None:
    from core.train.tracking import mlflow_installed

    uri = tracking_uri()
    if uri is None:
        return
    if not mlflow_installed():
        st.caption(tr("tracking.ui.not_installed"))
        return
    from core.train.tracking import check_uri

    try:
        check_uri(uri)
    except UserError as error:
        show_error(error)
        return
    with st.expander(tr("tracking.ui.heading"), icon=":material/monitoring:"):
        on = st.checkbox(tr("tracking.ui.opt_in"), key="train_mlflow", help=tr("tracking.ui.help"))
        register = st.checkbox(
            tr("tracking.ui.register"), key="train_mlflow_register", disabled=not on
        )
        name = st.text_input(
            tr("tracking.ui.register_name"),
            value=f"modeldesk-{prepared.spec.target}"[:100],
            key="train_mlflow_model_name",
            disabled=not (on and register),
        )
    _follow_new_job(uri, on, name.strip() if on and register and name.strip() else None, config)
    _logging_status()


def _follow_new_job(uri: str, on: bool, register_as: str | None, config: Any) -> None:
    """Log the job just started, when the opt-in was on as it started (each job once)."""
    job, prepared = state.job(), state.job_prepared()
    if job is None or state.scratch("tracking.seen") == job.run_id:
        return
    state.set_scratch("tracking.seen", job.run_id)
    if not on or job.done or prepared is None:
        return
    from core.deploy.tracking_artifacts import track_job
    from core.train.runner import RunConfig
    from core.train.tracking import Tracker

    tracker = state.scratch("tracking.tracker")
    if tracker is None or tracker.uri != uri or tracker.failure is not None:
        tracker = Tracker(uri)  # a fresh one after a failure: the server may be back
        state.set_scratch("tracking.tracker", tracker)
    dataset = state.dataset()
    followed = track_job(
        tracker,
        job,
        prepared,
        RunConfig(prepared.spec, job.model_spec, job.train_spec),
        data_sha256=dataset.sha256 if dataset is not None else None,
        dataset_name=dataset.name if dataset is not None else "",
        lang=lang(),
        register_as=register_as,
    )
    state.set_scratch("tracking.followed", (job.name, followed))


def _logging_status() -> None:
    """How the logging of the last tracked run goes: a warning when it failed."""
    followed = state.scratch("tracking.followed")
    if followed is None:
        return
    name, handle = followed
    tracker = handle.tracker
    failure = tracker.failure
    if failure is not None:
        st.warning(
            tr("tracking.ui.failed", name=name, reason=say(failure)), icon=":material/cloud_off:"
        )
    elif handle.thread.is_alive() or not tracker.flush(0):
        st.caption(tr("tracking.ui.logging", name=name))
    else:
        st.caption(tr("tracking.ui.logged", name=name, run_id=tracker.run_id(handle.handle) or "-"))


def session_download(runs: dict) -> None:
    """Take your runs with you: the session's runs as a zipped MLflow folder (SQLite store
    and artifacts), made on request in a private folder and offered for download."""
    from core.train.tracking import mlflow_installed

    if not runs or not mlflow_installed():
        return
    key = tuple(sorted(runs))
    ready = state.scratch("tracking.session_zip")
    st.caption(tr("tracking.ui.take_away"))
    if st.button(tr("tracking.ui.prepare"), icon=":material/folder_zip:", key="train_mlflow_zip"):
        from core.deploy.tracking_artifacts import SessionRun, session_runs_zip

        dataset = state.dataset()
        items = [
            SessionRun(run, state.run_data(run_id), _sha_for(run_id, dataset))
            for run_id, run in runs.items()
        ]
        try:
            ready = (key, session_runs_zip(items, lang=lang()))
        except Exception as error:  # MLflow failing must not cost the page: say so and go on
            st.warning(tr("tracking.ui.prepare_failed", reason=str(error).splitlines()[0][:200]))
            ready = None
        state.set_scratch("tracking.session_zip", ready)
    if ready is not None and ready[0] == key:
        st.download_button(
            tr("tracking.ui.download"),
            ready[1],
            file_name="modeldesk_mlflow_runs.zip",
            mime="application/zip",
            icon=":material/download:",
            key="train_mlflow_download",
            help=tr("tracking.ui.download_help"),
        )


def _sha_for(run_id: str, dataset: Any) -> str | None:
    """The data's SHA-256 for a run trained on the current dataset's pipeline, else None."""
    if dataset is None or state.run_data(run_id) is not state.prepared():
        return None
    return dataset.sha256
