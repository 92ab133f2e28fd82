"""Tests live by kind, as the README says: tests/unit is plain pytest over core (no Streamlit, no
UI glue, no Ray, no browser), and each other folder's kind is a registered marker."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_UNIT = {"streamlit", "ui", "pages", "app", "ray", "playwright"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_unit_tests_import_only_core_and_libraries():
    files = sorted((ROOT / "tests" / "unit").glob("*.py"))
    assert len(files) > 20
    found = {f.name: imported_roots(f) & NOT_IN_UNIT for f in files}
    assert not {name: roots for name, roots in found.items() if roots}


def test_every_test_folder_is_a_registered_marker():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    options = config["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"]
    markers = {line.split(":")[0] for line in options["markers"]}
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "unit"}
    folders -= {"__pycache__"}
    assert folders <= markers, folders - markers
