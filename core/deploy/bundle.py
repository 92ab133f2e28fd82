"""The model bundle: one zip with the Keras model, the fitted preprocessing and what describes them.

    bundle.zip
      bundle.json        format, version, task, target, classes, the run's name and status
      model.keras        the trained Keras model
      preprocessing/     Preprocessor.save(): transformer.skops, preprocessing.json, prepare.py
      config.json        the RunConfig (python -m core train --config accepts it)
      metrics.json       held-out test metrics, validation metrics, baselines
      schema.json        input columns: kind, categories, training ranges, defaults
      history.csv        one row per epoch

The Deploy page and `python -m core predict` read it back with `read_bundle` and `predict_frame`;
callers may add files (a model card, a standalone predict.py) through `extra_files`.
TensorFlow is imported only inside the functions that save or load the model.
"""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core import limits
from core.evaluate.metrics import predict_scores, predicted_codes
from core.i18n import DEFAULT_LANGUAGE, UserError
from core.prep.preprocessing import Preprocessor, prepare_frame
from core.private_files import private_dir
from core.train.runner import RunConfig

if TYPE_CHECKING:
    import keras

    from core.prep.pipeline import Prepared
    from core.train.engine import Run

BUNDLE_FORMAT = "modeldesk.bundle"
BUNDLE_VERSION = 1
SCHEMA_FORMAT = "modeldesk.schema"
MANIFEST_FILE = "bundle.json"
MODEL_FILE = "model.keras"
PREPROCESSING_DIR = "preprocessing"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
SCHEMA_FILE = "schema.json"
HISTORY_FILE = "history.csv"
REQUIRED_FILES = (MANIFEST_FILE, MODEL_FILE, CONFIG_FILE, METRICS_FILE, SCHEMA_FILE, HISTORY_FILE)
# Wall-clock columns differ between two runs of the same config; history.csv keeps what repeats.
TIMING_KEYS = frozenset({"time_s"})
MAX_SCHEMA_CATEGORIES = 200  # categories listed per column; a form select beyond that is useless
# Members read as text (JSON, history.csv, predict.py, the card) are capped by
# MODELDESK_MAX_DOCUMENT_MB, far below the whole bundle's MODELDESK_MAX_BUNDLE_MB (zip bombs).
TEXT_SUFFIXES = (".json", ".csv", ".py", ".md", ".txt")
SCHEMA_KINDS = ("numeric", "categorical", "datetime")
PREDICTION_COLUMN = "prediction"
ERROR_COLUMN = "error"


@dataclass(frozen=True, eq=False)
class LoadedBundle:
    """A bundle read back: the model, its fitted preprocessing, and the JSON that describes it."""

    model: keras.Model
    preprocessor: Preprocessor
    config: RunConfig
    schema: dict[str, Any]
    metrics: dict[str, Any]
    history: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """regression, binary or multiclass."""
        return self.preprocessor.spec.task

    @property
    def classes(self) -> list:
        """Class labels in code order (empty for regression)."""
        return list(self.preprocessor.classes_)


