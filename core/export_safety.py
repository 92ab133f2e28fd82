"""Safe exports: no cell of a CSV or Excel file the app writes runs as a formula, no user
text in a Markdown file it writes becomes HTML, a link or an image (`markdown_text`), and no
control character or bidirectional override in user text reaches a terminal, a report or a
download as itself (`terminal_text`, and the same escaping in cells and names).

Control characters (ESC starts terminal commands: clear the screen, set the window title) and
bidirectional overrides (U+202E shows "evil\u202etxt.exe" as "evilexe.txt") are written as their
visible escape, \u001b or \u202e: readable, and in JSON output the very same string.

Excel, LibreOffice and Google Sheets treat a cell starting with =, +, - or @ (and, after a tab
or carriage return, the same) as a formula, so a value such as `=HYPERLINK(...)` in an uploaded
table could run when someone opens the download (OWASP "CSV injection"). Such text gets a
leading apostrophe, which spreadsheets show as plain text. Numbers stay numbers: a numeric
column is never touched, and text that is just a number ("-3.5", "+7") is left as it is.
"""

from __future__ import annotations

import html
import io
import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Markdown's punctuation that can start emphasis, code, links, images, tables, headings or
# lists; < > & " ' become HTML entities instead, so no tag or entity of the user's survives.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:=^])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
QUOTE = "'"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# In one line of terminal output every control character is escaped; in a cell, tab and line
# breaks are the data's own (a quoted CSV field keeps them) and only the rest is.
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CELL_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
CSV_MIME = "text/csv"
EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_text(value: object) -> str:
    """User text as one safe line for a terminal or a report: controls, bidi overrides escaped."""
    return _TERMINAL_UNSAFE.sub(_escape, str(value))


def cell_text(value: str) -> str:
    """Text for a download's cell or a column name: controls (but tab and line breaks) and bidi
    overrides escaped; Excel refuses control characters outright."""
    return _CELL_UNSAFE.sub(_escape, value)


def neutralise_cell(value: object) -> object:
    """The value as a spreadsheet should store it: risky text quoted, everything else as is."""
    return _neutralise(value)


def markdown_text(value: object) -> str:
    """User text shown literally in a Markdown file (a model card): one line, every Markdown
    special character backslash-escaped and HTML's characters as entities, so column names,
    labels and dataset names cannot become tags, links, images, tables or headings."""
    one_line = terminal_text(_LINE_BREAKS.sub(" ", str(value)))
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", one_line), quote=True)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot run as formulas."""
    safe = frame.copy()
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        safe.isetitem(position, column.map(_neutralise).astype(object))
    safe.columns = [_neutralise(name) for name in safe.columns]
    return safe


def safe_csv(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    """The frame as UTF-8 CSV bytes (with a BOM, so Excel reads Chinese right), neutralised."""
    return neutralise_frame(frame).to_csv(index=index, lineterminator="\n").encode("utf-8-sig")


def safe_excel(frame: pd.DataFrame, *, sheet: str = "predictions") -> bytes:
    """The frame as .xlsx bytes, neutralised."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        neutralise_frame(frame).to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


# A plain number a spreadsheet reads as a number, never as a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _neutralise(value: object) -> object:
    if not isinstance(value, str):
        return value
    value = cell_text(value)
    if not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return QUOTE + value
