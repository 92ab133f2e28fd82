"""The text files a bundle carries for life outside ModelDesk: predict.py, the model card, and
the requirements they need.

predict.py imports only the standard library, numpy, pandas, skops, scikit-learn and Keras (plus
the bundle's own preprocessing/prepare.py), never this package, and predicts exactly what
`core.deploy.bundle.predict_frame` does: the same pandas step, the same fitted transformer, the same
model call, the same per-row errors, the same spreadsheet-safe CSV.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.data.loading import SUPPORTED_EXTENSIONS, extensions_for
from core.evaluate.membership import privacy_lines
from core.evaluate.metrics import LOWER_IS_BETTER, metric_names
from core.export_safety import FORMULA_STARTS, QUOTE, markdown_text
from core.i18n import DEFAULT_LANGUAGE, t
from core.train.models import PREDICT_BATCH

if TYPE_CHECKING:
    from core.prep.pipeline import Prepared
    from core.train.engine import Run
    from core.train.runner import RunConfig

PREDICT_FILE = "predict.py"
CARD_FILE = "README.md"
REQUIREMENTS_FILE = "requirements.txt"
# What predict.py needs, by distribution name; TensorFlow is Keras' backend.
RUNTIME_PACKAGES = ("keras", "numpy", "pandas", "scikit-learn", "skops", "openpyxl", "pyarrow")
TENSORFLOW_LINES = (
    'tensorflow-cpu=={version}; sys_platform == "linux" and platform_machine == "x86_64"',
    'tensorflow=={version}; sys_platform != "linux" or platform_machine != "x86_64"',
)


def deployment_files(
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    *,
    dataset_name: str = "",
    lang: str = DEFAULT_LANGUAGE,
) -> dict[str, str | bytes]:
    """predict.py, README.md (the model card) and requirements.txt, for `write_bundle`'s
    extra_files; plus the raw-row graph for serving without Python: saved_model/ (TensorFlow
    Serving) and model.onnx when the optional converter is installed (core.deploy.graph)."""
    from core.deploy.graph_exports import graph_files

    return {
        PREDICT_FILE: predict_source(),
        CARD_FILE: model_card(prepared, run, config, metrics, dataset_name=dataset_name, lang=lang),
        REQUIREMENTS_FILE: requirements_text(),
        **graph_files(prepared.preprocessor, run.build_model()),
    }


def predict_source() -> str:
    """The bundle's standalone predict.py."""
    neutraliser = textwrap.dedent(inspect.getsource(_safe_cell))
    return (
        _PREDICT_TEMPLATE.replace("__BATCH__", str(PREDICT_BATCH))
        .replace("__FORMULA_STARTS__", repr(FORMULA_STARTS))
        .replace("__QUOTE__", repr(QUOTE))
        .replace("__NEUTRALISER__", neutraliser.replace("def _safe_cell", "def safe_cell"))
        .replace("__FORMATS__", ", ".join(SUPPORTED_EXTENSIONS))
        .replace("__EXCEL__", repr(extensions_for("excel")))
        .replace("__PARQUET__", repr(extensions_for("parquet")))
        .replace("__JSONL__", repr(extensions_for("jsonl")))
        .replace("__JSON__", repr(extensions_for("json")))
        .replace("__CSV__", repr(extensions_for("csv")))
    )


def requirements_text() -> str:
    """Pinned versions of what predict.py imports, as installed where the model was trained."""
    lines = ["# What predict.py needs (the versions that trained this model)."]
    version = _version("tensorflow-cpu") or _version("tensorflow")
    if version:
        lines += [line.format(version=version) for line in TENSORFLOW_LINES]
    for name in RUNTIME_PACKAGES:
        found = _version(name)
        lines.append(f"{name}=={found}" if found else name)
    return "\n".join(lines) + "\n"


