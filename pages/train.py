"""Train: model and training controls, the maths in use, a live background job, run history."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from core.i18n import Message, UserError
from core.train.controls import control
from core.train.engine import JobLimiter, TrainSpec, formulas_for
from core.train.figures import (
    LiveFigure,
    live_parameter_curves,
    live_training_curves,
    loss_on_standardised_scale,
)
from core.train.jobs import poll_seconds, server_limiter
from core.train.models import (
    ModelSpec,
    allowed_losses,
    default_loss,
    describe_architecture,
    loss_warnings,
    resolved_loss,
)
from core.train.privacy import default_delta
from core.train.runner import (
    RunConfig,
    audit_details,
    default_model_spec,
    default_train_spec,
    first_model_setup,
    start_training,
)
from core.train.status import RunStatus
from ui import state
from ui.run_labels import run_name
from ui.sections.search import search_section, tabm_controls
from ui.sections.tracking import tracking_section
from ui.widgets import (
    PERSIST,
    collect_finished_job,
    epsilon_text,
    escape_md,
    labeler,
    lang,
    page_link,
    record_event,
    run_app_first,
    say,
    session_cache,
    show_error,
    tr,
    trace,
)
from ui.workshop import (
    gated,
    heartbeat,
    participant,
    preset_train_controls,
    setup_link_button,
)

if TYPE_CHECKING:
    from core.train.engine import Job

FIRST_MODEL_TARGETS = {"w": 2.0, "b": 1.0}
# Untouched controls give exactly the CLI's default config.
MODEL_DEFAULTS = default_model_spec()
TRAIN_DEFAULTS = default_train_spec()


def job_limiter() -> JobLimiter:
    """One queue for the whole server (core.train.jobs.server_limiter: MODELDESK_MAX_JOBS,
    MODELDESK_MAX_QUEUE, MODELDESK_JOB_MAX_SECONDS)."""
    return server_limiter()


def train_page() -> None:
    """Preset, controls, summary and maths, Train/Stop with live curves, then run history."""
    st.title(tr("app.nav.train"))
    st.caption(tr("trainpage.intro"))
    if st.button(tr("trainpage.preset"), icon=":material/school:", key="train_preset"):
        _apply_first_model_preset()
    prepared = state.prepared()
    if prepared is None:
        st.warning(tr("app.planned.needs", step=tr("app.nav.preprocess")))
        page_link("preprocess", label=tr("app.nav.preprocess"), icon=":material/arrow_back:")
        return
    task = prepared.spec.task
    n_classes = len(prepared.preprocessor.classes_)
    st.caption(
        tr(
            "trainpage.data_line",
            task=tr(f"preprocess.task.name.{task}"),
            rows=len(prepared.y_train),
            features=prepared.X_train.shape[1],
        )
    )
    model_column, train_column = st.columns(2)
    with model_column:
        st.subheader(tr("trainpage.model"))
        model_spec = _model_controls(task)
    with train_column:
        st.subheader(tr("trainpage.training"))
        train_spec = _train_controls(task, len(prepared.y_train))
    if model_spec is None or train_spec is None:
        return
    for warning in loss_warnings(model_spec, task):
        st.warning(say(warning), icon=":material/warning:")
    _summary(
        model_spec, train_spec, prepared.X_train.shape[1], task, n_classes, len(prepared.y_train)
    )
    config = RunConfig(prepared.spec, model_spec, train_spec)
    state.set_train_config(config)
    st.download_button(
        tr("trainpage.download_config"),
        config.to_json(),
        file_name="modeldesk_config.json",
        mime="application/json",
        icon=":material/download:",
        key="train_download_config",
        help=tr("trainpage.download_config_help"),
    )
    setup_link_button(config, "train")
    _job_controls(prepared, model_spec, train_spec)
    tracking_section(prepared, config)  # MLflow: opt in, logging status, take runs away
    # Two slots drawn on every run, so the live panel's fragment keeps one place (and so one
    # fragment id) from the click to the collected run, and a redraw of it can only land inside
    # its own slot. Drawn side by side at the top level, the history's heading (the element right
    # after the fragment) vanished for 3 of 10 participants under load (bench/workshop_load.py).
    live_slot, history_slot = st.container(), st.container()
    with live_slot:
        live_panel()
    with history_slot:
        run_history()
    search_section(prepared, config)


def _model_controls(task: str) -> ModelSpec | None:
    kind = _control("kind", MODEL_DEFAULTS.kind, horizontal=True)
    hidden: tuple[int, ...] = ()
    activation, dropout, batch_norm = "relu", 0.0, False
    if kind != "linear":
        layers = _control("hidden_layers", len(MODEL_DEFAULTS.hidden_layers))
        unit_columns = st.columns(max(layers, 1))
        hidden = tuple(
            _control(
                "units",
                _default_units(i),
                label=tr("train.label.units", index=i + 1),
                key=control("units").widget_key(index=i),
                place=unit_columns[i],
            )
            for i in range(layers)
        )
        activation = _control("activation", MODEL_DEFAULTS.activation)
        dropout = _control("dropout", MODEL_DEFAULTS.dropout)
        batch_norm = _control("batch_norm", MODEL_DEFAULTS.batch_norm)
    ensemble_size, adapters = tabm_controls(kind)
    l2 = _control("l2", MODEL_DEFAULTS.l2)
    loss = _control(
        "loss",
        default_loss(task),
        options=allowed_losses(task),
        key=control("loss").widget_key(task=task),
    )
    try:
        return ModelSpec(
            kind=kind,
            hidden_layers=hidden if kind != "linear" else (),
            ensemble_size=ensemble_size,
            adapters=adapters,
            activation=activation,
            dropout=dropout,
            l2=l2,
            batch_norm=batch_norm,
            # The task's own loss is stored as "default", exactly as the CLI's default config.
            loss=None if loss == default_loss(task) else loss,
        )
    except UserError as error:
        show_error(error)
        return None


def _train_controls(task: str, n_rows: int) -> TrainSpec | None:
    optimizer = _control("optimizer", TRAIN_DEFAULTS.optimizer)
    learning_rate = _control("learning_rate", TRAIN_DEFAULTS.learning_rate)
    batch_size = _control("batch_size", TRAIN_DEFAULTS.batch_size)
    if batch_size is None:
        st.caption(tr("trainpage.full_batch", rows=n_rows))
    epochs = _control("epochs", TRAIN_DEFAULTS.epochs)
    early_stopping = _control("early_stopping", TRAIN_DEFAULTS.early_stopping)
    patience = _control("patience", TRAIN_DEFAULTS.patience)
    restore_best = _control("restore_best", TRAIN_DEFAULTS.restore_best)
    schedule = _control("schedule", TRAIN_DEFAULTS.schedule)
    class_weights = _control(
        "class_weights", TRAIN_DEFAULTS.class_weights, disabled=task == "regression"
    )
    seed = _control("seed", TRAIN_DEFAULTS.seed)
    private = _privacy_controls(n_rows)
    try:
        return TrainSpec(
            optimizer=optimizer,
            learning_rate=float(learning_rate),
            batch_size=batch_size,
            epochs=int(epochs),
            early_stopping=early_stopping,
            patience=int(patience),
            restore_best=restore_best,
            schedule=schedule,
            class_weights=bool(class_weights) and task != "regression",
            seed=int(seed),
            **private,
        )
    except UserError as error:
        show_error(error)
        return None


def _privacy_controls(n_rows: int) -> dict:
    """DP-SGD (core.train.privacy), off by default: target ε, δ and the clipping norm."""
    if not _control("dp", TRAIN_DEFAULTS.dp):
        return {}
    epsilon = _control("dp_epsilon", TRAIN_DEFAULTS.dp_epsilon)
    suggested = default_delta(n_rows)
    delta = _control(
        "dp_delta",
        suggested,
        step=suggested / 10,
        help=tr("dp.explain.delta", rows=n_rows, delta=f"{suggested:.0e}"),
    )
    clip = _control("dp_clip_norm", TRAIN_DEFAULTS.dp_clip_norm)
    st.caption(tr("dp.caption.controls"))
    return {
        "dp": True,
        "dp_epsilon": float(epsilon),
        "dp_delta": None if delta is None or float(delta) == suggested else float(delta),
        "dp_clip_norm": float(clip),
    }


# The Streamlit widget that draws each kind of control (core.train.controls.Control.widget).
_WIDGETS = {
    "radio": "radio",
    "selectbox": "selectbox",
    "slider": "slider",
    "select_slider": "select_slider",
    "checkbox": "checkbox",
    "number": "number_input",
}


def _control(
    name: str,
    value: Any,
    *,
    options: tuple[Any, ...] | None = None,
    label: str | None = None,
    key: str | None = None,
    place: Any = None,
    **extra: Any,
) -> Any:
    """Draw the registry's control `name` (core.train.controls) showing `value` by default,
    through the lesson's gate (hidden or locked) when it is one a lesson may name."""
    entry = control(name)
    kwargs: dict[str, Any] = {
        "key": key or entry.key,
        "help": tr(entry.help),
        **PERSIST,
    }
    args: list[Any] = [label or tr(entry.label)]
    if entry.widget in ("radio", "selectbox", "select_slider"):
        offered = options if options is not None else entry.options()
        language = lang()
        args.append(offered)
        kwargs["format_func"] = labeler(offered, lambda o: entry.option_text(o, language))
        if entry.widget == "select_slider":
            kwargs["value"] = value
        else:
            kwargs["index"] = list(offered).index(value)
    elif entry.widget == "slider":
        args += [entry.low, entry.high]
        kwargs.update(value=value, step=entry.step)
    elif entry.widget == "number":
        bounds = {"min_value": entry.low, "max_value": entry.high, "step": entry.step}
        kwargs.update({k: v for k, v in bounds.items() if v is not None}, value=value)
        if entry.number_format is not None:
            kwargs["format"] = entry.number_format
    else:
        kwargs["value"] = value
    kwargs.update(extra)
    widget = getattr(st if place is None else place, _WIDGETS[entry.widget])
    if not entry.presettable:
        return widget(*args, **kwargs)
    return gated(name, widget, *args, **kwargs)


