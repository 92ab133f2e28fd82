"""Loading tables: uploaded or local files (CSV, Excel, Parquet, JSON) and the built-in samples."""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import json
import math
import os
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from core import limits
from core.i18n import Message, UserError


def _env_upload_mb() -> int:
    try:
        value = int(os.environ.get("MODELDESK_MAX_UPLOAD_MB", "200"))
    except ValueError:
        return 200
    return value if value > 0 else 200


MAX_UPLOAD_MB: int = _env_upload_mb()


@dataclass(frozen=True)
class FileFormat:
    """One file type the app reads: its extension, the reader that parses it (a key of
    `_READERS`), and how messages name it."""

    extension: str
    reader: str
    label: str


# The one list of readable files: the uploader, the CLI, the messages that list formats
# ({formats}) and a bundle's predict.py all read it, so they accept the same set.
FORMATS: tuple[FileFormat, ...] = (
    FileFormat(".csv", "csv", "CSV"),
    FileFormat(".tsv", "csv", "TSV"),
    FileFormat(".txt", "csv", "TXT"),
    FileFormat(".xlsx", "excel", "Excel (.xlsx)"),
    FileFormat(".xlsm", "excel", "Excel (.xlsm)"),
    FileFormat(".parquet", "parquet", "Parquet"),
    FileFormat(".json", "json", "JSON"),
    FileFormat(".jsonl", "jsonl", "JSON Lines (.jsonl)"),
    FileFormat(".ndjson", "jsonl", "JSON Lines (.ndjson)"),
)
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(item.extension for item in FORMATS)
_FORMATS = {item.extension: item.reader for item in FORMATS}
MAX_COLUMN_NAME_CHARS = 100
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


def formats_text() -> str:
    """The readable formats as messages list them (their {formats} placeholder)."""
    return ", ".join(item.label for item in FORMATS)


def extensions_for(reader: str) -> tuple[str, ...]:
    """The extensions one reader parses ("excel" -> .xlsx, .xlsm)."""
    return tuple(item.extension for item in FORMATS if item.reader == reader)


_MIB = 1024 * 1024
_SNIFF_BYTES = 64 * 1024
_SNIFF_ROWS = 100
_DECODE_CHUNK = 4 * _MIB


@dataclass(frozen=True)
class ParseOptions:
    """How to read a text table; None everywhere means detect it."""

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    sheet: str | None = None


# eq=False: a DataFrame has no truth value, so field-wise equality and hashing would raise.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded table plus where it came from and how it was parsed."""

    frame: pd.DataFrame
    name: str
    sha256: str
    file_format: str
    size_bytes: int
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notices: tuple[Message, ...] = ()
    target_suggestion: str | None = None


@dataclass(frozen=True)
class Sample:
    """A built-in dataset: its name, catalog keys for title and description, suggested target."""

    name: str
    title_key: str
    description_key: str
    target: str


SAMPLES: dict[str, Sample] = {
    "line": Sample("line", "data.sample.line.title", "data.sample.line.description", "y"),
    "iris": Sample("iris", "data.sample.iris.title", "data.sample.iris.description", "species"),
    "wine": Sample("wine", "data.sample.wine.title", "data.sample.wine.description", "cultivar"),
    "breast_cancer": Sample(
        "breast_cancer",
        "data.sample.breast_cancer.title",
        "data.sample.breast_cancer.description",
        "diagnosis",
    ),
    "diabetes": Sample(
        "diabetes", "data.sample.diabetes.title", "data.sample.diabetes.description", "progression"
    ),
    "tips": Sample("tips", "data.sample.tips.title", "data.sample.tips.description", "tip"),
    "gapminder": Sample(
        "gapminder", "data.sample.gapminder.title", "data.sample.gapminder.description", "lifeExp"
    ),
}


def max_upload_bytes() -> int:
    """The upload size limit in bytes, read now from MODELDESK_MAX_UPLOAD_MB (default 200)."""
    return _env_upload_mb() * _MIB


def load_bytes(
    data: bytes,
    filename: str,
    options: ParseOptions | None = None,
    *,
    max_bytes: int | None = None,
) -> Dataset:
    """Parse an uploaded file's bytes into a Dataset, or raise UserError saying what to fix."""
    options = options or ParseOptions()
    name = PureWindowsPath(filename or "").name or "data"  # handles both / and \ paths
    extension = _extension(name)
    file_format = _check_extension(name, extension)
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    if len(data) > limit:
        raise UserError(
            "data.error.too_large",
            name=name,
            size_mb=f"{len(data) / _MIB:.1f}",
            limit_mb=f"{limit / _MIB:g}",
        )
    if _is_blank(data):
        raise UserError("data.error.empty", name=name)
    _check_options(options)
    reader = _READERS[file_format]
    return _dataset(
        name,
        hashlib.sha256(data).hexdigest(),
        len(data),
        lambda: reader(data, name, extension, options),
    )


def load_path(path: str | os.PathLike, options: ParseOptions | None = None) -> Dataset:
    """Read a local file and parse it like an upload (no size limit: the file is the user's own)."""
    options = options or ParseOptions()
    file_path = Path(path)
    try:
        if _FORMATS.get(_extension(file_path.name)) == "csv":
            dataset = _load_utf8_text_file(file_path, options)
            if dataset is not None:
                return dataset
        data = file_path.read_bytes()
    except FileNotFoundError:
        raise UserError("data.error.not_found", path=str(file_path)) from None
    except IsADirectoryError:
        raise UserError("data.error.not_a_file", path=str(file_path)) from None
    except OSError as exc:
        raise UserError(
            "data.error.cannot_open", path=str(file_path), reason=exc.strerror or str(exc)
        ) from None
    return load_bytes(data, file_path.name, options, max_bytes=sys.maxsize)