def model_card(
    prepared: Prepared,
    run: Run,
    config: RunConfig,
    metrics: Mapping[str, Any],
    *,
    dataset_name: str = "",
    lang: str = DEFAULT_LANGUAGE,
) -> str:
    """README.md: model details, intended use, data, metrics, limitations, how to run it."""

    def tr(key: str, **params: object) -> str:
        return t(f"deploy.card.{key}", lang, **params)

    spec, task = prepared.spec, prepared.spec.task
    model, train = config.model, config.train
    splits = prepared.splits
    task_name = t(f"preprocess.task.name.{task}", lang)
    layers = ", ".join(str(units) for units in model.hidden_layers) if model.hidden_layers else "-"
    # Every user-derived string (names, labels, columns) is escaped: a name must not inject
    # Markdown, HTML, links or images into the card.
    classes = ", ".join(_md(label) for label in prepared.preprocessor.classes_) or "-"
    test_rows = len(splits.y_test)
    inputs = [item["name"] for item in prepared.preprocessor.schema_]
    dropped = [plan.name for plan in spec.columns if plan.action != "keep"]
    lines = [
        f"# {tr('title', name=_md(run.name or spec.target))}",
        "",
        tr("intro"),
        "",
        f"## {tr('details')}",
        "",
        f"- {tr('task')}: {task_name}",
        f"- {tr('target')}: {_md(spec.target)}",
        f"- {tr('classes')}: {classes}",
        f"- {tr('architecture', kind=model.kind, layers=layers, activation=model.activation)}",
        f"- {tr('regularisation', dropout=model.dropout, l2=model.l2)}",
        f"- {tr('training', optimizer=train.optimizer, lr=train.learning_rate)}",
        f"- {tr('epochs', epochs=run.epochs_trained, best=run.best_epoch or '-')}",
        f"- {tr('status', status=run.status, created=run.created_at, seed=train.seed)}",
        "",
        f"## {tr('intended_use')}",
        "",
        tr("intended_use_text", target=_md(spec.target), task=task_name),
        "",
        f"## {tr('data')}",
        "",
        f"- {tr('dataset', name=_md(dataset_name or '-'))}",
        f"- {tr('rows', train=len(splits.y_train), val=len(splits.y_val), test=test_rows)}",
        f"- {tr('inputs', columns=', '.join(_md(name) for name in inputs))}",
        f"- {tr('dropped', columns=', '.join(_md(name) for name in dropped) or '-')}",
        "",
        f"## {tr('metrics')}",
        "",
        *_metrics_table(task, metrics, lang),
        "",
        *_trivial_line(prepared, run, metrics, lang),
        *_privacy_section(metrics, lang),
        f"## {tr('limitations')}",
        "",
        *(f"- {tr(f'limitation.{name}')}" for name in ("range", "categories", "drift", "fairness")),
        "",
        f"## {tr('usage')}",
        "",
        "```",
        "pip install -r requirements.txt",
        "python predict.py INPUT.csv PREDICTIONS.csv",
        "```",
        "",
        tr("usage_text"),
        "",
    ]
    return "\n".join(lines)


# --- helpers -----------------------------------------------------------------------------------


def _safe_cell(value):
    # A cell a spreadsheet would run as a formula gets a leading quote; plain numbers stay.
    import re

    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", value):
        return value
    return QUOTE + value


def _trivial_line(prepared: Prepared, run: Run, metrics: Mapping[str, Any], lang: str) -> list[str]:
    """The card says so when the model is no better than the majority class or the mean."""
    from core.evaluate.metrics import run_trivial_verdict

    baselines = metrics.get("baselines")
    if getattr(run, "weights", None) is None or not baselines:
        return []
    verdict = run_trivial_verdict(prepared, run, baselines)
    return [] if verdict is None else [f"> {verdict.text(lang)}", ""]


