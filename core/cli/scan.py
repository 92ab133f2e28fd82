"""`python -m core scan FILE [--json] [--sensitive COL] [--quasi COL,...]` (ARCHITECTURE.md).

`core/cli/main.py` wires it: `add_scan_command(commands, lang)` adds the subcommand,
`run_scan(args, lang)` runs it and returns the exit code. Bad input (a missing or unreadable
file, an unknown column) prints one line on stderr and returns 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.data.loading import formats_text
from core.i18n import UserError, t

EXIT_BAD_INPUT = 2


def add_scan_command(subparsers: argparse._SubParsersAction, lang: str) -> argparse.ArgumentParser:
    """Add the `scan` subcommand to a `add_subparsers()` result; return its parser."""
    scan = subparsers.add_parser("scan", help=t("compliance.cli.help", lang))
    scan.add_argument("file", help=t("compliance.cli.file_help", lang, formats=formats_text()))
    scan.add_argument("--json", action="store_true", help=t("compliance.cli.json_help", lang))
    scan.add_argument("--sensitive", metavar="COL", help=t("compliance.cli.sensitive_help", lang))
    scan.add_argument("--quasi", metavar="COL,COL,...", help=t("compliance.cli.quasi_help", lang))
    scan.add_argument(
        "--k", type=int, default=5, metavar="K", help=t("compliance.cli.k_help", lang)
    )
    return scan


def run_scan(args: argparse.Namespace, lang: str) -> int:
    """Scan the file named in `args`; print text or JSON; return the exit code."""
    try:
        report = scan_report(
            Path(args.file),
            sensitive=args.sensitive,
            quasi=args.quasi,
            k=getattr(args, "k", 5),
        )
    except UserError as error:
        print(f"error: {' '.join(error.text(lang).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(_text(report, lang))
    return 0


def scan_report(
    path: Path, *, sensitive: str | None = None, quasi: str | None = None, k: int = 5
) -> dict:
    """The `scan --json` document for a file (UserError on bad input)."""
    from core.compliance.anonymity import k_anonymity, l_diversity, suggest_quasi_identifiers
    from core.compliance.fairness import representation
    from core.compliance.privacy import scan_frame
    from core.data.loading import load_path

    if not path.exists():
        raise UserError("cli.error.not_found", path=str(path))
    if path.is_dir():
        raise UserError("cli.error.is_directory", path=str(path))
    if k < 1:
        raise UserError("compliance.cli.bad_k", k=k)
    quasi_columns = [name.strip() for name in (quasi or "").split(",") if name.strip()]
    if quasi is not None and not quasi_columns:
        raise UserError("compliance.cli.empty_quasi")
    dataset = load_path(path)
    frame = dataset.frame
    wanted = [*quasi_columns, *([sensitive] if sensitive is not None else [])]
    unknown = [name for name in wanted if name not in frame.columns]
    if unknown:
        raise UserError(
            "compliance.cli.unknown_columns",
            columns=", ".join(unknown),
            available=", ".join(str(name) for name in frame.columns[:30]),
        )
    if sensitive is not None and sensitive in quasi_columns:
        raise UserError("anonymity.error.sensitive_is_quasi", column=sensitive)
    scan = scan_frame(frame)
    report = {
        "file": path.name,
        "sha256": dataset.sha256,
        **scan.to_dict(),
        "quasi_identifier_suggestions": [s.to_dict() for s in suggest_quasi_identifiers(frame)],
    }
    if sensitive is not None:
        report["representation"] = {
            "column": sensitive,
            "groups": [share.to_dict() for share in representation(frame[sensitive])],
        }
    if quasi_columns:
        report["k_anonymity"] = k_anonymity(frame, quasi_columns, k).to_dict()
        if sensitive is not None:
            report["l_diversity"] = l_diversity(frame, quasi_columns, sensitive).to_dict()
    return report


def _text(report: dict, lang: str) -> str:
    from core.compliance.privacy import category_key

    lines = [
        t(
            "compliance.cli.summary",
            lang,
            name=report["file"],
            rows=report["rows"],
            cols=len(report["columns"]),
        )
    ]
    if report["sampled"]:
        lines.append(f"  ! {t('privacy.scan.sampled', lang, sample=report['sample_size'])}")
    flagged = [
        c for c in report["columns"] if c["entities"] or c["sensitive"] or c["quasi_identifier"]
    ]
    if not flagged:
        lines.append("  " + t("compliance.cli.nothing_found", lang))
    for column in flagged:
        found = [
            t(
                "compliance.cli.entity",
                lang,
                type=t(f"privacy.entity.{entity['type'].lower()}", lang),
                match=entity["match_rate"],
                valid=entity["valid_rate"],
            )
            for entity in column["entities"]
        ]
        found += [t(category_key(finding["category"]), lang) for finding in column["sensitive"]]
        found += [t("special.quasi.region", lang) for _ in column["quasi_identifier"]]
        lines.append(f"  {column['name']}: {'; '.join(found)}")
    suggestions = report["quasi_identifier_suggestions"]
    if suggestions:
        names = ", ".join(item["column"] for item in suggestions)
        lines.append(t("compliance.cli.quasi_suggested", lang, columns=names))
    if "representation" in report:
        groups = ", ".join(
            f"{group['group']} {group['share']:.0%}" for group in report["representation"]["groups"]
        )
        lines.append(
            t(
                "compliance.cli.representation",
                lang,
                column=report["representation"]["column"],
                groups=groups,
            )
        )
    if "k_anonymity" in report:
        k = report["k_anonymity"]
        lines.append(
            t(
                "anonymity.k.summary",
                lang,
                k=k["k"],
                target=k["target_k"],
                below=k["share_below_k"],
                unique=k["unique_share"],
                columns=", ".join(k["quasi_identifiers"]),
            )
        )
    if "l_diversity" in report:
        item = report["l_diversity"]
        lines.append(
            t(
                "anonymity.l.summary",
                lang,
                l=item["l"],
                target=item["target_l"],
                sensitive=item["sensitive"],
                below=item["share_below_l"],
            )
        )
    return "\n".join(lines)