def load_sample(name: str) -> Dataset:
    """One of the built-in SAMPLES, built from data shipped with installed packages (no network)."""
    sample = SAMPLES.get(name)
    if sample is None:
        raise UserError("data.error.unknown_sample", name=name, samples=", ".join(SAMPLES))
    frame, version = _SAMPLE_BUILDERS[name]()
    frame, notices = _finish_frame(frame, name, ())
    return Dataset(
        frame=frame,
        name=name,
        sha256=hashlib.sha256(f"modeldesk-sample:{name}:{version}".encode()).hexdigest(),
        file_format="sample",
        size_bytes=int(frame.memory_usage(deep=True).sum()),
        notices=notices,
        target_suggestion=sample.target,
    )


# --- shared steps ------------------------------------------------------------------------------


def _dataset(name: str, sha256: str, size: int, parse: Callable[[], _Parsed]) -> Dataset:
    try:
        parsed = parse()
        frame, notices = _finish_frame(parsed.frame, name, parsed.notices)
    except UserError:
        raise
    except Exception as exc:  # a raw library error is a dead end for the user; say it plainly
        raise UserError(
            "data.error.unreadable", name=name, reason=_reason(exc), formats=formats_text()
        ) from exc
    return Dataset(
        frame=frame,
        name=name,
        sha256=sha256,
        file_format=parsed.file_format,
        size_bytes=size,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        decimal=parsed.decimal,
        sheet=parsed.sheet,
        sheets=parsed.sheets,
        notices=notices,
    )


def _load_utf8_text_file(path: Path, options: ParseOptions) -> Dataset | None:
    """Load a UTF-8 CSV straight from disk, or None when it needs the in-memory path."""
    # Parsing from the path instead of from bytes keeps a big file's raw bytes out of memory while
    # Arrow builds the frame. Hashing and checking the whole file costs about a third of parsing
    # it, so a thread scans while this one parses on the guess, from the first bytes, that the
    # file is UTF-8. The scan's findings then decide exactly as if it had run first; a wrong guess
    # only wastes the parse.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(_scan_file, path)
        guess = _parse_on_guess(path, options)
        scan = scanning.result()
    if scan.encoding is None or scan.head.startswith(b"PK\x03\x04"):
        return None  # other encodings are detected on the whole content; workbooks are refused
    encoding = scan.encoding
    if options.encoding is not None:
        encoding = _canonical_encoding(options.encoding)
        if encoding not in ("utf-8", "utf-8-sig"):
            return None
    name = path.name
    if scan.blank:
        raise UserError("data.error.empty", name=name)
    _check_options(options)

    def parse() -> _Parsed:
        if guess is not None and (guess.encoding, guess.head, guess.size) == (
            encoding,
            scan.head,
            scan.size,
        ):
            if guess.error is not None:
                raise guess.error
            assert guess.parsed is not None, "a guess holds either a parse or its error"
            return guess.parsed
        return _parse_text_file(path, scan.head, scan.size, encoding, options)

    return _dataset(name, scan.sha256, scan.size, parse)


def _parse_text_file(
    path: Path, head: bytes, size: int, encoding: str, options: ParseOptions
) -> _Parsed:
    name = path.name
    _reject_binary(head, name)
    return _read_text_table(head, size, encoding, (), str(path), name, _extension(name), options)


@dataclass(frozen=True)
class _Guess:
    """A parse made before the scan finished: what it assumed, and its result or error."""

    encoding: str
    head: bytes
    size: int
    parsed: _Parsed | None = None
    error: Exception | None = None


def _parse_on_guess(path: Path, options: ParseOptions) -> _Guess | None:
    """Parse the file as UTF-8 when its first bytes and the options allow; else None."""
    with path.open("rb") as stream:
        head = stream.read(_SNIFF_BYTES)
        size = os.fstat(stream.fileno()).st_size
    start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    if _NON_SPACE.search(head, start) is None or head.startswith(b"PK\x03\x04"):
        return None
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(head, final=len(head) == size)
        encoding = "utf-8-sig" if start else "utf-8"
        if options.encoding is not None:
            encoding = _canonical_encoding(options.encoding)
        _check_options(options)
    except (UnicodeDecodeError, UserError):
        return None  # left to the checks after the scan, in their order
    if encoding not in ("utf-8", "utf-8-sig"):
        return None
    try:
        parsed = _parse_text_file(path, head, size, encoding, options)
    except Exception as exc:  # raised later, only if the scan confirms the guess
        return _Guess(encoding, head, size, error=exc)
    return _Guess(encoding, head, size, parsed=parsed)


@dataclass(frozen=True)
class _FileScan:
    sha256: str
    size: int
    head: bytes
    blank: bool
    encoding: str | None  # "utf-8" or "utf-8-sig" when the whole file is valid UTF-8