def _summary(
    model_spec: ModelSpec,
    train_spec: TrainSpec,
    n_features: int,
    task: str,
    n_classes: int,
    n_rows: int,
) -> None:
    """Layer table, parameter count and work per epoch; the maths in an expander."""
    key = ("model_summary", model_spec, n_features, task, n_classes, train_spec.batch_size, n_rows)
    rows, params, work = session_cache(
        key,
        lambda: describe_architecture(
            model_spec, n_features, task, n_classes, n_rows, train_spec.batch_size
        ),
    )
    with st.expander(
        tr("trainpage.architecture", total=params["total"]), icon=":material/account_tree:"
    ):
        table = pd.DataFrame(rows).rename(
            columns={name: tr(f"train.layer_table.{name}") for name in rows[0]}
        )
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(
            tr("train.work.parameters", total=params["total"], trainable=params["trainable"])
        )
        st.caption(
            tr(
                "train.work.per_epoch",
                multiply_adds=work["multiply_adds_per_epoch"],
                batches=work["batches_per_epoch"],
            )
        )
    with st.expander(tr("trainpage.maths"), icon=":material/function:"):
        for formula in formulas_for(model_spec, train_spec, task):
            st.markdown(f"**{say(formula.title)}**")
            st.latex(formula.latex)
            st.caption(say(formula.explanation))