def write_bundle(
    path_zip: str | Path,
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """Write the bundle zip of a trained run to `path_zip` (its folder is created if needed)."""
    if run.model is None and run.weights is None:
        raise UserError("evaluation.bundle.error.no_model", status=run.status)
    target = Path(path_zip)
    # Built in a private folder (0700; in memory on a shared server, removed in any case) and
    # moved in whole: a failure leaves nothing half-written, and on a shared
    # server nothing made from the data outside that folder.
    with private_dir("modeldesk-bundle-") as tmp:
        content = Path(tmp) / "content"
        content.mkdir()
        _write_content(content, prepared, run, config, metrics, extra_files or {})
        archive = Path(tmp) / "bundle.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for file in sorted(content.rglob("*")):
                if file.is_file():
                    zipped.write(file, file.relative_to(content).as_posix())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(archive, target)
    return target


def bundle_bytes(
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    extra_files: Mapping[str, str | bytes] | None = None,
) -> bytes:
    """The bundle zip as bytes (for a download button): nothing stays on disk."""
    with private_dir("modeldesk-bundle-") as tmp:
        path = write_bundle(Path(tmp) / "bundle.zip", prepared, run, config, metrics, extra_files)
        return path.read_bytes()


def bundle_from_run(
    prepared: Prepared, run: Run, config: RunConfig, metrics: Mapping[str, Any]
) -> LoadedBundle:
    """A run as the bundle it would export, without the zip: what the Deploy page predicts with."""
    return LoadedBundle(
        model=run.build_model(),
        preprocessor=prepared.preprocessor,
        config=config,
        schema=input_schema(prepared),
        metrics=dict(metrics),
        history=history_frame(run.history),
    )


def export_bundle_bytes(
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    *,
    dataset_name: str = "",
    lang: str = DEFAULT_LANGUAGE,
) -> bytes:
    """The bundle people download: the zip plus predict.py, the model card and requirements.txt."""
    from core.deploy.predict_script import deployment_files

    extras = deployment_files(prepared, run, config, metrics, dataset_name=dataset_name, lang=lang)
    return bundle_bytes(prepared, run, config, metrics, extras)


def read_bundle(path_zip: str | Path) -> LoadedBundle:
    """The bundle at `path_zip`; a missing, foreign or damaged file is a UserError."""
    path = Path(path_zip)
    if not path.is_file():
        raise UserError("evaluation.bundle.error.not_found", path=str(path))
    with private_dir("modeldesk-bundle-") as tmp:
        folder = Path(tmp)
        _unpack(path, folder)
        manifest = _read_json(folder / MANIFEST_FILE, path)
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise UserError("evaluation.bundle.error.not_bundle", path=str(path))
        if manifest.get("version") != BUNDLE_VERSION:
            raise UserError(
                "evaluation.bundle.error.version", path=str(path), version=manifest.get("version")
            )
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise UserError("evaluation.bundle.error.damaged", path=str(path), file=missing[0])
        # Every part is checked (types, sizes, depth) before the model or pipeline is built.
        schema = _check_schema(_read_json(folder / SCHEMA_FILE, path), path)
        metrics = _read_json(folder / METRICS_FILE, path)
        if not isinstance(metrics, dict):
            raise UserError("evaluation.bundle.error.damaged", path=str(path), file=METRICS_FILE)
        history = _read_history(folder / HISTORY_FILE, path)
        try:
            config = RunConfig.from_json((folder / CONFIG_FILE).read_bytes())
        except UserError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError):
            raise UserError(
                "evaluation.bundle.error.damaged", path=str(path), file=CONFIG_FILE
            ) from None
        preprocessor = Preprocessor.load(folder / PREPROCESSING_DIR)
        model = _load_model(folder / MODEL_FILE, path)
        return LoadedBundle(
            model=model,
            preprocessor=preprocessor,
            config=config,
            schema=schema,
            metrics=metrics,
            history=history,
            manifest=manifest,
        )


def predict_frame(
    bundle: LoadedBundle, frame: pd.DataFrame, lang: str = DEFAULT_LANGUAGE
) -> pd.DataFrame:
    """One row per input row: the prediction, each class's probability, and why a row could not
    be predicted ("error", empty when it was). Missing columns raise a UserError."""
    preprocessor = bundle.preprocessor
    check = preprocessor.check_input(frame)
    good = np.ones(len(frame), dtype=bool)
    good[list(check.bad_positions)] = False
    scores = predict_scores(bundle.model, preprocessor.transform(frame.iloc[good]))
    task = bundle.task
    columns: dict[str, np.ndarray] = {}
    if task == "regression":
        values = np.full(len(frame), np.nan)
        values[good] = scores
        columns[PREDICTION_COLUMN] = values
    else:
        classes = preprocessor.classes_
        probabilities = np.column_stack([1 - scores, scores]) if task == "binary" else scores
        labels = np.full(len(frame), None, dtype=object)
        labels[good] = preprocessor.decode_target(predicted_codes(task, scores))
        columns[PREDICTION_COLUMN] = labels
        for code, label in enumerate(classes):
            values = np.full(len(frame), np.nan)
            values[good] = probabilities[:, code] if len(scores) else []
            columns[probability_column(label)] = values
    errors = np.full(len(frame), "", dtype=object)
    for error in check.errors:
        text = error.message.text(lang)
        errors[error.position] = f"{errors[error.position]} {text}".strip()
    columns[ERROR_COLUMN] = errors
    return pd.DataFrame(columns, index=frame.index)