def _scan_file(path: Path) -> _FileScan:
    """Hash, size, first bytes and UTF-8 validity of a file, read in chunks."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    buffer = bytearray(_DECODE_CHUNK)  # reused: no fresh memory to fault in for every chunk
    head = b""
    size = 0
    blank = True
    utf8 = True
    with path.open("rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            chunk = buffer if count == len(buffer) else buffer[:count]
            digest.update(chunk)  # releases the GIL: the parsing thread keeps going
            if size == 0:
                head = bytes(chunk[:_SNIFF_BYTES])
                start = len(codecs.BOM_UTF8) if chunk.startswith(codecs.BOM_UTF8) else 0
            else:
                start = 0
            size += count
            blank = blank and _NON_SPACE.search(chunk, start) is None
            if utf8 and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    encoding = None
    if utf8 and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    return _FileScan(digest.hexdigest(), size, head, blank, encoding)


@dataclass(frozen=True)
class _Parsed:
    frame: pd.DataFrame
    file_format: str
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notices: tuple[Message, ...] = ()


def _extension(name: str) -> str:
    suffix = PureWindowsPath(name).suffix.lower()
    return suffix if suffix != "." else ""


def _check_extension(name: str, extension: str) -> str:
    supported = ", ".join(SUPPORTED_EXTENSIONS)
    if extension in _FORMATS:
        return _FORMATS[extension]
    if extension == ".xls":
        raise UserError("data.error.xls_unsupported", name=name)
    if not extension:
        raise UserError("data.error.no_extension", name=name, supported=supported)
    raise UserError(
        "data.error.unsupported_format", name=name, extension=extension, supported=supported
    )


def _check_options(options: ParseOptions) -> None:
    if options.delimiter is not None and len(options.delimiter) != 1:
        raise UserError("data.error.bad_delimiter", delimiter=options.delimiter)
    if options.decimal is not None and options.decimal not in (".", ","):
        raise UserError("data.error.bad_decimal", decimal=options.decimal)


_NON_SPACE = re.compile(rb"\S")


def _is_blank(data: bytes) -> bool:
    # A regex search with a start position scans in place: no copy of a large upload.
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    return _NON_SPACE.search(data, start) is None


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _finish_frame(
    frame: pd.DataFrame, name: str, notices: tuple[Message, ...]
) -> tuple[pd.DataFrame, tuple[Message, ...]]:
    if frame.shape[1] == 0:
        raise UserError("data.error.no_columns", name=name)
    if frame.shape[0] == 0:
        raise UserError("data.error.no_rows", name=name)
    limits.check_table_size(name, frame.shape[0], frame.shape[1])
    names, name_notices = _clean_column_names(list(frame.columns))
    frame.columns = pd.Index(names)
    return frame, (*notices, *name_notices)


def _clean_column_names(raw: list[Any]) -> tuple[list[str], tuple[Message, ...]]:
    """Column names as unique, stripped, non-empty strings of at most 100 characters."""
    names: list[str] = []
    blank: list[str] = []
    shortened = 0
    for position, value in enumerate(raw, start=1):
        text = "" if _is_missing(value) else str(value)
        text = text.lstrip("\ufeff").strip()
        if not text:
            text = f"column_{position}"
            blank.append(text)
        if len(text) > MAX_COLUMN_NAME_CHARS:
            text = text[:MAX_COLUMN_NAME_CHARS]
            shortened += 1
        names.append(text)

    taken = set(names)
    seen: set[str] = set()
    renamed: list[str] = []
    unique: list[str] = []
    for text in names:
        if text not in seen:
            seen.add(text)
            unique.append(text)
            continue
        number = 2
        while (candidate := _with_suffix(text, number)) in taken or candidate in seen:
            number += 1
        seen.add(candidate)
        taken.add(candidate)
        unique.append(candidate)
        renamed.append(f"{text} → {candidate}")

    notices: list[Message] = []
    if blank:
        notices.append(Message("data.notice.blank_names", {"names": _short_list(blank)}))
    if shortened:
        notices.append(
            Message("data.notice.long_names", {"count": shortened, "limit": MAX_COLUMN_NAME_CHARS})
        )
    if renamed:
        notices.append(Message("data.notice.duplicate_names", {"names": _short_list(renamed)}))
    return unique, tuple(notices)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _with_suffix(text: str, number: int) -> str:
    suffix = f"_{number}"
    return text[: MAX_COLUMN_NAME_CHARS - len(suffix)] + suffix


def _short_list(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … (+{len(items) - limit})" if len(items) > limit else "")


# --- text: encoding, binary detection ----------------------------------------------------------

_CANONICAL_ENCODINGS = {"iso8859-1": "latin-1"}
_MAGIC_BINARY = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"\x1f\x8b", b"BZh", b"7z\xbc\xaf")
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32), 127])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_GB2312_RUN = re.compile(rb"(?:[\xa1-\xfe][\xa1-\xfe])+")


def _reject_binary(data: bytes, name: str) -> None:
    """Raise if a file that should be text is a workbook, Parquet, image or other binary."""
    head = data[:_SNIFF_BYTES]
    if head.startswith(_UTF16_BOMS):
        return
    if head.startswith(b"PK\x03\x04") and _is_xlsx(data):
        raise UserError("data.error.looks_like_excel", name=name)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UserError("data.error.legacy_excel", name=name)
    if head.startswith(b"PAR1"):
        raise UserError("data.error.looks_like_parquet", name=name)
    if _looks_binary(head):
        raise UserError("data.error.binary", name=name, formats=formats_text())


def _looks_binary(head: bytes) -> bool:
    if head.startswith(_MAGIC_BINARY) or b"\x00" in head or head.startswith(b"PK\x03\x04"):
        return True
    controls = len(head.translate(None, _NOT_CONTROL))
    return controls > 0.05 * len(head)


def _is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _resolve_encoding(
    data: bytes, requested: str | None, name: str
) -> tuple[str, tuple[Message, ...]]:
    """The encoding to read with: the requested one (checked) or the detected one."""
    if requested:
        encoding = _canonical_encoding(requested)
        bad = _first_undecodable(data, encoding)
        if bad is not None:
            raise UserError(
                "data.error.encoding_failed",
                name=name,
                encoding=encoding,
                line=data.count(b"\n", 0, bad) + 1,
            )
        return encoding, ()
    if data.startswith(codecs.BOM_UTF8) and _first_undecodable(data, "utf-8-sig") is None:
        return "utf-8-sig", ()
    if data.startswith(_UTF16_BOMS) and _first_undecodable(data, "utf-16") is None:
        return "utf-16", ()
    if data.isascii() or _first_undecodable(data, "utf-8") is None:
        return "utf-8", ()
    if _looks_chinese(data) and _first_undecodable(data, "gb18030") is None:
        return "gb18030", ()
    # Every byte sequence decodes as Latin-1, so it is the fallback; it is a guess worth stating.
    return "latin-1", (Message("data.notice.encoding_guessed", {"encoding": "latin-1"}),)


def _canonical_encoding(requested: str) -> str:
    try:
        info = codecs.lookup(requested.strip())
    except LookupError:
        raise UserError("data.error.unknown_encoding", encoding=requested) from None
    if not getattr(info, "_is_text_encoding", True):  # e.g. "base64", "rot13"
        raise UserError("data.error.unknown_encoding", encoding=requested)
    return _CANONICAL_ENCODINGS.get(info.name, info.name)


def _first_undecodable(data: bytes, encoding: str) -> int | None:
    """Offset of the first byte that does not decode, or None; decodes in chunks to spare memory."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    view = memoryview(data)
    for start in range(0, max(len(data), 1), _DECODE_CHUNK):
        pending = len(decoder.getstate()[0])
        chunk = view[start : start + _DECODE_CHUNK]
        try:
            decoder.decode(chunk, final=start + _DECODE_CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            return max(start - pending + exc.start, 0)
    return None


def _looks_chinese(data: bytes) -> bool:
    # In GBK-encoded Chinese, high bytes come in pairs of 0xA1-0xFE; in Latin-1 text an accented
    # letter is usually a lone high byte between ASCII letters, which GB18030 may still "decode".
    runs = good = 0
    for match in _HIGH_RUN.finditer(data):
        runs += 1
        good += _GB2312_RUN.fullmatch(match.group()) is not None
        if runs >= 2000:
            break
    return runs > 0 and good >= 0.5 * runs


def _decode_sample(head: bytes, complete: bool, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=complete)
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # drop the cut-off last line
    return text


# --- CSV / TSV / TXT ---------------------------------------------------------------------------

_COMMA_DECIMAL = re.compile(r"[-+]?\d+,\d+")
_GROUPED_COMMA_DECIMAL = re.compile(r"[-+]?\d{1,3}(?:\.\d{3})+,\d+")
_DOT_DECIMAL = re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?")
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_csv(data: bytes, name: str, extension: str, options: ParseOptions) -> _Parsed:
    _reject_binary(data, name)
    encoding, notices = _resolve_encoding(data, options.encoding, name)
    head = data[:_SNIFF_BYTES]
    return _read_text_table(head, len(data), encoding, notices, data, name, extension, options)


def _read_text_table(
    head: bytes,
    size: int,
    encoding: str,
    notices: tuple[Message, ...],
    source: bytes | str,
    name: str,
    extension: str,
    options: ParseOptions,
) -> _Parsed:
    """Sniff delimiter and decimal mark from the first bytes, then parse the whole source."""
    sample = _decode_sample(head, len(head) == size, encoding)
    delimiter = options.delimiter or _sniff_delimiter(sample, extension)
    guessed_decimal, thousands = _sniff_numbers(sample, delimiter)
    decimal = options.decimal or guessed_decimal
    if decimal == delimiter:
        raise UserError("data.error.decimal_is_delimiter", decimal=decimal)
    if decimal == ".":
        thousands = None
    _check_first_row(sample, delimiter, name)
    limits.check_table_size(name, 0, _header_width(source, delimiter, encoding))
    frame = _parse_csv(source, name, encoding, delimiter, decimal, thousands)
    header = next(iter(_sample_rows(sample, delimiter)), None)
    if header is not None and len(header) == frame.shape[1]:
        # The header as written: the engines rename duplicates ("a.1") and blanks ("Unnamed: 1")
        # their own way, and the cleaning step should decide those names instead.
        frame.columns = pd.Index(header)
    return _Parsed(
        frame,
        "csv",
        encoding=encoding,
        delimiter=delimiter,
        decimal=decimal,
        notices=notices,
    )


def _parse_csv(
    source: bytes | str,
    name: str,
    encoding: str,
    delimiter: str,
    decimal: str,
    thousands: str | None,
) -> pd.DataFrame:
    def stream() -> io.BytesIO | str:
        return io.BytesIO(source) if isinstance(source, bytes) else source

    if thousands is None:
        # pyarrow skips a UTF-8 BOM by itself, and "utf-8" lets it skip transcoding entirely.
        arrow_encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        try:
            if isinstance(source, str):
                # A local file, of any size: read by Arrow straight from disk, in less memory.
                return _read_csv_arrow(source, arrow_encoding, delimiter, decimal)
            frame = pd.read_csv(
                stream(),
                engine="pyarrow",
                sep=delimiter,
                decimal=decimal,
                encoding=arrow_encoding,
            )
        except Exception:
            pass  # pyarrow refuses short rows and long quoted text; the C engine reads them
        else:
            return _dates_as_datetimes(frame)
    try:
        return pd.read_csv(
            stream(),
            engine="c",
            sep=delimiter,
            decimal=decimal,
            thousands=thousands,
            encoding=encoding,
            index_col=False,  # never turn a first column silently into the index
            low_memory=False,  # one dtype per column instead of per chunk
        )
    except pd.errors.EmptyDataError:
        raise UserError("data.error.no_rows", name=name) from None
    except pd.errors.ParserError as exc:
        match = _RAGGED.search(str(exc))
        if match is None:
            raise
        expected, line, found = match.groups()
        raise UserError(
            "data.error.ragged_rows",
            name=name,
            line=line,
            found=found,
            expected=expected,
            delimiter=_delimiter_label(delimiter),
        ) from None


# What pd.read_csv reads as missing by default (its documented na_values list).
_NA_STRINGS = (
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"),
    *("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
)


# As pandas does: an all-missing column is float64. Dates as datetime64, cast here in Arrow
# instead of the Python date objects to_pandas would make of them.
_ARROW_CASTS = {
    pa.null().id: pa.float64(),
    pa.date32().id: pa.timestamp("s"),
    pa.date64().id: pa.timestamp("s"),
}


def _read_csv_arrow(path: str, encoding: str, delimiter: str, decimal: str) -> pd.DataFrame:
    """What pd.read_csv(engine="pyarrow") returns, in less memory; with dates as datetime64.

    pyarrow's read_csv keeps every parsed block until the end, in case a late block widens a
    column's inferred type (about the file's size again in memory). With the column types given
    it converts each block as it goes: so the types are inferred from the first block, and only
    when a later block does not fit them is the file read again with whole-file inference. The
    result is the same either way: inference picks the first type, in a fixed order, that reads
    every value, and a type that reads the whole column and no narrower one that reads the first
    block is that type.
    """
    read_options = pa_csv.ReadOptions(encoding=encoding)
    parse_options = pa_csv.ParseOptions(delimiter=delimiter)
    convert = {"null_values": _NA_STRINGS, "strings_can_be_null": True, "decimal_point": decimal}
    table = None
    with pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(encoding=encoding, use_threads=False),
        parse_options=parse_options,
        convert_options=pa_csv.ConvertOptions(**convert),
    ) as first_block:
        schema = first_block.schema
    if len(set(schema.names)) == len(schema.names):  # column_types go by name
        types = dict(zip(schema.names, schema.types, strict=True))
        try:
            table = pa_csv.read_csv(
                path,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=pa_csv.ConvertOptions(column_types=types, **convert),
            )
        except pa.ArrowInvalid as exc:
            if "conversion error" not in str(exc):
                raise  # a malformed file, not a narrow type: reading it again would not help
            table = None  # a later block needs a wider type than the first one
    if table is None:
        table = pa_csv.read_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=pa_csv.ConvertOptions(**convert),
        )
    for position, column_type in enumerate(table.schema.types):
        wanted = _ARROW_CASTS.get(column_type.id)
        if wanted is not None:
            column = table.column(position).cast(wanted)
            table = table.set_column(position, table.field(position).with_type(wanted), column)
    # self_destruct frees each Arrow column once converted, split_blocks skips consolidating
    # same-typed columns into one 2-D block: so the table and the frame barely overlap in memory.
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    return frame