def _job_controls(prepared, model_spec: ModelSpec, train_spec: TrainSpec) -> None:
    job = state.job()
    train_col, stop_col = st.columns(2)
    busy = job is not None and not job.done
    if train_col.button(
        tr("trainpage.train"),
        type="primary",
        icon=":material/play_arrow:",
        disabled=busy,
        key="train_train",
    ):
        try:
            job = start_training(
                prepared,
                model_spec,
                train_spec,
                limiter=job_limiter(),
                name=tr("trainpage.run_name", number=len(state.runs()) + 1),
                owner=participant(),
            )
            state.set_job(job, prepared)
            record_event("train", audit_details(RunConfig(prepared.spec, model_spec, train_spec)))
        except UserError as error:
            show_error(error)
    job = state.job()
    if (
        stop_col.button(
            tr("trainpage.stop"),
            icon=":material/stop:",
            disabled=job is None or job.done,
            key="train_stop",
        )
        and job is not None
    ):
        job.stop()


def live_panel() -> None:
    """Progress and curves of the current job: redrawn twice a second while it trains, every
    2 s while it waits in the queue (core.train.jobs.poll_seconds)."""
    job = state.job()
    if job is None:
        return
    # A job that ended while this page was drawing (after app.py looked) joins the history here,
    # in the full run, so the fragment below need not ask for a full rerun from inside one.
    collect_finished_job()
    # Poll while there is something to watch, and until the run is collected (each tick asks
    # app.py for that full rerun again, so a rerun the browser drops cannot leave the page on
    # "Finished" with no run in the history); a collected job polls once more, for the redraw
    # in _live_panel, and then not at all. The pace is fixed
    # when the page draws: a job that starts while its panel polls at the queue's pace keeps
    # that pace (a full rerun to speed it up would cost more than it gives).
    redrawn = state.scratch("train.redrawn") == job.run_id
    every = poll_seconds(job, state.job_collected(job.run_id), redrawn)
    trace("live", job=state.job_phase(), every=every)
    state.set_scratch("train.inline", True)  # the fragment runs inside this full run
    try:
        st.fragment(_live_panel, run_every=every)()
    finally:
        state.set_scratch("train.inline", False)  # ... and from here on only in its own ticks


