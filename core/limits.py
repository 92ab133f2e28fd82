"""Server-side limits on what one user's input may make the server build or do, and a safe JSON
parser.

Every limit is read from the environment when used (so a test or an operator can change it) and
is checked on a declared or counted size before anything large is materialised: a table's columns
and cells, the bytes a cell or a file decodes to, the parts of a workbook, the nesting and size of
a JSON document, the events of a backup, the CPU time one parse may take.

| Variable                       | Default     | Limit                                           |
| ------------------------------ | ----------- | ----------------------------------------------- |
| MODELDESK_MAX_COLUMNS          | 2,000       | columns of a loaded table                       |
| MODELDESK_MAX_CELLS            | 50,000,000  | rows x columns of a loaded table                |
| MODELDESK_MAX_FEATURES         | 5,000       | model inputs after encoding (one-hot included)  |
| MODELDESK_MAX_UNPACKED_MB      | 500         | uncompressed size of an .xlsx's parts           |
| MODELDESK_MAX_JSON_DEPTH       | 64          | nesting of a plan, config, lesson or backup     |
| MODELDESK_MAX_CELL_KB          | 1,024       | decoded bytes of one text cell                  |
| MODELDESK_MAX_DECODED_MB       | 1,024       | a Parquet file's declared uncompressed data     |
| MODELDESK_MAX_XLSX_STYLES      | 65,000      | cell formats (<xf>) of a workbook               |
| MODELDESK_MAX_DOCUMENT_MB      | 16          | a plan, config, lesson, backup or bundle JSON   |
| MODELDESK_MAX_BACKUP_EVENTS    | 20,000      | audit events in a backup                        |
| MODELDESK_PARSE_SECONDS        | 30          | CPU time of one parse before it stops           |
| MODELDESK_MAX_BUNDLE_MB        | 2,048       | uncompressed size of a model bundle's files     |
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from core.i18n import UserError

DEFAULTS: dict[str, int] = {
    "MODELDESK_MAX_COLUMNS": 2_000,
    "MODELDESK_MAX_CELLS": 50_000_000,
    "MODELDESK_MAX_FEATURES": 5_000,
    "MODELDESK_MAX_UNPACKED_MB": 500,
    "MODELDESK_MAX_JSON_DEPTH": 64,
    "MODELDESK_MAX_CELL_KB": 1_024,
    "MODELDESK_MAX_DECODED_MB": 1_024,
    "MODELDESK_MAX_XLSX_STYLES": 65_000,
    "MODELDESK_MAX_DOCUMENT_MB": 16,
    "MODELDESK_MAX_BACKUP_EVENTS": 20_000,
    "MODELDESK_PARSE_SECONDS": 30,
    "MODELDESK_MAX_BUNDLE_MB": 2_048,
}
_MIB = 1024 * 1024


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
    return limit("MODELDESK_MAX_UNPACKED_MB") * _MIB


def max_cell_bytes() -> int:
    return limit("MODELDESK_MAX_CELL_KB") * 1024


def max_decoded_bytes() -> int:
    return limit("MODELDESK_MAX_DECODED_MB") * _MIB


def max_document_bytes() -> int:
    return limit("MODELDESK_MAX_DOCUMENT_MB") * _MIB


def max_bundle_bytes() -> int:
    return limit("MODELDESK_MAX_BUNDLE_MB") * _MIB


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


def check_cell_bytes(name: str, size: int) -> None:
    """UserError when one cell decodes to more than MODELDESK_MAX_CELL_KB."""
    if size > max_cell_bytes():
        raise UserError(
            "hostile.error.cell_too_large",
            name=name,
            size_mb=f"{size / _MIB:.1f}",
            limit_kb=limit("MODELDESK_MAX_CELL_KB"),
        )


def check_decoded_bytes(name: str, size: int) -> None:
    """UserError when a file declares more decoded data than MODELDESK_MAX_DECODED_MB."""
    if size > max_decoded_bytes():
        raise UserError(
            "hostile.error.decoded_too_large",
            name=name,
            size_mb=f"{size / _MIB:.0f}",
            limit_mb=limit("MODELDESK_MAX_DECODED_MB"),
        )


class Deadline:
    """The budget of one parse (MODELDESK_PARSE_SECONDS): loops over user content call `check()`
    now and then, which ends the work with a UserError once the budget is spent.

    The budget is the parsing thread's CPU time, not the wall clock: on a busy shared server a
    legitimate 780 KB workbook took 30 s of wall time for 1.9 s of CPU (load average 24), and a
    wall-clock budget would refuse it there; CPU time counts only the work the input causes.
    """

    def __init__(self, name: str, seconds: float | None = None) -> None:
        self.name = name
        self.seconds = float(limit("MODELDESK_PARSE_SECONDS") if seconds is None else seconds)
        self._end = time.thread_time() + self.seconds

    def check(self) -> None:
        if time.thread_time() > self._end:
            raise UserError("hostile.error.too_slow", name=self.name, seconds=f"{self.seconds:g}")


def json_depth(value: Any, stop_after: int | None = None) -> int:
    """The deepest nesting of lists/dicts in a parsed JSON value, walked without recursion.

    Linear in the number of nodes; with `stop_after`, returns as soon as that depth is passed.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if stop_after is not None and deepest > stop_after:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def loads(text: str | bytes, *, what: str = "JSON", max_bytes: int | None = None) -> Any:
    """json.loads for a document a user hands in (plan, config, lesson, backup, bundle part):
    refused with a UserError beyond MODELDESK_MAX_DOCUMENT_MB (or `max_bytes`) or nested deeper
    than MODELDESK_MAX_JSON_DEPTH.

    The stdlib parser is linear and bounds its own recursion (RecursionError, turned into the
    depth message here); the depth of what it built is then measured by an iterative walk. No
    regular expression touches the text, so no input can make the check slower than the parse.
    ValueError from the parser itself is left to the caller, as json raises it.
    """
    cap = max_document_bytes() if max_bytes is None else max_bytes
    if len(text) > cap:
        raise UserError(
            "hostile.error.document_too_large",
            what=what,
            size_mb=f"{len(text) / _MIB:.1f}",
            limit_mb=f"{cap / _MIB:g}",
        )
    depth_limit = limit("MODELDESK_MAX_JSON_DEPTH")
    try:
        value = json.loads(text)
    except RecursionError:
        raise UserError("limits.error.json_too_deep", what=what, limit=depth_limit) from None
    if json_depth(value, stop_after=depth_limit) > depth_limit:
        raise UserError("limits.error.json_too_deep", what=what, limit=depth_limit)
    return value