def _dates_as_datetimes(frame: pd.DataFrame) -> pd.DataFrame:
    # pyarrow reads "2024-01-05" as a date32 column, which pandas turns into Python date objects;
    # datetime64 is what the rest of the app (and pandas) knows how to handle.
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if values.dtype != np.dtype(object):
            continue
        first = values.first_valid_index()
        if first is not None and type(values[first]) is datetime.date:
            frame.isetitem(position, pd.to_datetime(values))
    return frame


def _check_first_row(sample: str, delimiter: str, name: str) -> None:
    # pandas meets a first data row wider than the header by making the extra leading values an
    # index (or, with index_col=False, by dropping the trailing ones): both lose data silently.
    try:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        rows = ((reader.line_num, row) for row in reader if row)
        header = next(rows, None)
        first = next(rows, None)
    except csv.Error:
        return
    if header is not None and first is not None and len(first[1]) > len(header[1]):
        raise UserError(
            "data.error.ragged_rows",
            name=name,
            line=first[0],
            found=len(first[1]),
            expected=len(header[1]),
            delimiter=_delimiter_label(delimiter),
        )


def _header_width(source: bytes | str, delimiter: str, encoding: str) -> int:
    """The header's field count, read with the CSV rules before any row is parsed.

    A quoted field may hold the delimiter or a newline, so the first physical line is not the
    header: a first cell with a quoted newline would hide 100,000 columns behind it. The header
    record is parsed from a prefix that doubles (from 64 KB, up to 64 MB) until the record ends
    inside it; beyond that, or if the csv module refuses a field, every delimiter in the prefix
    counts (an upper bound).
    """
    cap = 64 * _MIB
    size = _SNIFF_BYTES
    while True:
        prefix = _prefix(source, size)
        complete = len(prefix) < size
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(prefix)
        stream = io.StringIO(text)
        try:
            reader = csv.reader(stream, delimiter=delimiter)
            header = next((row for row in reader if row), [])
            ended = stream.tell() < len(text) or complete
        except csv.Error:
            header, ended = [], False
        if ended and header:
            return len(header)
        if complete or size >= cap:
            return text.count(delimiter) + 1
        size *= 4