def _live_panel() -> None:
    heartbeat()
    job = state.job()
    if job is None:  # a tick that reached a session whose job was just forgotten
        return
    snapshot = job.snapshot()
    status = tr(f"train.status.{snapshot.status}")
    if snapshot.status == RunStatus.QUEUED and snapshot.queue_position:
        wait = job_limiter().wait_seconds(job)
        if wait is None:
            st.info(tr("train.status.queue_position", position=snapshot.queue_position))
        else:
            st.info(
                tr("train.status.queue_wait", position=snapshot.queue_position, seconds=round(wait))
            )
    reason = job_limiter().stop_reason(job) if snapshot.done else None
    if reason is not None:
        st.warning(say(reason), icon=":material/timer_off:")
    text = f"{status} · " + tr(
        "train.status.progress", epoch=snapshot.epoch, epochs=snapshot.epochs
    )
    if snapshot.eta_seconds is not None and not snapshot.done:
        text += " · " + tr("train.status.eta", seconds=snapshot.eta_seconds)
    st.progress(snapshot.progress, text=text)
    if snapshot.status != RunStatus.QUEUED:
        device = _training_device(job)
        if device is not None:
            st.caption(tr("cluster.device.trained_on", device=say(device)))
    if snapshot.message is not None:
        show = st.error if snapshot.status == RunStatus.FAILED else st.info
        show(say(snapshot.message))
    if snapshot.privacy:
        _privacy_spent(snapshot.privacy)
    if snapshot.history.get("loss"):
        loss = resolved_loss(job.model_spec, job.task)
        st.plotly_chart(
            live_training_curves(_live_figure("curves"), snapshot.history, job.task, lang(), loss),
            width="stretch",
            key="train_curves",
        )
        if loss_on_standardised_scale(job.task, loss):
            st.caption(tr("trainpage.loss_standardised", loss=tr(f"train.loss.{loss}")))
    if snapshot.parameters:
        targets = FIRST_MODEL_TARGETS if state.is_first_model() else None
        last = {name: values[-1] for name, values in snapshot.parameters.items() if values}
        st.caption(tr("trainpage.parameters_now", values=_parameter_text(last)))
        st.plotly_chart(
            live_parameter_curves(_live_figure("parameters"), snapshot.parameters, targets, lang()),
            width="stretch",
            key="train_params",
        )
    trace("tick", status=snapshot.status, epoch=snapshot.epoch, job=state.job_phase())
    if snapshot.done and not state.job_collected(job.run_id):
        # The run joins the history in app.py, before any page, in the full rerun asked here;
        # never collected inside the fragment, so a dropped rerun is asked again next tick.
        st.rerun(scope="app")
    elif snapshot.done and not state.scratch("train.inline"):
        # A tick after a full run that drew the collected run: the panel's one poll after that
        # run, or a timer the browser has not yet cancelled because it is behind. Either way a
        # full run that a tick followed may not have reached the page whole, so one more redraws
        # it; that run draws this panel without polling, so the redraws stop once the browser
        # has caught up (docs/ARCHITECTURE.md, "Background jobs").
        state.set_scratch("train.redrawn", job.run_id)
        st.rerun(scope="app")


