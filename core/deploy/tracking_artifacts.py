"""What a tracked run logs beyond its epochs: test metrics and baselines, files, the MLflow model.

`core.train.tracking` logs the parameters and the live epochs from the train step; the files are
made here, a step higher, from the same functions the app's downloads use: config.json,
history.csv, metrics.json (core.evaluate.metrics.run_metrics), the model card, the training
curves as HTML, the bundle, and the bundle as an MLflow pyfunc model (core/deploy/mlflow_model.py)
with an input signature and an input example, optionally registered in the Model Registry.

`session_runs_zip` writes a session's runs, by MLflow itself, into a SQLite store and the
artifact folder an MLflow server keeps (mlflow.db and mlartifacts/), zipped: what a person takes
with them when nothing may be written on the server (docs/ARCHITECTURE.md, "Experiment tracking").
Nothing here imports MLflow at module level.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.deploy.bundle import export_bundle_bytes, history_csv, input_schema
from core.evaluate.metrics import run_metrics
from core.i18n import DEFAULT_LANGUAGE
from core.private_files import private_dir, private_root
from core.train.runner import RunConfig
from core.train.runs import is_usable
from core.train.tracking import (
    TAG_PREFIX,
    FollowedJob,
    Tracker,
    epoch_rows,
    follow_job,
    run_params,
    run_tags,
)

if TYPE_CHECKING:
    from core.prep.pipeline import Prepared
    from core.train.engine import Run

MODEL_ARTIFACT = "model"
BUNDLE_FILE = "bundle.zip"
SESSION_DB = "mlflow.db"
SESSION_ARTIFACTS = "mlartifacts"
SESSION_LOCATION = "mlflow-artifacts:/modeldesk"
MODEL_CODE = Path(__file__).with_name("mlflow_model.py")
CORE_PACKAGE = Path(__file__).resolve().parents[1]


def final_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """metrics.json as flat MLflow metrics: `test.<m>`, `validation.<m>`, `baseline.<name>.<m>`,
    and a private run's `privacy.epsilon` and the attack's `privacy.membership_auc`."""
    flat: dict[str, float] = {}

    def add(prefix: str, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                flat[f"{prefix}.{key}"] = float(value)

    add("test", metrics)
    add("validation", metrics.get("validation") or {})
    for name, values in (metrics.get("baselines") or {}).items():
        add(f"baseline.{name}", values)
    privacy = metrics.get("privacy") or {}
    if privacy.get("epsilon") is not None:
        flat["privacy.epsilon"] = float(privacy["epsilon"])
    attack = privacy.get("membership_inference") or {}
    if attack.get("auc") is not None:
        flat["privacy.membership_auc"] = float(attack["auc"])
    return flat


def run_files(
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    *,
    dataset_name: str = "",
    lang: str = DEFAULT_LANGUAGE,
) -> dict[str, str]:
    """The run's files as MLflow artifacts: config.json, history.csv, metrics.json, the model
    card (model_card.md) and the training curves (charts/*.html, plotly loaded from its CDN)."""
    from core.deploy.predict_script import model_card
    from core.train.figures import parameter_curves_figure, training_curves_figure

    files = {
        "config.json": config.to_json() + "\n",
        "history.csv": history_csv(run.history),
        "metrics.json": json.dumps(dict(metrics), indent=2, ensure_ascii=False, default=str),
    }
    if metrics:
        files["model_card.md"] = model_card(
            prepared, run, config, metrics, dataset_name=dataset_name, lang=lang
        )
    if run.history.get("loss"):
        figure = training_curves_figure(run.history, run.task, lang)
        files["charts/training_curves.html"] = figure.to_html(include_plotlyjs="cdn")
    if run.parameters:
        figure = parameter_curves_figure(run.parameters, None, lang)
        files["charts/parameters.html"] = figure.to_html(include_plotlyjs="cdn")
    return files


def input_example(prepared: Prepared) -> pd.DataFrame:
    """One made-up input row for the MLflow model's signature and example: each column's default
    (the training median or most frequent value, as the bundle's schema.json), in the raw
    column's type. Never a row of the data."""
    rows = prepared.splits.X_train
    row: dict[str, Any] = {}
    for column in input_schema(prepared)["columns"]:
        name = column["name"]
        value = column.get("default")
        if column["kind"] == "datetime":
            parsed = pd.to_datetime(rows[name], errors="coerce").dropna()
            value = parsed.median() if len(parsed) else None
        row[name] = value
    example = pd.DataFrame([row])
    for name in example.columns:
        # A value the raw type cannot hold keeps the default's own type.
        with contextlib.suppress(TypeError, ValueError):
            example[name] = example[name].astype(rows[name].dtype)
    return example


def requirements() -> list[str]:
    """The pinned packages the MLflow model needs where it is served: what the bundle's
    predict.py needs, and the ones ModelDesk's loader uses beside them."""
    from importlib import metadata

    from core.deploy.predict_script import requirements_text

    lines = [line for line in requirements_text().splitlines() if line and line[0] != "#"]
    for name in ("mlflow-skinny", "cloudpickle"):
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(name)
    return lines


def save_pyfunc_model(bundle: bytes, example: pd.DataFrame, folder: Path) -> Path:
    """The bundle saved as an MLflow pyfunc model in folder/model: models from code
    (core/deploy/mlflow_model.py), the bundle as its artifact, the `core` package beside it, the
    signature inferred from the example row and its prediction."""
    from core.deploy.bundle import predict_frame, read_bundle

    bundle_path = folder / BUNDLE_FILE
    bundle_path.write_bytes(bundle)
    output = predict_frame(read_bundle(bundle_path), example)
    target = folder / MODEL_ARTIFACT
    # MLflow suggests type hints on predict; the signature given is the one that counts. A
    # standing filter (catch_warnings would swap the process's filters under other threads).
    warnings.filterwarnings("ignore", message=r"(?s).*type hint", category=UserWarning)
    _save(target, bundle_path, example, output)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    return target


def _save(target: Path, bundle_path: Path, example: pd.DataFrame, output: pd.DataFrame) -> None:
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    mlflow.pyfunc.save_model(
        path=str(target),
        python_model=str(MODEL_CODE),
        artifacts={"bundle": str(bundle_path)},
        code_paths=[str(CORE_PACKAGE)],
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=requirements(),
    )


def model_logger(
    bundle: bytes, example: pd.DataFrame, register_as: str | None = None
) -> Callable[[Any, str], None]:
    """Work for `Tracker.call`: save the MLflow model and upload it as the run's "model"
    artifact; with `register_as`, register it as a new version of that model."""

    def log(client: Any, run_id: str) -> None:
        staging = Path(tempfile.mkdtemp(prefix="modeldesk-mlflow-", dir=private_root()))
        try:
            os.chmod(staging, 0o700)
            # Saved in a private folder (MLflow's own temporary files inside it on a shared
            # server), moved out, and uploaded without holding that folder's lock.
            with private_dir("modeldesk-mlflow-model-") as folder:
                shutil.move(save_pyfunc_model(bundle, example, folder), staging / MODEL_ARTIFACT)
            client.log_artifacts(run_id, str(staging / MODEL_ARTIFACT), MODEL_ARTIFACT)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if register_as:
            version = register_model(client, run_id, register_as)
            client.set_tag(run_id, f"{TAG_PREFIX}registered_model", f"{register_as}/{version}")

    return log


def register_model(client: Any, run_id: str, name: str) -> str:
    """A new version of registered model `name` from the run's MLflow model; its number."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    source = f"runs:/{run_id}/{MODEL_ARTIFACT}"
    return str(client.create_model_version(name, source, run_id=run_id).version)


def log_outcome(
    tracker: Tracker,
    handle: str,
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    *,
    dataset_name: str = "",
    lang: str = DEFAULT_LANGUAGE,
    register_as: str | None = None,
    with_model: bool = True,
) -> None:
    """Queue what a run has once it ended: test metrics with the baselines, the ε of a private
    run, the files, and (a usable run) the bundle and the MLflow model."""
    usable = is_usable(run, prepared)
    metrics = run_metrics(prepared, run) if usable else {}
    step = run.epochs_trained
    if metrics:
        tracker.log_metrics(handle, [(step, final_metrics(metrics))])
    elif run.privacy and run.privacy.get("epsilon") is not None:
        tracker.log_metrics(handle, [(step, {"privacy.epsilon": run.privacy["epsilon"]})])
    files = run_files(prepared, run, config, metrics, dataset_name=dataset_name, lang=lang)
    for name, text in files.items():
        tracker.log_artifact(handle, name, text)
    if usable and with_model:
        bundle = export_bundle_bytes(
            prepared, run, config, metrics, dataset_name=dataset_name, lang=lang
        )
        tracker.log_artifact(handle, BUNDLE_FILE, bundle)
        tracker.call(handle, model_logger(bundle, input_example(prepared), register_as))


def track_job(
    tracker: Tracker,
    job: Any,
    prepared: Prepared,
    config: RunConfig,
    *,
    data_sha256: str | None = None,
    dataset_name: str = "",
    lang: str = DEFAULT_LANGUAGE,
    register_as: str | None = None,
    parent: str | None = None,
    search: str | None = None,
) -> FollowedJob:
    """Log a training job of the page or the CLI as an MLflow run, from start to finish."""

    def on_done(tracker: Tracker, handle: str, run: Run) -> None:
        log_outcome(
            tracker,
            handle,
            prepared,
            run,
            config,
            dataset_name=dataset_name,
            lang=lang,
            register_as=register_as,
        )

    return follow_job(
        tracker,
        job,
        params=run_params(config, data_sha256),
        tags=run_tags(job.name, job.run_id, prepared.spec.task, search=search),
        parent=parent,
        on_done=on_done,
    )


# --- take your runs with you -------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRun:
    """One run of a session, with the data it trained on and, when known, the data's SHA-256."""

    run: Run
    prepared: Prepared | None
    data_sha256: str | None = None


def session_runs_zip(
    runs: Sequence[SessionRun], *, lang: str = DEFAULT_LANGUAGE, experiment: str = "ModelDesk"
) -> bytes:
    """The session's runs as a zip that MLflow opens: unzipped, `mlflow ui --backend-store-uri
    sqlite:///mlflow.db` (run in that folder) shows every run with its parameters, per-epoch
    metrics, test metrics and files. Written by MLflow's own SQLite store, in a private folder
    (in memory on a shared server) removed afterwards; the files go where an MLflow server keeps
    proxied artifacts (mlartifacts/modeldesk/<run>/artifacts), so the runs' artifact URIs
    (mlflow-artifacts:/...) resolve in whatever folder the zip is opened."""
    from mlflow.tracking import MlflowClient

    with private_dir("modeldesk-mlflow-session-") as folder:
        root = folder / "runs"
        root.mkdir()
        client = MlflowClient(tracking_uri=f"sqlite:///{root / SESSION_DB}")
        # A proxied location: its files resolve under whatever folder `mlflow ui` runs in.
        experiment_id = client.create_experiment(experiment, artifact_location=SESSION_LOCATION)
        for item in runs:
            _write_session_run(client, experiment_id, root, item, lang)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for file in sorted(root.rglob("*")):
                if file.is_file():
                    zipped.write(file, file.relative_to(root).as_posix())
        return buffer.getvalue()


def _write_session_run(
    client: Any, experiment_id: str, root: Path, item: SessionRun, lang: str
) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    run, prepared = item.run, item.prepared
    spec = prepared.spec if prepared is not None else None
    config = RunConfig(spec, run.model_spec, run.train_spec) if spec is not None else None
    tags = run_tags(run.name, run.run_id, run.task)
    tags[f"{TAG_PREFIX}status"] = run.status
    created = client.create_run(experiment_id, run_name=run.name, tags=tags)
    run_id = created.info.run_id
    params = run_params(config, item.data_sha256) if config is not None else {}
    entries = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(entries), 100):
        client.log_batch(run_id, params=entries[start : start + 100])
    rows = epoch_rows(run.history, 0, run.privacy)
    metrics = dict(run.metrics)
    usable = prepared is not None and is_usable(run, prepared)
    if usable and prepared is not None and not metrics:
        metrics = run_metrics(prepared, run)
    if metrics:
        rows.append((run.epochs_trained, final_metrics(metrics)))
    stamp = _millis(run.created_at)
    values = [
        Metric(name, float(value), stamp + step, step)
        for step, row in rows
        for name, value in row.items()
        if np.isfinite(value)
    ]
    for start in range(0, len(values), 1000):
        client.log_batch(run_id, metrics=values[start : start + 1000])
    if config is not None and prepared is not None:
        files = run_files(prepared, run, config, metrics, lang=lang)
        target = root / SESSION_ARTIFACTS / "modeldesk" / run_id / "artifacts"
        repository = LocalArtifactRepository(str(target))
        for name, text in files.items():
            with tempfile.TemporaryDirectory(dir=root.parent) as scratch:
                file = Path(scratch) / Path(name).name
                file.write_text(text, encoding="utf-8")
                parent = str(Path(name).parent)
                repository.log_artifact(str(file), None if parent == "." else parent)
    status = {"finished": "FINISHED", "stopped": "KILLED"}.get(run.status, "FAILED")
    client.set_terminated(run_id, status=status, end_time=stamp + int(run.duration_s * 1000))


def _millis(created_at: str) -> int:
    try:
        return int(pd.Timestamp(created_at).timestamp() * 1000)
    except (ValueError, TypeError):
        return 0