def _prefix(source: bytes | str, size: int) -> bytes:
    if isinstance(source, bytes):
        return source[:size]
    with open(source, "rb") as stream:
        return stream.read(size)


def _delimiter_label(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _sample_rows(sample: str, delimiter: str) -> list[list[str]]:
    try:
        rows = csv.reader(io.StringIO(sample), delimiter=delimiter)
        return [row for _, row in zip(range(_SNIFF_ROWS), (r for r in rows if r), strict=False)]
    except csv.Error:
        return []


def _sniff_delimiter(sample: str, extension: str) -> str:
    """The candidate delimiter that splits the sample's rows into the most consistent width."""
    candidates = ("\t", ",", ";", "|") if extension == ".tsv" else DELIMITERS
    best, best_score = candidates[0], (0.0, 0)
    for delimiter in candidates:
        widths = [len(row) for row in _sample_rows(sample, delimiter)]
        if not widths:
            continue
        width = Counter(widths).most_common(1)[0][0]
        if width < 2:
            continue
        score = (widths.count(width) / len(widths), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sniff_numbers(sample: str, delimiter: str) -> tuple[str, str | None]:
    """(decimal mark, thousands separator) suggested by the sample's numbers."""
    if delimiter == ",":
        return ".", None
    comma = grouped = dot = 0
    for row in _sample_rows(sample, delimiter)[1:]:
        for field in row:
            value = field.strip()
            if _COMMA_DECIMAL.fullmatch(value):
                comma += 1
            elif _GROUPED_COMMA_DECIMAL.fullmatch(value):
                grouped += 1
            elif _DOT_DECIMAL.fullmatch(value):
                dot += 1
    if comma + grouped > dot:
        return ",", ("." if grouped and not dot else None)
    return ".", None


# --- Excel -------------------------------------------------------------------------------------


def _read_excel(data: bytes, name: str, extension: str, options: ParseOptions) -> _Parsed:
    if not data.startswith(b"PK\x03\x04"):
        raise _not_excel(data, name)
    deadline = limits.Deadline(name)
    _scan_workbook(data, name, deadline)
    try:
        book = pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
    except Exception:
        raise UserError("data.error.not_excel", name=name) from None
    with book:
        sheets = tuple(str(sheet) for sheet in book.sheet_names)
        if not sheets:
            raise UserError("data.error.not_excel", name=name)
        sheet = options.sheet if options.sheet is not None else sheets[0]
        if sheet not in sheets:
            raise UserError(
                "data.error.sheet_not_found", name=name, sheet=sheet, sheets=", ".join(sheets)
            )
        _guard_sheet(book.book[sheet], name, deadline)
        # header=None, then the first row by hand: read_excel would rename duplicate and blank
        # headers its own way before the cleaning step could see them.
        raw = pd.read_excel(book, sheet_name=sheet, header=None)
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise UserError("data.error.empty_sheet", name=name, sheet=sheet, sheets=", ".join(sheets))
    frame = raw.iloc[1:].reset_index(drop=True).infer_objects()
    frame.columns = pd.Index(raw.iloc[0].tolist(), dtype=object)
    return _Parsed(frame, "excel", sheet=sheet, sheets=sheets)


# Elements counted in a workbook's XML while it streams, namespace prefix or not: cells, shared
# strings and cell formats. Each pattern is a literal plus bounded classes: linear in the text.
_COUNTED_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:)?(c|si|xf)[\s/>]")
_XML_CHUNK = 1 << 18  # one regex call at a time holds the GIL for a few milliseconds at most
_XML_OVERLAP = 64  # longer than any counted tag, so a tag cut by a chunk boundary is seen once


def _scan_workbook(data: bytes, name: str, deadline: limits.Deadline) -> None:
    """Refuse a workbook by what it holds before openpyxl reads any part: the unpacked size its
    zip declares, then counts made while its XML streams (cells, shared strings, styles), so a
    lying <dimension>, a million styles or millions of unused strings cost a scan, not a parse.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            unpacked = sum(info.file_size for info in members)
            if unpacked > limits.max_unpacked_bytes():
                raise UserError(
                    "limits.error.unpacked_too_large",
                    name=name,
                    size_mb=f"{unpacked / _MIB:.0f}",
                    limit_mb=f"{limits.max_unpacked_bytes() / _MIB:g}",
                )
            cells = strings = styles = 0
            cell_bytes = string_bytes = 0
            # Worksheets first: once their cells are counted, a strings part stops being read
            # as soon as it lists more strings than those cells could use.
            parts = [info for info in members if info.filename.lower().endswith(".xml")]
            parts.sort(key=lambda info: "worksheets/" not in info.filename.lower())
            sheets_done = False
            for info in parts:
                if not sheets_done and "worksheets/" not in info.filename.lower():
                    sheets_done = True
                most_strings = cells + _SPARE_STRINGS if sheets_done else None
                counts = _count_tags(archive, info, deadline, name, most_strings, cells)
                cells += counts[0]
                strings += counts[1]
                styles += counts[2]
                if counts[0]:
                    cell_bytes += info.file_size
                if counts[1]:
                    string_bytes += info.file_size
                if styles > limits.limit("MODELDESK_MAX_XLSX_STYLES"):
                    raise UserError(
                        "hostile.error.too_many_styles",
                        name=name,
                        limit=limits.limit("MODELDESK_MAX_XLSX_STYLES"),
                    )
                if cells > limits.max_cells():
                    limits.check_table_size(name, cells, 1)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise UserError("data.error.not_excel", name=name) from None
    # A string no cell can use is work with no table behind it; a table has one string per cell
    # at most (a small allowance covers headers and strings of other sheets' formulas).
    if strings > cells + _SPARE_STRINGS:
        raise UserError("hostile.error.unused_strings", name=name, strings=strings, cells=cells)
    # More text than every cell at the per-cell cap would hold means at least one cell beyond it.
    per_cell = limits.max_cell_bytes() + 256
    if string_bytes > (strings + 1) * per_cell or cell_bytes > (cells + 1) * per_cell:
        limits.check_cell_bytes(name, max(string_bytes // (strings + 1), cell_bytes // (cells + 1)))


_SPARE_STRINGS = 1024  # shared strings beyond the cells allowed for (headers, other sheets' text)


def _count_tags(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    deadline: limits.Deadline,
    name: str,
    most_strings: int | None,
    cells_seen: int,
) -> tuple[int, int, int]:
    """(cells, shared strings, styles) in one XML part, read in chunks as it decompresses;
    stopped as soon as the styles or the cells pass their caps."""
    style_cap = limits.limit("MODELDESK_MAX_XLSX_STYLES")
    cells = strings = styles = 0
    tail = b""
    with archive.open(info) as stream:
        while chunk := stream.read(_XML_CHUNK):
            deadline.check()
            text = tail + chunk
            # Every counted tag is "<" then no other "<": the text up to the last "<" near the
            # end holds whole tags only, and the rest is carried into the next chunk.
            cut = text.rfind(b"<", max(len(text) - _XML_OVERLAP, 0))
            cut = len(text) if cut < 0 else cut
            found = _COUNTED_TAG.findall(text, 0, cut)  # one pass: b"c", b"si" or b"xf" each
            cells += found.count(b"c")
            strings += found.count(b"si")
            styles += found.count(b"xf")
            tail = text[cut:]
            if styles > style_cap:
                raise UserError("hostile.error.too_many_styles", name=name, limit=style_cap)
            if most_strings is not None and strings > most_strings:
                raise UserError(
                    "hostile.error.unused_strings", name=name, strings=strings, cells=cells_seen
                )
            if cells > limits.max_cells():
                limits.check_table_size(name, cells, 1)
    found = _COUNTED_TAG.findall(tail)
    return cells + found.count(b"c"), strings + found.count(b"si"), styles + found.count(b"xf")


def _guard_sheet(worksheet: Any, name: str, deadline: limits.Deadline) -> None:
    """Make a read-only openpyxl worksheet count its real extent while pandas streams it.

    pandas ignores the sheet's declared <dimension> (it may lie) and pads every row to its last
    cell and every gap to empty rows; one cell at XFD20000 would so become 327 million. This
    replaces the worksheet's row generator with openpyxl's own logic plus counters: each raw row
    (before padding) is checked against the column and cell caps, and the parse's deadline.
    """
    from openpyxl.worksheet._reader import WorkSheetParser  # openpyxl's streaming parser

    def cells_by_row(min_col, min_row, max_col, max_row, values_only=False):
        counter = min_row
        width = 0
        most_columns, most_cells = limits.max_columns(), limits.max_cells()
        with worksheet._get_source() as source:
            parser = WorkSheetParser(
                source,
                worksheet._shared_strings,
                data_only=worksheet.parent.data_only,
                epoch=worksheet.parent.epoch,
                date_formats=worksheet.parent._date_formats,
                timedelta_formats=worksheet.parent._timedelta_formats,
            )
            for parsed, (index, row) in enumerate(parser.parse()):
                if parsed % 256 == 0:
                    deadline.check()
                if row:  # openpyxl pads a row to its last cell's column, whatever the order
                    width = max(width, row[-1]["column"])
                if width > most_columns or index * width > most_cells:  # before any padding
                    limits.check_table_size(name, index, width)
                if max_row is not None and index > max_row:
                    break
                while counter < index:  # rows the file skips are empty rows
                    counter += 1
                    yield ()
                if counter <= index:
                    counter += 1
                    yield worksheet._get_row(row, min_col, max_col, values_only)

    worksheet._cells_by_row = cells_by_row


def _not_excel(data: bytes, name: str) -> UserError:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return UserError("data.error.legacy_excel", name=name)
    if data.startswith(b"PAR1"):
        return UserError("data.error.looks_like_parquet", name=name)
    if not _looks_binary(data[:_SNIFF_BYTES]):
        return UserError("data.error.text_named_xlsx", name=name)
    return UserError("data.error.not_excel", name=name)


# --- Parquet -----------------------------------------------------------------------------------


def _read_parquet(data: bytes, name: str, extension: str, options: ParseOptions) -> _Parsed:
    if not data.startswith(b"PAR1"):
        if data.startswith(b"PK\x03\x04") and _is_xlsx(data):
            raise UserError("data.error.looks_like_excel", name=name)
        raise UserError("data.error.not_parquet", name=name)
    try:
        parquet = pa_parquet.ParquetFile(io.BytesIO(data))
        metadata = parquet.metadata
    except Exception as exc:
        raise UserError("data.error.bad_parquet", name=name, reason=_reason(exc)) from None
    limits.check_table_size(name, metadata.num_rows, metadata.num_columns)
    _check_parquet_bytes(metadata, name)
    try:
        table = parquet.read(use_pandas_metadata=True)
    except UserError:
        raise
    except Exception as exc:
        raise UserError("data.error.bad_parquet", name=name, reason=_reason(exc)) from None
    _check_arrow_cells(table, name)
    try:
        frame = table.to_pandas()
    except Exception as exc:
        raise UserError("data.error.bad_parquet", name=name, reason=_reason(exc)) from None
    del table
    frame, notices = _stringify_nested(_index_as_columns(frame))
    return _Parsed(frame, "parquet", notices=notices)


def _check_parquet_bytes(metadata: pa_parquet.FileMetaData, name: str) -> None:
    """Refuse a Parquet file by what its footer declares, before any page is decompressed: the
    whole file's uncompressed data, and text cells (a column chunk whose uncompressed bytes
    exceed its values times the per-cell cap holds at least one cell beyond the cap)."""
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for position in range(row_group.num_columns):
            chunk = row_group.column(position)
            size = max(chunk.total_uncompressed_size, 0)
            total += size
            # Each value costs at least 4 bytes of length prefix in PLAIN byte arrays.
            values = max(chunk.num_values, 1)
            if chunk.physical_type == "BYTE_ARRAY" and size > values * (
                limits.max_cell_bytes() + 4
            ):
                limits.check_cell_bytes(name, size // values)
    limits.check_decoded_bytes(name, total)


def _check_arrow_cells(table: pa.Table, name: str) -> None:
    """Refuse a decoded Arrow table with a text cell beyond the per-cell cap, before pandas makes
    Python objects of it (the metadata bounds the average; this is the maximum)."""
    import pyarrow.compute as pc

    for column in table.columns:
        for chunk in column.chunks:
            values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
            kind = values.type
            text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
            if not (text or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
                continue
            longest = pc.max(pc.binary_length(values)).as_py()
            if longest is not None:
                limits.check_cell_bytes(name, int(longest))


def _index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    # A saved index (e.g. "id") is data the user expects to see as a column.
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if default and index.name is None:
        return frame
    return frame.reset_index(allow_duplicates=True)


# --- JSON --------------------------------------------------------------------------------------


def _read_json(data: bytes, name: str, extension: str, options: ParseOptions) -> _Parsed:
    _reject_binary(data, name)
    encoding, notices = _resolve_encoding(data, options.encoding, name)
    text = str(data, encoding)
    file_format = "json"
    try:
        content = json.loads(text)
    except RecursionError:
        raise UserError(
            "limits.error.json_too_deep", what=name, limit=sys.getrecursionlimit()
        ) from None
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise UserError(
                "data.error.bad_json", name=name, line=exc.lineno, reason=exc.msg
            ) from None
        content = _json_lines(text, name)  # several documents: it is JSON Lines named .json
        file_format = "jsonl"
    frame, nested = _stringify_nested(_json_frame(content, name))
    return _Parsed(frame, file_format, encoding=encoding, notices=(*notices, *nested))


def _read_json_lines(data: bytes, name: str, extension: str, options: ParseOptions) -> _Parsed:
    _reject_binary(data, name)
    encoding, notices = _resolve_encoding(data, options.encoding, name)
    records = _json_lines(str(data, encoding), name)
    frame, nested = _stringify_nested(_json_frame(records, name))
    return _Parsed(frame, "jsonl", encoding=encoding, notices=(*notices, *nested))


def _json_lines(text: str, name: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except RecursionError:
            raise UserError(
                "limits.error.json_too_deep", what=name, limit=sys.getrecursionlimit()
            ) from None
        except json.JSONDecodeError as exc:
            raise UserError("data.error.bad_json", name=name, line=number, reason=exc.msg) from None
    return records


def _json_frame(content: Any, name: str) -> pd.DataFrame:
    """A table from parsed JSON: records, rows, a dict of columns, pandas' split/table layouts."""
    if isinstance(content, dict):
        content = _json_dict_rows(content, name)
        if isinstance(content, pd.DataFrame):
            return content
    if not isinstance(content, list):
        raise UserError("data.error.json_shape", name=name)
    if not content:
        raise UserError("data.error.no_rows", name=name)
    if all(isinstance(item, dict) for item in content):
        nested = any(isinstance(value, dict) for item in content[:1000] for value in item.values())
        _check_record_keys(content, name, nested=nested)
        if nested:
            return pd.json_normalize(content)  # nested objects become "parent.child" columns
        return pd.DataFrame(content)
    if all(isinstance(item, list) for item in content):
        limits.check_table_size(name, len(content), max(len(item) for item in content))
        frame = pd.DataFrame(content)
        frame.columns = [f"column_{i + 1}" for i in range(frame.shape[1])]
        return frame
    if not any(isinstance(item, dict | list) for item in content):
        return pd.DataFrame({"value": content})
    raise UserError("data.error.json_shape", name=name)