def _live_figure(name: str) -> LiveFigure:
    """This session's live figure `name`: rebuilt only when its shape changes (LiveFigure)."""
    live = state.scratch(f"train.live.{name}")
    if live is None:
        live = LiveFigure()
        state.set_scratch(f"train.live.{name}", live)
    return live


def _privacy_spent(privacy: dict) -> None:
    """The ε a DP-SGD job has spent so far (the steps taken), beside the curves."""
    target = privacy.get("target_epsilon")
    st.metric(tr("dp.live.label"), epsilon_text(privacy), help=tr("dp.live.help"))
    st.caption(
        tr(
            "dp.live.detail",
            target="-" if target is None else f"{target:g}",
            delta=f"{privacy.get('delta') or 0:.0e}",
            steps=privacy.get("steps", 0),
            planned=privacy.get("planned_steps", 0),
            sigma=f"{privacy.get('noise_multiplier') or 0:.3g}",
            clip=f"{privacy.get('clip_norm') or 0:g}",
        )
    )


def _training_device(job: Job) -> Message | None:
    """Which device trains the job: where it trains elsewhere (a cluster's worker), the job
    says; else this server's (TensorFlow's first GPU, else the CPU)."""
    if job.device is not None:
        return job.device
    from core.train.devices import training_device

    return session_cache(("training_device",), training_device)


