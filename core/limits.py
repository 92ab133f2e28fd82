"""Server-side limits on what one user's input may make the server build, and a safe JSON parser.

Every limit is read from the environment when used (so a test or an operator can change it) and
is checked on a declared size before anything is materialised: a table's columns and cells, the
features after encoding, the uncompressed size of a workbook, the nesting depth of JSON.

| Variable                    | Default     | Limit                                              |
| --------------------------- | ----------- | -------------------------------------------------- |
| MODELDESK_MAX_COLUMNS       | 2,000       | columns of a loaded table                          |
| MODELDESK_MAX_CELLS         | 50,000,000  | rows x columns of a loaded table                   |
| MODELDESK_MAX_FEATURES      | 5,000       | model inputs after encoding (one-hot included)     |
| MODELDESK_MAX_UNPACKED_MB   | 500         | uncompressed size of an .xlsx's parts              |
| MODELDESK_MAX_JSON_DEPTH    | 64          | nesting of a plan, config, lesson or backup JSON   |
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from core.i18n import UserError

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")

DEFAULTS: dict[str, int] = {
    "MODELDESK_MAX_COLUMNS": 2_000,
    "MODELDESK_MAX_CELLS": 50_000_000,
    "MODELDESK_MAX_FEATURES": 5_000,
    "MODELDESK_MAX_UNPACKED_MB": 500,
    "MODELDESK_MAX_JSON_DEPTH": 64,
}


def limit(variable: str) -> int:
    """The limit `variable` names: its environment value when a positive integer, else default."""
    default = DEFAULTS[variable]
    try:
        value = int(os.environ.get(variable, default))
    except ValueError:
        return default
    return value if value > 0 else default


def max_columns() -> int:
    return limit("MODELDESK_MAX_COLUMNS")


def max_cells() -> int:
    return limit("MODELDESK_MAX_CELLS")


def max_features() -> int:
    return limit("MODELDESK_MAX_FEATURES")


def max_unpacked_bytes() -> int:
    return limit("MODELDESK_MAX_UNPACKED_MB") * 1024 * 1024


def check_table_size(name: str, rows: int, columns: int) -> None:
    """UserError when a table of `rows` x `columns` (declared or counted) is beyond the caps."""
    if columns > max_columns():
        raise UserError(
            "limits.error.too_many_columns", name=name, columns=columns, limit=max_columns()
        )
    if rows * columns > max_cells():
        raise UserError(
            "limits.error.too_many_cells",
            name=name,
            rows=rows,
            columns=columns,
            cells=rows * columns,
            limit=max_cells(),
        )


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays/objects in JSON text, counted without parsing it.

    Brackets inside strings are skipped; the text need not be valid (the parser decides that).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads(text: str | bytes, *, what: str = "JSON") -> Any:
    """json.loads, refusing nesting beyond MODELDESK_MAX_JSON_DEPTH with a UserError.

    A deeply nested document would otherwise raise RecursionError (in the parser or in whatever
    walks the result); ValueError from the parser itself is left to the caller, as json raises it.
    """
    if json_depth(text) > limit("MODELDESK_MAX_JSON_DEPTH"):
        raise UserError(
            "limits.error.json_too_deep", what=what, limit=limit("MODELDESK_MAX_JSON_DEPTH")
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise UserError(
            "limits.error.json_too_deep", what=what, limit=limit("MODELDESK_MAX_JSON_DEPTH")
        ) from None