def _check_record_keys(records: list[dict], name: str, *, nested: bool) -> None:
    """Refuse records whose keys would make too many columns, counted before a frame is built
    (pandas sizes a frame by the union of every record's keys: 30,000 keys over 5,000 records
    would be 150 million cells). With nested objects, "parent.child" paths are counted too."""
    deadline = limits.Deadline(name)
    keys: set[Any] = set()
    cap = limits.max_columns()
    for index, record in enumerate(records):
        if index % 1024 == 0:
            deadline.check()
        if nested:
            stack: list[tuple[str, dict]] = [("", record)]
            while stack:
                prefix, item = stack.pop()
                for key, value in item.items():
                    path = f"{prefix}{key}"
                    if isinstance(value, dict) and value:
                        stack.append((path + ".", value))
                    else:
                        keys.add(path)
                if len(keys) > cap:
                    break
        else:
            keys.update(record)
        if len(keys) > cap:
            raise UserError("hostile.error.too_many_keys", name=name, limit=cap)
    limits.check_table_size(name, len(records), len(keys))


def _json_dict_rows(content: dict, name: str) -> list[Any] | pd.DataFrame:
    if isinstance(content.get("data"), list) and isinstance(content.get("columns"), list):
        limits.check_table_size(name, len(content["data"]), len(content["columns"]))
        return pd.DataFrame(content["data"], columns=content["columns"])  # orient="split"
    if isinstance(content.get("data"), list) and isinstance(content.get("schema"), dict):
        records = content["data"]
        if all(isinstance(item, dict) for item in records):
            _check_record_keys(records, name, nested=False)
        frame = pd.DataFrame(records)  # orient="table"
        if content["schema"].get("primaryKey") == ["index"] and "index" in frame.columns:
            frame = frame.drop(columns="index")
        return frame
    values = list(content.values())
    if values and all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        limits.check_table_size(name, len(values[0]), len(values))
        return pd.DataFrame(content)  # {"column": [values...]}
    if values and all(isinstance(v, dict) for v in values):
        limits.check_table_size(name, 0, len(values))
        row_keys: set[Any] = set()
        for inner in values:  # the inner keys are the rows
            row_keys.update(inner)
            limits.check_table_size(name, len(row_keys), len(values))
        return pd.DataFrame(content).reset_index(drop=True)  # {"column": {"row": value}}
    record_lists = [v for v in values if isinstance(v, list) and v and isinstance(v[0], dict)]
    if len(record_lists) == 1:
        return record_lists[0]  # an API wrapper such as {"results": [...], "count": 3}
    raise UserError("data.error.json_shape", name=name)


