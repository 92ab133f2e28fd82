"""`python -m core explain BUNDLE FILE [--rows N] [--json] [--global]` (ARCHITECTURE.md).

Shapley attributions of a bundle's predictions for the first N readable rows of FILE, on the
original columns (core.evaluate.explain). A bundle carries no training rows (they stay with
whoever trained it), so the background sample is drawn, with a fixed seed, from FILE's own
readable rows; the base value is the mean prediction over them.

`core/cli/main.py` wires it: `add_explain_command(commands, lang)` adds the subcommand,
`run_explain(args, lang)` runs it and returns the exit code. Bad input prints one line on stderr
and returns 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from core.i18n import UserError, t

EXIT_BAD_INPUT = 2
DEFAULT_ROWS = 5
MAX_ROWS = 10_000


def add_explain_command(
    subparsers: argparse._SubParsersAction, lang: str
) -> argparse.ArgumentParser:
    """Add the `explain` subcommand to a `add_subparsers()` result; return its parser."""
    explain = subparsers.add_parser("explain", help=t("explain.cli.help", lang))
    explain.add_argument("bundle", metavar="BUNDLE", help=t("explain.cli.bundle_help", lang))
    explain.add_argument("file", metavar="FILE", help=t("explain.cli.file_help", lang))
    explain.add_argument(
        "--rows", default=str(DEFAULT_ROWS), metavar="N", help=t("explain.cli.rows_help", lang)
    )
    explain.add_argument("--json", action="store_true", help=t("explain.cli.json_help", lang))
    explain.add_argument(
        "--global",
        dest="global_view",
        action="store_true",
        help=t("explain.cli.global_help", lang),
    )
    return explain


def run_explain(args: argparse.Namespace, lang: str) -> int:
    """Explain the rows named in `args`; print text or JSON; return the exit code."""
    try:
        document, skipped = explain_document(
            Path(args.bundle), Path(args.file), rows=args.rows, lang=lang
        )
    except UserError as error:
        print(f"error: {' '.join(error.text(lang).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.global_view:
        document.pop("global", None)
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    print(document["output"])
    print(document["method"])
    for number, row in enumerate(document["rows"], start=1):
        print(
            t(
                "explain.cli.row",
                lang,
                number=number,
                prediction=f"{row['prediction']:.4g}",
                base=f"{row['base_value']:.4g}",
            )
        )
        ordered = sorted(row["attributions"].items(), key=lambda item: -abs(item[1]))
        for column, value in ordered:
            print(f"  {column}: {value:+.4g}")
    if args.global_view:
        print(t("explain.cli.global", lang, rows=len(document["rows"])))
        for column, value in document["global"].items():
            print(f"  {column}: {value:.4g}")
    if skipped:
        print(f"  ! {t('explain.cli.skipped', lang, count=skipped)}")
    return 0


def explain_document(
    bundle_path: Path, data_path: Path, *, rows: object = DEFAULT_ROWS, lang: str = "en"
) -> tuple[dict[str, Any], int]:
    """The `explain --json` document for the first `rows` readable rows of a file, with its
    "global" mean |attribution| per column, and how many of those rows were unreadable."""
    from core.data.loading import load_path
    from core.deploy.bundle import read_bundle
    from core.evaluate.explain import Explainer, method_text

    count = _row_count(rows)
    for path in (bundle_path, data_path):
        if not path.exists():
            raise UserError("cli.error.not_found", path=str(path))
        if path.is_dir():
            raise UserError("cli.error.is_directory", path=str(path))
    frame = load_path(data_path).frame
    # Read by TensorFlow when it loads: keep its C++ notices off the command's stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    bundle = read_bundle(bundle_path)
    preprocessor = bundle.preprocessor
    check = preprocessor.check_input(frame)
    readable = check.good_rows(frame)
    if len(readable) == 0:
        raise UserError("explain.error.no_rows", file=data_path.name)
    skipped = len(check.bad_positions)
    explainer = Explainer(preprocessor, bundle.model, readable, seed=0)
    explanation = explainer.explain(readable.iloc[:count])
    document = explanation.to_json_dict(lang, target=str(bundle.schema.get("target", "")))
    document["method"] = method_text(explanation.summary(), lang)
    importance = explanation.importance()
    document["global"] = {
        str(column): float(value)
        for column, value in zip(importance["column"], importance["mean_abs"], strict=True)
    }
    return document, skipped


def _row_count(value: object) -> int:
    try:
        count = int(str(value))
    except ValueError:
        raise UserError("explain.error.rows", limit=MAX_ROWS, value=value) from None
    if not 1 <= count <= MAX_ROWS:
        raise UserError("explain.error.rows", limit=MAX_ROWS, value=value)
    return count
