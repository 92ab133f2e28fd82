"""README's settings table lists every MODELDESK_ variable the app reads, each limit with the
default core.limits uses, and the secrets a server may set, so a person running a server can
find them."""

from __future__ import annotations

import re
from pathlib import Path

from core import limits

ROOT = Path(__file__).resolve().parents[2]
CODE = [ROOT / "app.py", *(ROOT / "ui").rglob("*.py")]
CODE += [*(ROOT / "core").rglob("*.py"), *(ROOT / "pages").glob("*.py")]


def settings_rows() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(MODELDESK_[A-Z0-9_]+)` \| ([^|]+) \|", readme, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def test_every_variable_the_code_reads_is_in_the_readme_table():
    read = set()
    for file in CODE:
        read |= set(re.findall(r"MODELDESK_[A-Z0-9_]*[A-Z0-9]", file.read_text(encoding="utf-8")))
    assert "MODELDESK_AUDIT_KEY" in read
    assert read - set(settings_rows()) == set()


def test_each_limit_is_listed_with_its_default():
    rows = settings_rows()
    for name, default in limits.DEFAULTS.items():
        assert rows[name] == f"`{default}`", name


def test_the_secrets_are_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for secret in ("audit_key", "room_code", "facilitator_password"):
        assert f"`{secret}`" in readme