def predictions_csv(table: pd.DataFrame) -> bytes:
    """A predictions table as the CSV the app, the CLI and predict.py write: formulas
    neutralised, UTF-8 with a BOM."""
    from core.export_safety import safe_csv

    return safe_csv(table)


def probability_column(label: object) -> str:
    """The predictions table's column for one class's probability."""
    return f"probability_{label}"


def history_frame(history: Mapping[str, list[float]]) -> pd.DataFrame:
    """One row per epoch: `epoch` (from 1), then each history key except wall-clock timings."""
    keys = [key for key in history if key not in TIMING_KEYS]
    epochs = max((len(history[key]) for key in keys), default=0)
    frame = pd.DataFrame({"epoch": np.arange(1, epochs + 1)})
    for key in keys:
        values = list(history[key]) + [None] * (epochs - len(history[key]))
        frame[key] = pd.Series(values, dtype="float64")
    return frame


def history_csv(history: Mapping[str, list[float]]) -> str:
    """history.csv's text: the same history always gives the same bytes."""
    return history_frame(history).to_csv(index=False, lineterminator="\n")


def input_schema(prepared: Prepared) -> dict[str, Any]:
    """The input columns a prediction needs: kind, categories, training range and a default
    (the training median or most frequent value), from the training split only."""
    spec = prepared.spec
    preprocessor = prepared.preprocessor
    rows = prepared.splits.X_train
    read = prepare_frame(rows, preprocessor.schema_)
    columns = [_column_schema(item, rows[item["name"]], read) for item in preprocessor.schema_]
    schema: dict[str, Any] = {
        "format": SCHEMA_FORMAT,
        "version": BUNDLE_VERSION,
        "target": spec.target,
        "task": spec.task,
        "classes": list(preprocessor.classes_),
        "columns": columns,
        "dropped": [plan.name for plan in spec.columns if plan.action != "keep"],
        "features": list(preprocessor.feature_names_),
    }
    if spec.task == "regression":
        schema["target_range"] = _range(pd.Series(prepared.y_train, dtype="float64"))
    return schema


# --- helpers -----------------------------------------------------------------------------------


