"""Evaluate step: not built yet; the page says what it will do and what it needs first."""

from ui import planned_page

planned_page("evaluate")
