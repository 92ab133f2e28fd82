"""One training run, the same for the page and the CLI: a config, prepared data, a job."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core import limits
from core.i18n import UserError
from core.prep.pipeline import Prepared
from core.prep.preprocessing import PreprocessSpec, default_spec
from core.private_files import shared_deployment
from core.train.engine import Job, JobLimiter, Run, TrainingJob, TrainSpec
from core.train.models import ModelSpec

CONFIG_VERSION = 1
CONFIG_FORMAT = "modeldesk.run_config"


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run: preprocessing, model and training specs (seeds included)."""

    preprocess: PreprocessSpec
    model: ModelSpec
    train: TrainSpec

    def to_json(self) -> str:
        """The config the page downloads and `python -m core train --config` accepts."""
        data = {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "preprocess": json.loads(self.preprocess.to_json()),
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunConfig:
        """The config a JSON text describes; anything malformed is a UserError that names it."""
        try:
            data = limits.loads(text, what="config")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError("runner.error.config_not_json") from None
        if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
            raise UserError("runner.error.config_not_config")
        if data.get("version") != CONFIG_VERSION:
            raise UserError("runner.error.config_version", version=str(data.get("version")))
        missing = [key for key in ("preprocess", "model", "train") if key not in data]
        if missing:
            raise UserError("runner.error.config_missing", field=missing[0])
        return cls(
            preprocess=PreprocessSpec.from_json(json.dumps(data["preprocess"])),
            model=ModelSpec.from_dict(_object(data["model"], "model")),
            train=TrainSpec.from_dict(_object(data["train"], "train")),
        )

    def with_seed(self, seed: int) -> RunConfig:
        """The same config with one seed for the split and for training."""
        return replace(
            self,
            preprocess=replace(self.preprocess, seed=seed),
            train=replace(self.train, seed=seed),
        )


def default_model_spec() -> ModelSpec:
    """A small MLP (32 and 16 ReLU units) with L2 1e-2 and dropout 0.1: quick, and as good as a
    regularised logistic regression on the samples (bench/default_model.py); without L2 it
    overfit breast_cancer by 2-4 test rows. Dropout 0.1 keeps it level with linear regression on
    small, noisy tables (diabetes, 442 rows: 5-fold CV R² 0.446 without it, 0.478 with it, linear
    0.487; bench/quality.py)."""
    return ModelSpec(l2=1e-2, dropout=0.1)


def default_train_spec(seed: int = 0) -> TrainSpec:
    """Adam at 1e-3, batches of 32, up to 200 epochs with early stopping on validation loss."""
    return TrainSpec(epochs=200, early_stopping=True, patience=10, restore_best=True, seed=seed)


def default_config(frame: pd.DataFrame, target: str, seed: int = 0) -> RunConfig:
    """The config a user gets without touching a control: default plan, model and training."""
    preprocess = replace(default_spec(frame, target), seed=seed)
    return RunConfig(preprocess, default_model_spec(), default_train_spec(seed))


def start_training(
    prepared: Prepared,
    model: ModelSpec,
    train: TrainSpec,
    *,
    limiter: JobLimiter | None = None,
    name: str = "",
    owner: str | None = None,
    workers: int = 1,
) -> Job:
    """Start a background training job on prepared splits (the caller polls or joins it).

    The backend: a thread here; a Ray task when MODELDESK_RAY_ADDRESS is set; `workers` > 1
    local processes training one model data-parallel (core.train.multiworker). With an `owner`
    (a browser session), the limiter admits the job first: one queued or running job per
    owner, a capped queue, and the job is stopped when the owner goes silent (UserError when
    refused; nothing is started then).
    """
    n_classes = len(prepared.preprocessor.classes_)
    options: dict = {}
    job_class: type[Job] = TrainingJob
    if workers != 1:
        from core.train.multiworker import MultiWorkerJob

        job_class, options = MultiWorkerJob, {"workers": workers}
    elif os.environ.get("MODELDESK_RAY_ADDRESS", "").strip():
        # Jobs run on a Ray cluster (core.train.cluster); unset, Ray is never imported.
        from core.train.cluster import ClusterTrainingJob

        job_class = ClusterTrainingJob
    job = job_class(
        model,
        train,
        prepared.spec.task,
        n_classes,
        prepared.X_train,
        prepared.y_train,
        prepared.X_val,
        prepared.y_val,
        limiter=limiter,
        name=name,
        **options,
    )
    if limiter is not None and owner is not None:
        limiter.admit(job, owner)
    return job.start()


def _object(value: object, field: str) -> dict:
    if not isinstance(value, dict):
        raise UserError("runner.error.config_missing", field=field)
    return value


def first_model_setup() -> tuple:
    """The classic first model: y = 2x + 1 sample, x left unscaled, one Dense unit, SGD on MSE.

    Returns (dataset, preprocess spec, model spec, train spec). x stays unscaled so the learned
    weight and bias are the line's own 2 and 1, which the page shows converging.
    """
    from core.data.loading import load_sample
    from core.train.engine import first_train_spec
    from core.train.models import first_model_spec

    dataset = load_sample("line")
    spec = default_spec(dataset.frame, dataset.target_suggestion or "y", "regression")
    plans = tuple(replace(plan, scale="none", add_indicator=False) for plan in spec.columns)
    spec = replace(spec, columns=plans)
    return dataset, spec, first_model_spec(), first_train_spec()


RUNS_FOLDER = "runs"  # the one folder, under the working folder, the app saves runs in


def runs_folder(name: str, *, base: str | os.PathLike | None = None) -> Path:
    """The folder the Train page saves runs in: `name` (empty: the folder itself) inside
    ./runs/ under `base` (the working folder). A name with "..", an absolute path, a home
    folder (~) or a link that leads out of ./runs/ is a UserError: the name comes from a visitor."""
    root = Path(base if base is not None else Path.cwd()).resolve() / RUNS_FOLDER
    text = (name or "").strip()
    relative = Path(text.replace("\\", "/"))
    refused = (
        relative.is_absolute()
        or text.startswith(("~", "/", "\\"))
        or ".." in relative.parts
        or (len(text) > 1 and text[1] == ":")  # a Windows drive
        or "\x00" in text
    )
    target = root
    if not refused:
        target = (root / relative).resolve()  # follows links: one leading out is refused
        refused = root.resolve() != root or not (target == root or root in target.parents)
    if refused:
        raise UserError("runner.error.runs_folder", name=text, root=f"{RUNS_FOLDER}/")
    return target


def save_runs(runs: list[Run], folder: str | os.PathLike) -> list[Path]:
    """Write each run into folder/<run_id>/ (run.json and weights.npz); refused when shared."""
    if shared_deployment():
        raise UserError("runner.error.shared_no_disk")
    root = Path(folder).expanduser()
    written = []
    try:
        for run in runs:
            target = root / run.run_id
            target.mkdir(parents=True, exist_ok=True)
            (target / "run.json").write_text(
                json.dumps(run.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8"
            )
            weights = run.weights if run.weights is not None else []
            np.savez(target / "weights.npz", *weights)
            written.append(target)
    except OSError as error:
        raise UserError(
            "runner.error.save_failed", folder=str(root), reason=error.strerror or ""
        ) from error
    return written


def load_runs(folder: str | os.PathLike) -> list[Run]:
    """Runs saved by save_runs, weights included."""
    runs = []
    for target in sorted(Path(folder).glob("*/run.json")):
        data = json.loads(target.read_text(encoding="utf-8"))
        with np.load(target.parent / "weights.npz") as archive:
            weights = [archive[f"arr_{i}"] for i in range(len(archive.files))]
        runs.append(Run.from_dict(data, weights or None))
    return runs


def audit_details(item: RunConfig | PreprocessSpec) -> dict:
    """A config or preprocessing spec for the audit trail: its JSON without translated reasons."""
    data = json.loads(item.to_json())
    columns = (data.get("preprocess") or data).get("columns", [])
    for column in columns:
        column.pop("reason", None)
    return data
