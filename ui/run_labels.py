"""How a run is named on screen: a default name ("Run 2", "第 2 次训练") follows the session's
language; a name the person typed is shown as typed."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from core.i18n import LANGUAGES, t
from ui.widgets import tr


@cache
def _default_patterns() -> tuple[re.Pattern[str], ...]:
    """The default run name of every language, as a pattern capturing its number."""
    patterns = []
    for code in LANGUAGES:
        template = t("trainpage.run_name", code, number="\x00")
        before, _, after = template.partition("\x00")
        patterns.append(re.compile(re.escape(before) + r"(\d+)" + re.escape(after)))
    return tuple(patterns)


def run_name(run: Any) -> str:
    """The run's name in the session's language when it is a default name."""
    name = str(getattr(run, "name", "") or "")
    for pattern in _default_patterns():
        match = pattern.fullmatch(name)
        if match:
            return tr("trainpage.run_name", number=int(match.group(1)))
    return name
