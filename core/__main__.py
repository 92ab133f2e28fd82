"""The command-line twin of the app: python -m core profile FILE [--json].

Exit 0 on success; exit 2 on bad input with one line on stderr saying what is wrong and what to
do. Messages follow the LANG environment variable (zh_* gives Chinese).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from core.i18n import UserError, language_from_locale, t

EXIT_BAD_INPUT = 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line instead of usage text plus a message."""

    def error(self, message: str) -> NoReturn:
        hint = t("cli.usage_hint", _cli_lang(), prog=self.prog)
        self.exit(EXIT_BAD_INPUT, f"error: {message}. {hint}\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    lang = _cli_lang()
    parser = _OneLineParser(prog="python -m core", description=t("cli.description", lang))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    profile = commands.add_parser("profile", help=t("cli.profile.help", lang))
    profile.add_argument("file", help=t("cli.file.help", lang))
    profile.add_argument("--json", action="store_true", help=t("cli.json.help", lang))
    args = parser.parse_args(argv)
    try:
        if args.command == "profile":
            return _profile(Path(args.file), as_json=args.json, lang=lang)
    except UserError as error:
        print(f"error: {error.text(lang)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    raise AssertionError(f"unhandled command {args.command}")  # argparse only allows known ones


def _profile(path: Path, *, as_json: bool, lang: str) -> int:
    from core.data import load_path
    from core.profile import profile_frame

    _check_readable(path)
    dataset = load_path(path)
    profile = profile_frame(dataset.frame)
    if as_json:
        print(json.dumps(profile.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(t("cli.profile.summary", lang, name=dataset.name, rows=profile.rows, cols=len(profile.columns)))
    for notice in dataset.notices:
        print(f"  ! {notice.text(lang)}")
    width = min(40, max((len(c.name) for c in profile.columns), default=4))
    for column in profile.columns:
        role = t(f"profile.role.{column.role}", lang)
        print(
            f"  {column.name[:width]:<{width}}  {role:<12} {column.dtype:<10} "
            f"{t('cli.profile.missing', lang)}={column.missing:<8} "
            f"{t('cli.profile.unique', lang)}={column.unique}"
        )
    for alert in profile.alerts:
        print(f"  * {alert.message.text(lang)}")
    return 0


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError("cli.error.not_found", path=str(path))
    if path.is_dir():
        raise UserError("cli.error.is_directory", path=str(path))


def _cli_lang() -> str:
    return language_from_locale(os.environ.get("LC_ALL") or os.environ.get("LANG"))


if __name__ == "__main__":
    sys.exit(main())