def _metrics_table(task: str, metrics: Mapping[str, Any], lang: str) -> list[str]:
    baselines = dict(metrics.get("baselines") or {})
    validation = dict(metrics.get("validation") or {})
    header = [
        t("deploy.card.metric", lang),
        t("deploy.card.test", lang),
        t("deploy.card.validation", lang),
        *(t(f"evaluation.baseline.{name}", lang) for name in baselines),
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in metric_names(task):
        label = t(f"evaluation.metric.{name}", lang) + (" ↓" if name in LOWER_IS_BETTER else "")
        cells = [metrics.get(name), validation.get(name)]
        cells += [values.get(name) for values in baselines.values()]
        rows.append("| " + " | ".join([label, *(_number(v) for v in cells)]) + " |")
    return rows


def _privacy_section(metrics: Mapping[str, Any], lang: str) -> list[str]:
    # DP-SGD's ε and δ, and the membership-inference audit (metrics.json's privacy block).
    if not metrics.get("privacy"):
        return []
    lines = privacy_lines(dict(metrics["privacy"]), lang)
    return [f"## {t('dp.card.section', lang)}", "", *(f"- {line}" for line in lines), ""]


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def _md(text: object) -> str:
    # User data shown as text: no HTML, links, images, tables or code (core.export_safety).
    return markdown_text(text)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


_PREDICT_TEMPLATE = '''\
"""Predict with this model, without ModelDesk (written by ModelDesk).

    pip install -r requirements.txt
    python predict.py INPUT OUTPUT.csv

INPUT is a table file (__FORMATS__) with the columns listed
in schema.json (extra columns are ignored). OUTPUT.csv gets one row per input row: "prediction",
each class's probability ("probability_<class>", classifiers only) and "error" (why that row
could not be predicted; the other rows still are). Exit status 2 with one line on stderr when
the input can't be used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREPROCESSING = HERE / "preprocessing"
BATCH = __BATCH__
FORMULA_STARTS = __FORMULA_STARTS__
QUOTE = __QUOTE__
EXIT_BAD_INPUT = 2


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return fail("usage: python predict.py INPUT OUTPUT.csv")
    source, target = Path(argv[0]), Path(argv[1])
    if not source.is_file():
        return fail(f"the input file '{source}' does not exist; give the path of a data file")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up notes quiet
    frame = read_table(source)
    if frame is None:
        return fail(f"'{source}' can't be read as a table; save it as CSV (UTF-8) and try again")
    metadata = json.loads((PREPROCESSING / "preprocessing.json").read_text(encoding="utf-8"))
    schema = metadata["schema"]
    missing = [item["name"] for item in schema if item["name"] not in frame.columns]
    if missing:
        return fail(f"the input lacks column(s) the model needs: {', '.join(missing)}")
    table = predict(frame, schema, metadata["classes"], metadata["spec"]["task"])
    table = table.map(safe_cell)
    table.columns = [safe_cell(name) for name in table.columns]
    table.to_csv(target, index=False, lineterminator="\\n", encoding="utf-8-sig")
    bad = int((table["error"] != "").sum())
    print(f"wrote {len(table)} predictions to {target} ({bad} row(s) could not be predicted)")
    return 0


def predict(frame, schema: list[dict], classes: list, task: str):
    """One row per input row: prediction, class probabilities, error."""
    import keras
    import numpy as np
    import pandas as pd
    import skops.io as sio

    prepare_frame = load_prepare()
    read = prepare_frame(frame, schema)
    errors = np.full(len(frame), "", dtype=object)
    for item in schema:
        if item["kind"] == "categorical":
            continue  # any text is a category; unseen ones count as "other"
        name = item["name"]
        column = f"{name}::{item['parts'][0]}" if item["kind"] == "datetime" else name
        what = "a number" if item["kind"] == "numeric" else "a date"
        unreadable = frame[name].notna().to_numpy() & read[column].isna().to_numpy()
        for position in np.flatnonzero(unreadable):
            value = str(frame[name].iloc[position])[:60]
            text = f'Row {position + 1}: "{value}" in column "{name}" isn\\'t {what}.'
            errors[position] = f"{errors[position]} {text}".strip()
    good = errors == ""
    # Data, never code: skops refuses any type beyond scikit-learn's and these two, and Keras'
    # safe mode refuses a model that would run code (Lambda layers) when loaded.
    file = PREPROCESSING / "transformer.skops"
    untrusted = set(sio.get_untrusted_types(file=file)) - {"numpy.clip", "numpy.dtype"}
    if untrusted:
        raise SystemExit(fail(f"refusing preprocessing with untrusted types {sorted(untrusted)}"))
    transformer = sio.load(file, trusted=["numpy.clip", "numpy.dtype"])
    model = keras.saving.load_model(HERE / "model.keras", compile=False, safe_mode=True)
    rows = frame.iloc[good]
    if len(rows):
        X = np.asarray(transformer.transform(prepare_frame(rows, schema)), dtype=np.float32)
        scores = np.asarray(model.predict(X, batch_size=BATCH, verbose=0), dtype=np.float64)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
    else:
        scores = np.empty((0,) if task != "multiclass" else (0, len(classes)))
    columns = {}
    if task == "regression":
        values = np.full(len(frame), np.nan)
        values[good] = scores
        columns["prediction"] = values
    else:
        probabilities = np.column_stack([1 - scores, scores]) if task == "binary" else scores
        if task == "binary":
            codes = (scores >= 0.5).astype(np.int64)
        else:
            codes = np.argmax(scores, axis=1).astype(np.int64) if len(scores) else []
        labels = np.full(len(frame), None, dtype=object)
        labels[good] = np.array(classes, dtype=object)[np.asarray(codes, dtype=np.int64)]
        columns["prediction"] = labels
        for code, label in enumerate(classes):
            values = np.full(len(frame), np.nan)
            values[good] = probabilities[:, code] if len(scores) else []
            columns[f"probability_{label}"] = values
    columns["error"] = errors
    return pd.DataFrame(columns)


def read_table(path: Path):
    """The file as a DataFrame by its extension, or None when it can't be read."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in __EXCEL__:
            return pd.read_excel(path)
        if suffix in __PARQUET__:
            return pd.read_parquet(path)
        if suffix in __JSON__:
            return pd.read_json(path)
        if suffix in __JSONL__:
            return pd.read_json(path, lines=True)
        if suffix not in __CSV__:
            return None
        sep = "\\t" if suffix == ".tsv" else None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(path, sep=sep, engine="python", encoding=encoding)
            except UnicodeDecodeError:
                continue
    except (ValueError, OSError, ImportError):
        return None
    return None


def load_prepare():
    """prepare_frame from preprocessing/prepare.py, loaded by path (no sys.path changes)."""
    spec = importlib.util.spec_from_file_location("bundle_prepare", PREPROCESSING / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.prepare_frame


__NEUTRALISER__

def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''
