"""Every file or folder of this repository that the README names exists: a path in its text,
its commands and links, and each entry of its folder map. A README that points at a file that
is gone sends a newcomer nowhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOP = (
    r"(?:app\.py|pyproject\.toml|requirements[\w-]*\.txt"
    r"|pages|ui|core|tests|bench|lessons|docs|\.streamlit|\.ci)"
)
# A repository path: a top-level entry, then folders and a file, none with a placeholder.
PATH = re.compile(rf"(?<![\w./<-]){TOP}(?:/[\w.-]+)*/?(?![\w</])")
# Files the README tells a person to create; they are not shipped.
MADE_BY_THE_READER = {".streamlit/secrets.toml"}


def named_paths(text: str) -> set[str]:
    found = set()
    for match in PATH.finditer(text):
        path = match.group(0).rstrip(".")
        if path.rstrip("/") not in MADE_BY_THE_READER:
            found.add(path)
    return found


def folder_map_paths(text: str) -> set[str]:
    """Entries of the folder map's code block: top-level names, and names two spaces in."""
    block = text.split("## Folder map", 1)[1].split("```", 2)[1]
    paths, parent = set(), ""
    for line in block.splitlines()[1:]:
        name = line.strip().split(" ", 1)[0] if line.strip() else ""
        if not name or line.startswith("    "):
            continue  # a description's continuation
        if line.startswith("  "):
            paths.add(parent + name)
        else:
            parent = name if name.endswith("/") else ""
            paths.add(name)
    return paths


def test_the_patterns_find_paths_and_skip_placeholders():
    text = "see `tests/unit/test_x.py`, [a](docs/A.md), bench/b.py --n 1 and lessons/<name>.csv"
    assert named_paths(text) == {"tests/unit/test_x.py", "docs/A.md", "bench/b.py"}
    assert folder_map_paths("## Folder map\n```\ncore/  x\n  data/  y\n      more\nui/\n```") == {
        "core/",
        "core/data/",
        "ui/",
    }


def test_every_path_the_readme_names_exists():
    paths = named_paths(README) | folder_map_paths(README)
    assert len(paths) > 30, "the README's paths were not found"
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert not missing, f"README names paths that do not exist: {missing}"
