"""`python -m core export BUNDLE --format saved_model|onnx --out PATH` (ARCHITECTURE.md).

The bundle's raw-row graph (core.deploy.graph): a SavedModel folder whose `serving_default`
signature `tensorflow_model_server` loads as is, or the same graph as an ONNX file (needs the
optional requirements-onnx.txt). Bad input prints one line on stderr and returns 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from core.i18n import UserError, t

EXIT_BAD_INPUT = 2
FORMATS = ("saved_model", "onnx")


def add_export_command(
    subparsers: argparse._SubParsersAction, lang: str
) -> argparse.ArgumentParser:
    """Add the `export` subcommand to a `add_subparsers()` result; return its parser."""
    export = subparsers.add_parser("export", help=t("serve.cli.export_help", lang))
    export.add_argument("bundle", metavar="BUNDLE", help=t("cli.bundle.help", lang))
    export.add_argument(
        "--format", required=True, choices=FORMATS, help=t("serve.cli.format_help", lang)
    )
    export.add_argument(
        "--out", required=True, metavar="PATH", help=t("serve.cli.export_out_help", lang)
    )
    return export


def run_export(args: argparse.Namespace, lang: str) -> int:
    """Export the bundle named in `args`; return the exit code."""
    try:
        path, inputs = export_bundle(Path(args.bundle), args.format, Path(args.out))
    except UserError as error:
        print(f"error: {' '.join(error.text(lang).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(t("serve.cli.exported", lang, format=args.format, path=str(path), inputs=inputs))
    return 0


def export_bundle(bundle_path: Path, fmt: str, out: Path) -> tuple[Path, str]:
    """Write the export; (where, the signature's input keys as text). UserError on bad input."""
    from core.deploy.onnx_export import onnx_available

    if not bundle_path.is_file():
        raise UserError("evaluation.bundle.error.not_found", path=str(bundle_path))
    if fmt == "onnx" and not onnx_available():
        raise UserError("serve.error.onnx_missing")
    if out.exists() and (fmt == "onnx" or not out.is_dir() or any(out.iterdir())):
        raise UserError("serve.error.out_exists", path=str(out))
    quiet_tensorflow()
    from core.deploy.bundle import read_bundle
    from core.deploy.graph import raw_row_plan, save_saved_model
    from core.deploy.onnx_export import onnx_bytes

    bundle = read_bundle(bundle_path)
    plan = raw_row_plan(bundle.preprocessor)
    try:
        if fmt == "saved_model":
            save_saved_model(bundle.preprocessor, bundle.model, out)
        else:
            data = onnx_bytes(bundle.preprocessor, bundle.model)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
    except OSError as error:
        raise UserError(
            "cli.error.cannot_write", path=str(out), reason=error.strerror or str(error)
        ) from None
    return out, ", ".join(f"{i.key} ({i.dtype})" for i in plan.inputs)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's and Keras' logs off the command's output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for module in ("tensorflow", "keras", "absl", "tf2onnx"):
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?$")
        logging.getLogger(module).setLevel(logging.ERROR)