def _stringify_nested(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple[Message, ...]]:
    # Lists and objects inside cells cannot be hashed or counted by the profiler; JSON text can.
    nested = []
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if values.dtype != np.dtype(object):
            continue
        mask = values.map(lambda v: isinstance(v, list | dict | tuple | np.ndarray))
        if mask.any():
            frame.isetitem(position, values.where(~mask, values[mask].map(_json_text)))
            nested.append(str(frame.columns[position]))
    if not nested:
        return frame, ()
    return frame, (Message("data.notice.nested_values", {"columns": _short_list(nested)}),)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


_READERS = {
    "csv": _read_csv,
    "excel": _read_excel,
    "parquet": _read_parquet,
    "json": _read_json,
    "jsonl": _read_json_lines,
}


# --- samples -----------------------------------------------------------------------------------


def _line_sample() -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(20240601)
    x = np.round(rng.uniform(-5.0, 5.0, 200), 3)
    y = np.round(2.0 * x + 1.0 + rng.normal(0.0, 1.0, 200), 3)
    return pd.DataFrame({"x": x, "y": y}), "1"


def _sklearn_sample(loader_name: str, target: str, labelled: bool) -> tuple[pd.DataFrame, str]:
    import sklearn
    from sklearn import datasets

    # Diabetes unscaled: ages in years and blood pressure in mm Hg read better than z-scores.
    extra = {"scaled": False} if loader_name == "load_diabetes" else {}
    bunch = getattr(datasets, loader_name)(as_frame=True, **extra)
    frame = bunch.frame.copy()
    codes = frame.pop("target")
    if labelled:
        names = np.asarray(bunch.target_names, dtype=object)
        frame[target] = pd.Series(names[codes.to_numpy()], index=frame.index, dtype="str")
    else:
        frame[target] = codes
    return frame, sklearn.__version__


def _plotly_sample(loader_name: str) -> tuple[pd.DataFrame, str]:
    import plotly
    from plotly.express import data as px_data

    frame = getattr(px_data, loader_name)(return_type="pandas")
    return pd.DataFrame(frame), plotly.__version__


_SAMPLE_BUILDERS = {
    "line": _line_sample,
    "iris": lambda: _sklearn_sample("load_iris", "species", labelled=True),
    "wine": lambda: _sklearn_sample("load_wine", "cultivar", labelled=True),
    "breast_cancer": lambda: _sklearn_sample("load_breast_cancer", "diagnosis", labelled=True),
    "diabetes": lambda: _sklearn_sample("load_diabetes", "progression", labelled=False),
    "tips": lambda: _plotly_sample("tips"),
    "gapminder": lambda: _plotly_sample("gapminder"),
}