def run_history() -> None:
    """This session's runs: rename, delete, and (when the app serves one person) save."""
    runs = state.runs()
    if not runs:
        return
    st.subheader(tr("trainpage.history"))
    table = pd.DataFrame(
        [
            {
                tr("trainpage.col.name"): run_name(run),
                tr("trainpage.col.status"): tr(f"train.status.{run.status}"),
                tr("trainpage.col.epochs"): run.epochs_trained,
                tr("trainpage.col.duration"): round(run.duration_s, 1),
                tr("trainpage.col.val_loss"): _last(run.history.get("val_loss")),
                tr("trainpage.col.test_metric"): _test_metric(run),
                tr("trainpage.col.model"): tr(f"train.kind.{run.model_spec.kind}"),
                tr("trainpage.col.optimizer"): tr(f"train.optimizer.{run.train_spec.optimizer}"),
                tr("trainpage.col.learning_rate"): run.train_spec.learning_rate,
                tr("dp.column.epsilon"): epsilon_text(run.privacy),
            }
            for run in runs.values()
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    _trivial_warnings(runs)
    ids = list(runs)
    names = tuple(run.name for run in runs.values())
    # Streamlit's selectbox keeps showing an option's old label after a rename, so the widget's
    # key follows the names; the pick survives a rename and a new run is picked when one lands.
    picked, seen = state.scratch("train.picked_run", (None, ()))
    index = ids.index(picked) if picked in ids and seen == tuple(ids) else len(ids) - 1
    chosen = st.selectbox(
        tr("trainpage.pick_run"),
        ids,
        index=index,
        format_func=labeler(ids, lambda i: run_name(runs[i])),
        key="train_pick_" + hashlib.sha256(repr(names).encode()).hexdigest()[:12],
    )
    state.set_scratch("train.picked_run", (chosen, tuple(ids)))
    name_col, rename_col, delete_col = st.columns([3, 1, 1])
    # Keyed by the run and the names: after a new run lands or a rename, the field shows the
    # picked run's name instead of keeping the last one typed.
    new_name = name_col.text_input(
        tr("trainpage.new_name"),
        value=run_name(runs[chosen]),
        key="train_name_" + hashlib.sha256(repr((chosen, names)).encode()).hexdigest()[:12],
    )
    if rename_col.button(tr("trainpage.rename"), key="train_rename") and new_name.strip():
        runs[chosen].name = new_name.strip()
        st.rerun()
    if delete_col.button(tr("trainpage.delete"), key="train_delete"):
        state.delete_run(chosen)
        st.rerun()
    _save_runs(runs)


def _trivial_warnings(runs: dict) -> None:
    """Runs (DP runs included) no better than always answering the majority class / the mean."""
    from core.evaluate.metrics import run_trivial_verdict

    for run_id, run in runs.items():
        prepared = state.run_data(run_id)
        if prepared is None or not run.status.usable or not run.weights:
            continue
        verdict = session_cache(
            ("trivial_verdict", run_id), partial(run_trivial_verdict, prepared, run)
        )
        if verdict is not None:
            st.warning(f"**{escape_md(run_name(run))}**: {say(verdict)}", icon=":material/equal:")


def _save_runs(runs: dict) -> None:
    from core.private_files import shared_deployment
    from core.train.runner import runs_folder, save_runs

    if shared_deployment():
        st.caption(tr("trainpage.shared_no_save"))
        return
    # Only inside ./runs/ under the working folder: the name comes from a visitor.
    name = st.text_input(tr("trainpage.save_folder"), value="", key="train_folder")
    if st.button(tr("trainpage.save"), icon=":material/save:", key="train_save"):
        try:
            folder = runs_folder(name)
            written = save_runs(list(runs.values()), folder)
        except UserError as error:
            show_error(error)
        else:
            shown = escape_md(folder.relative_to(Path.cwd().resolve()).as_posix())
            st.success(tr("trainpage.saved", count=len(written), folder=shown))


def _apply_first_model_preset() -> None:
    """One click: the y = 2x + 1 sample, x unscaled, one Dense unit, SGD on MSE."""
    from core.data.profile import profile_frame
    from core.prep.pipeline import prepare
    from ui.widgets import set_dataset

    dataset, spec, model_spec, train_spec = first_model_setup()
    set_dataset(dataset, profile_frame(dataset.frame))
    prepared = prepare(dataset.frame, spec)
    state.set_prepared(prepared, first_model=True)
    # Every control shows the first model's specs (core.train.controls), as its lesson does.
    preset_train_controls(model_spec, train_spec, spec.task)


def _default_units(index: int) -> int:
    layers = MODEL_DEFAULTS.hidden_layers
    return layers[index] if index < len(layers) else (layers[-1] if layers else 16)


def _parameter_text(values: dict[str, float]) -> str:
    return ", ".join(f"{name} = {value:.3f}" for name, value in values.items())


def _test_metric(run) -> str:
    """The run's held-out headline metric, e.g. "accuracy 0.967", or empty before it has one."""
    from core.evaluate.metrics import headline_metric

    name = headline_metric(run.task)
    value = run.metrics.get(name)
    return "" if value is None else f"{tr(f'evaluation.metric.{name}')} {value:.3f}"


def _last(values: list[float] | None) -> float | None:
    return round(values[-1], 4) if values else None


run_app_first()
train_page()