def _write_content(
    folder: Path,
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    extra_files: Mapping[str, str | bytes],
) -> None:
    with warnings.catch_warnings():
        # Keras' saver trips numpy 2's __array__(copy=...) deprecation; the file is fine.
        warnings.simplefilter("ignore", DeprecationWarning)
        run.build_model().save(folder / MODEL_FILE)
    prepared.preprocessor.save(folder / PREPROCESSING_DIR)
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "task": prepared.spec.task,
        "target": prepared.spec.target,
        "classes": list(prepared.preprocessor.classes_),
        "run": {
            "name": run.name,
            "status": run.status,
            "epochs_trained": run.epochs_trained,
            "best_epoch": run.best_epoch,
            "created_at": run.created_at,
        },
    }
    texts = {
        MANIFEST_FILE: _json_text(manifest),
        CONFIG_FILE: config.to_json() + "\n",
        METRICS_FILE: _json_text(dict(metrics)),
        SCHEMA_FILE: _json_text(input_schema(prepared)),
        HISTORY_FILE: history_csv(run.history),
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    for name, data in extra_files.items():
        relative = PurePosixPath(name)
        taken = relative.parts[:1] in {(n,) for n in (*texts, MODEL_FILE, PREPROCESSING_DIR)}
        if relative.is_absolute() or ".." in relative.parts or not relative.parts or taken:
            raise ValueError(f"extra file name {name!r} is not a new relative path")
        path = folder.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")


def _column_schema(item: dict, raw: pd.Series, read: pd.DataFrame) -> dict[str, Any]:
    name, kind = item["name"], item["kind"]
    entry: dict[str, Any] = {"name": name, "kind": kind, "missing": int(raw.isna().sum())}
    if kind == "numeric":
        values = read[name].dropna()
        entry.update(_range(values))
        entry["integer"] = bool(len(values) and np.all(values == np.round(values)))
        entry["default"] = float(values.median()) if len(values) else None
    elif kind == "categorical":
        counts = read[name].value_counts(dropna=True, sort=False)
        # Most frequent first; ties by label, so the same rows always give the same list.
        ordered = sorted(counts.items(), key=lambda pair: (-pair[1], str(pair[0])))
        entry["categories"] = [str(label) for label, _ in ordered[:MAX_SCHEMA_CATEGORIES]]
        entry["more_categories"] = len(ordered) > MAX_SCHEMA_CATEGORIES
        entry["default"] = entry["categories"][0] if ordered else None
    else:
        entry["parts"] = list(item["parts"])
        entry["part_ranges"] = {
            part: _range(read[f"{name}::{part}"].dropna()) for part in item["parts"]
        }
    return entry


def _range(values: pd.Series) -> dict[str, float | None]:
    values = values.dropna()
    if values.empty:
        return {"min": None, "max": None}
    return {"min": float(values.min()), "max": float(values.max())}


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle", ".npy")


def _unpack(path: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zipped:
            members = zipped.infolist()
            if sum(info.file_size for info in members) > limits.max_bundle_bytes():
                raise UserError("evaluation.bundle.error.not_bundle", path=str(path))
            for info in members:
                text = info.filename.lower().endswith(TEXT_SUFFIXES)
                if text and info.file_size > limits.max_document_bytes():
                    raise UserError(
                        "hostile.error.document_too_large",
                        what=info.filename,
                        size_mb=f"{info.file_size / 1024**2:.1f}",
                        limit_mb=f"{limits.max_document_bytes() / 1024**2:g}",
                    )
            # A bundle is data: a pickled file in it (ours never has one) means tampering.
            planted = [n for n in zipped.namelist() if n.lower().endswith(PICKLE_SUFFIXES)]
            if planted:
                raise UserError("evaluation.bundle.error.damaged", path=str(path), file=planted[0])
            # extractall drops absolute paths and "..", so nothing lands outside the folder.
            zipped.extractall(folder)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UserError("evaluation.bundle.error.not_bundle", path=str(path)) from None


def _read_json(file: Path, bundle: Path) -> Any:
    try:
        return limits.loads(file.read_bytes(), what=file.name)
    except FileNotFoundError:
        raise UserError("evaluation.bundle.error.not_bundle", path=str(bundle)) from None
    except (OSError, ValueError):
        raise UserError(
            "evaluation.bundle.error.damaged", path=str(bundle), file=file.name
        ) from None


def _check_schema(schema: Any, bundle: Path) -> dict[str, Any]:
    """schema.json as the Deploy page and predict use it: a dict whose columns are dicts naming a
    column and its kind; anything else is a damaged bundle, said before any of it is used."""
    columns = schema.get("columns") if isinstance(schema, dict) else None
    ok = (
        isinstance(schema, dict)
        and schema.get("format") == SCHEMA_FORMAT
        and isinstance(schema.get("target"), str)
        and isinstance(schema.get("task"), str)
        and isinstance(schema.get("classes", []), list)
        and isinstance(columns, list)
        and len(columns) <= limits.max_columns()
        and all(
            isinstance(column, dict)
            and isinstance(column.get("name"), str)
            and column.get("kind") in SCHEMA_KINDS
            and isinstance(column.get("categories", []), list)
            and isinstance(column.get("parts", []), list)
            for column in columns
        )
    )
    if not ok:
        raise UserError("evaluation.bundle.error.damaged", path=str(bundle), file=SCHEMA_FILE)
    return schema


def _read_history(file: Path, bundle: Path) -> pd.DataFrame:
    """history.csv (its size already capped by _unpack); unreadable is a damaged bundle."""
    try:
        history = pd.read_csv(file)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError):
        raise UserError(
            "evaluation.bundle.error.damaged", path=str(bundle), file=HISTORY_FILE
        ) from None
    limits.check_table_size(HISTORY_FILE, history.shape[0], history.shape[1])
    return history


def _load_model(file: Path, bundle: Path) -> keras.Model:
    import keras

    try:
        return keras.saving.load_model(file, compile=False, safe_mode=True)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        raise UserError(
            "evaluation.bundle.error.damaged", path=str(bundle), file=MODEL_FILE
        ) from None
