"""Comments, docstrings and documents state their reasons: none cites a tracker item ("issue 11",
"finding 6"), which a reader of the repository cannot open."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACKER = re.compile(r"\b(?:issue|finding)s?[ -]#?[0-9]+|\bfindings? [0-9]", re.IGNORECASE)


def test_no_file_cites_a_tracker_item():
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(files) > 100
    cited = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".toml", ".json", ".txt", ""} or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if TRACKER.search(line) and path.name != Path(__file__).name:
                cited.append(f"{name}:{number}: {line.strip()}")
    assert not cited, "\n".join(cited)
