"""Tests for core.data.loading: every format, detection, overrides, bad input and samples."""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
import string
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core.data.loading as data_module
from core.data.loading import (
    SAMPLES,
    SUPPORTED_EXTENSIONS,
    Dataset,
    ParseOptions,
    load_bytes,
    load_path,
    load_sample,
    max_upload_bytes,
)
from core.i18n import LANGUAGES, UserError, catalog_for


@pytest.fixture(autouse=True)
def strict_i18n(monkeypatch: pytest.MonkeyPatch) -> None:
    # A missing catalog key must fail the test instead of showing the raw key.
    monkeypatch.setenv("MODELDESK_STRICT_I18N", "1")


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for sheet, frame in sheets.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return buffer.getvalue()


def parquet_bytes(frame: pd.DataFrame, index: bool | None = None) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=index)
    return buffer.getvalue()


def assert_user_error(error: pytest.ExceptionInfo[UserError], key: str) -> None:
    assert error.value.message.key == key
    english, chinese = error.value.text("en"), error.value.text("zh")
    assert english and chinese and english != chinese
    assert key not in (english, chinese)


def notice_keys(dataset: Dataset) -> list[str]:
    return [notice.key for notice in dataset.notices]


# --- encodings ---------------------------------------------------------------------------------


def test_utf8_csv_loads_with_detected_choices() -> None:
    dataset = load_bytes("name,score\nAna,1.5\nBjörk,2\n".encode(), "people.csv")

    assert dataset.frame.columns.tolist() == ["name", "score"]
    assert dataset.frame["name"].tolist() == ["Ana", "Björk"]
    assert dataset.frame["score"].dtype == np.float64
    assert (dataset.file_format, dataset.encoding) == ("csv", "utf-8")
    assert (dataset.delimiter, dataset.decimal) == (",", ".")
    assert dataset.name == "people.csv"
    assert dataset.notices == ()
    assert dataset.target_suggestion is None


def test_utf8_with_bom_is_detected_and_the_bom_stays_out_of_the_header() -> None:
    dataset = load_bytes("\ufeffcity,count\nMünchen,3\n".encode(), "bom.csv")

    assert dataset.encoding == "utf-8-sig"
    assert dataset.frame.columns.tolist() == ["city", "count"]
    assert dataset.frame["city"].tolist() == ["München"]


def test_gbk_chinese_headers_and_values() -> None:
    text = "姓名,城市,收入\n张三,北京,12000\n李四,上海,15000.5\n王五,广州,9000\n"

    dataset = load_bytes(text.encode("gbk"), "客户.csv")

    assert dataset.encoding == "gb18030"
    assert dataset.frame.columns.tolist() == ["姓名", "城市", "收入"]
    assert dataset.frame["城市"].tolist() == ["北京", "上海", "广州"]
    assert dataset.frame["收入"].tolist() == [12000.0, 15000.5, 9000.0]


def test_latin1_is_the_fallback_and_the_user_is_told() -> None:
    text = "name;city\nMüller;Zürich\nJosé;Málaga\nRenée;Besançon\n"

    dataset = load_bytes(text.encode("latin-1"), "latin.csv")

    assert dataset.encoding == "latin-1"
    assert dataset.frame["city"].tolist() == ["Zürich", "Málaga", "Besançon"]
    assert notice_keys(dataset) == ["data.notice.encoding_guessed"]


def test_utf8_detection_sees_a_character_split_across_read_chunks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(data_module, "_DECODE_CHUNK", 7)  # splits the two-byte "é" characters
    raw = "word,n\ncafé,1\nthé,2\nnaïve,3\n".encode()
    path = tmp_path / "words.csv"
    path.write_bytes(raw)

    assert load_bytes(raw, "words.csv").encoding == "utf-8"
    assert load_path(path).encoding == "utf-8"
    assert load_path(path).frame["word"].tolist() == ["café", "thé", "naïve"]


def test_utf16_text_as_saved_by_excel_unicode_text() -> None:
    dataset = load_bytes("name\tcity\nJosé\tMálaga\n".encode("utf-16"), "unicode.txt")

    assert (dataset.encoding, dataset.delimiter) == ("utf-16", "\t")
    assert dataset.frame["city"].tolist() == ["Málaga"]


# --- delimiters and decimal marks --------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delimiter: str) -> None:
    rows = [["city", "population", "note"], ["Oslo", "709000", "capital"], ["Bergen", "285000", ""]]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"

    dataset = load_bytes(text.encode(), "cities.txt")

    assert dataset.delimiter == delimiter
    assert dataset.frame.columns.tolist() == ["city", "population", "note"]
    assert dataset.frame["population"].tolist() == [709000, 285000]


def test_tsv_with_commas_inside_values() -> None:
    text = "name\tdescription\nA\tred, round\nB\tgreen, long\n"

    dataset = load_bytes(text.encode(), "fruit.tsv")

    assert dataset.delimiter == "\t"
    assert dataset.frame["description"].tolist() == ["red, round", "green, long"]


def test_decimal_comma_in_semicolon_file_gives_floats() -> None:
    text = "länge;breite;name\n1,5;2,25;a\n-3,75;4;b\n10,0;0,5;c\n"

    dataset = load_bytes(text.encode(), "messung.csv")

    assert (dataset.delimiter, dataset.decimal) == (";", ",")
    assert dataset.frame["länge"].tolist() == [1.5, -3.75, 10.0]
    assert dataset.frame["breite"].dtype == np.float64


def test_decimal_comma_with_thousands_points() -> None:
    dataset = load_bytes(b"betrag;anzahl\n1.234,50;2\n12.000,75;3\n", "beträge.csv")

    assert dataset.decimal == ","
    assert dataset.frame["betrag"].tolist() == [1234.5, 12000.75]


def test_windows_line_endings_and_quoted_delimiters() -> None:
    dataset = load_bytes(b'a;b\r\n1,5;"x;y"\r\n2;z\r\n', "crlf.csv")

    assert dataset.frame["a"].tolist() == [1.5, 2.0]
    assert dataset.frame["b"].tolist() == ["x;y", "z"]


def test_dates_become_datetime_columns() -> None:
    dataset = load_bytes(b"day,n\n2024-01-05,1\n,2\n2024-02-29,3\n", "days.csv")

    assert pd.api.types.is_datetime64_any_dtype(dataset.frame["day"])
    assert dataset.frame["day"].iloc[2] == pd.Timestamp("2024-02-29")


def test_quoted_newlines_and_short_rows_still_load() -> None:
    # pyarrow refuses these; the loader falls back to the C engine.
    text = 'id,comment,score\n1,"first line\nsecond line",3\n2,short\n'

    dataset = load_bytes(text.encode(), "notes.csv")

    assert dataset.frame["comment"].tolist() == ["first line\nsecond line", "short"]
    assert math.isnan(dataset.frame["score"].iloc[1])


# --- overrides ---------------------------------------------------------------------------------


def test_encoding_override_is_used() -> None:
    raw = "name,city\nJosé,Málaga\n".encode()

    dataset = load_bytes(raw, "x.csv", ParseOptions(encoding="ISO-8859-1"))

    assert dataset.encoding == "latin-1"
    assert dataset.frame["name"].tolist() == ["JosÃ©"]  # what the user asked for, mojibake and all


def test_gb18030_override_reads_chinese() -> None:
    dataset = load_bytes("名称;数量\n苹果;3\n".encode("gbk"), "x.csv", ParseOptions("gb18030"))

    assert dataset.encoding == "gb18030"
    assert dataset.frame["名称"].tolist() == ["苹果"]


def test_delimiter_override_is_used() -> None:
    raw = b"a;b,c\nx;y,z\n"

    assert load_bytes(raw, "x.csv").delimiter == ","
    dataset = load_bytes(raw, "x.csv", ParseOptions(delimiter=";"))
    assert dataset.delimiter == ";"
    assert dataset.frame.columns.tolist() == ["a", "b,c"]
    assert dataset.frame["b,c"].tolist() == ["y,z"]


def test_decimal_override_is_used() -> None:
    raw = b"a;b\n1.5;x\n2.5;y\n"

    assert load_bytes(raw, "x.csv").frame["a"].tolist() == [1.5, 2.5]
    dataset = load_bytes(raw, "x.csv", ParseOptions(decimal=","))
    assert dataset.decimal == ","
    assert dataset.frame["a"].tolist() == ["1.5", "2.5"]  # read as text, as asked


def test_decimal_point_override_keeps_comma_numbers_as_text() -> None:
    dataset = load_bytes(b"a;b\n1,5;x\n", "x.csv", ParseOptions(decimal="."))

    assert dataset.decimal == "."
    assert dataset.frame["a"].tolist() == ["1,5"]


# --- Excel, Parquet, JSON ----------------------------------------------------------------------


def test_xlsx_lists_sheets_reads_first_by_default_and_second_on_request() -> None:
    first = pd.DataFrame({"x": [1, 2], "label": ["a", "b"]})
    second = pd.DataFrame({"price": [9.5, 7.25, 3.0], "item": ["pen", "ink", "pad"]})
    raw = xlsx_bytes({"Summary": first, "Orders": second})

    default = load_bytes(raw, "book.XLSX")
    chosen = load_bytes(raw, "book.xlsx", ParseOptions(sheet="Orders"))

    assert default.file_format == "excel"
    assert default.sheets == ("Summary", "Orders")
    assert default.sheet == "Summary"
    assert default.frame.columns.tolist() == ["x", "label"]
    assert chosen.sheet == "Orders"
    assert chosen.frame["price"].tolist() == [9.5, 7.25, 3.0]
    assert chosen.frame["item"].tolist() == ["pen", "ink", "pad"]


def test_xlsx_duplicate_headers_get_our_suffixes() -> None:
    raw = xlsx_bytes({"S": pd.DataFrame([[1, 2, 3]], columns=["a", "a", "c"])})

    dataset = load_bytes(raw, "dupes.xlsx")

    assert dataset.frame.columns.tolist() == ["a", "a_2", "c"]
    assert "data.notice.duplicate_names" in notice_keys(dataset)


def test_parquet_round_trip() -> None:
    frame = pd.DataFrame({"n": [1, 2, 3], "f": [0.5, np.nan, 2.0], "s": ["a", "b", None]})

    dataset = load_bytes(parquet_bytes(frame), "t.parquet")

    assert dataset.file_format == "parquet"
    assert dataset.encoding is None
    pd.testing.assert_frame_equal(dataset.frame, frame, check_dtype=False)


def test_parquet_saved_index_comes_back_as_a_column() -> None:
    frame = pd.DataFrame({"id": [7, 8], "v": [1.0, 2.0]}).set_index("id")

    dataset = load_bytes(parquet_bytes(frame, index=True), "indexed.parquet")

    assert dataset.frame.columns.tolist() == ["id", "v"]
    assert dataset.frame["id"].tolist() == [7, 8]


def test_json_array_of_records() -> None:
    records = [{"a": 1, "b": "x", "c": None}, {"a": 2, "b": "y", "c": 3.5}]

    dataset = load_bytes(json.dumps(records).encode(), "r.json")

    assert dataset.file_format == "json"
    assert dataset.encoding == "utf-8"
    assert dataset.frame.columns.tolist() == ["a", "b", "c"]
    assert dataset.frame["b"].tolist() == ["x", "y"]


@pytest.mark.parametrize(
    "payload",
    [
        {"columns": ["a", "b"], "index": [0, 1], "data": [[1, "x"], [2, "y"]]},
        {"a": [1, 2], "b": ["x", "y"]},
        {"a": {"0": 1, "1": 2}, "b": {"0": "x", "1": "y"}},
        {"count": 2, "results": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]},
    ],
    ids=["split", "dict-of-lists", "columns", "wrapped-records"],
)
def test_json_pandas_layouts(payload: dict) -> None:
    dataset = load_bytes(json.dumps(payload).encode(), "layout.json")

    assert dataset.frame.columns.tolist() == ["a", "b"]
    assert dataset.frame["a"].tolist() == [1, 2]


def test_json_pandas_table_orient() -> None:
    raw = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_json(orient="table").encode()

    assert load_bytes(raw, "table.json").frame.columns.tolist() == ["a", "b"]


def test_json_nested_objects_flatten_and_lists_become_text() -> None:
    records = [{"id": 1, "who": {"name": "Ann"}, "tags": ["x", "y"]}, {"id": 2, "tags": []}]

    dataset = load_bytes(json.dumps(records).encode(), "nested.json")

    assert dataset.frame.columns.tolist() == ["id", "tags", "who.name"]
    assert dataset.frame["tags"].tolist() == ['["x", "y"]', "[]"]
    assert notice_keys(dataset) == ["data.notice.nested_values"]


@pytest.mark.parametrize("filename", ["events.jsonl", "events.ndjson", "events.json"])
def test_json_lines(filename: str) -> None:
    raw = b'{"a": 1, "b": "x"}\n\n{"a": 2, "b": "y", "c": true}\n'

    dataset = load_bytes(raw, filename)

    assert dataset.file_format == "jsonl"
    assert dataset.frame.columns.tolist() == ["a", "b", "c"]
    assert dataset.frame["a"].tolist() == [1, 2]


# --- column names ------------------------------------------------------------------------------


def test_duplicate_column_names_are_renamed_with_a_notice() -> None:
    dataset = load_bytes(b"a,a,b,a ,a_2\n1,2,3,4,5\n", "dupes.csv")

    assert dataset.frame.columns.tolist() == ["a", "a_3", "b", "a_4", "a_2"]
    assert dataset.frame.iloc[0].tolist() == [1, 2, 3, 4, 5]
    assert notice_keys(dataset) == ["data.notice.duplicate_names"]
    message = dataset.notices[0].text("en")
    assert "a → a_3" in message and "a → a_4" in message


def test_blank_column_names_are_named_by_position() -> None:
    dataset = load_bytes(b"a,,b,\n1,2,3,4\n", "blank.csv")

    assert dataset.frame.columns.tolist() == ["a", "column_2", "b", "column_4"]
    assert notice_keys(dataset) == ["data.notice.blank_names"]


def test_long_column_names_are_shortened_and_stay_unique() -> None:
    long_name = "x" * 300
    text = f"{long_name},{long_name}y,short\n1,2,3\n"

    dataset = load_bytes(text.encode(), "long.csv")

    first, second, third = dataset.frame.columns
    assert first == "x" * 100
    assert second == "x" * 98 + "_2"
    assert third == "short"
    assert notice_keys(dataset) == ["data.notice.long_names", "data.notice.duplicate_names"]
    assert "2" in dataset.notices[0].text("en")


def test_html_and_markdown_column_names_are_kept_as_literal_text() -> None:
    names = ["<b>bold</b>", "**stars**", "[link](http://example.com)", "<script>alert(1)</script>"]
    text = ",".join(f'"{name}"' for name in names) + "\n1,2,3,4\n"

    dataset = load_bytes(text.encode(), "html.csv")

    assert dataset.frame.columns.tolist() == names
    assert dataset.notices == ()


def test_column_names_are_always_strings() -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=[0, 2020, "name"])

    dataset = load_bytes(xlsx_bytes({"S": frame}), "numbers.xlsx")

    assert all(isinstance(name, str) for name in dataset.frame.columns)
    assert dataset.frame.columns.tolist() == ["0", "2020", "name"]


# --- awkward values ----------------------------------------------------------------------------


def test_mixed_type_column_loads_as_text() -> None:
    dataset = load_bytes(b"id,value\n1,10\n2,ten\n3,30.5\n4,\n", "mixed.csv")

    values = dataset.frame["value"]
    assert values.dtype == object or pd.api.types.is_string_dtype(values)
    assert values.iloc[:3].tolist() == ["10", "ten", "30.5"]
    assert pd.isna(values.iloc[3])


def test_infinities_load_as_float() -> None:
    dataset = load_bytes(b"x,y\n1,inf\n2,-inf\n3,Infinity\n4,-Infinity\n5,2.5\n", "inf.csv")

    y = dataset.frame["y"]
    assert y.dtype == np.float64
    assert np.isinf(y.iloc[:4]).all()
    assert y.iloc[4] == 2.5


# --- bad input ---------------------------------------------------------------------------------


def test_empty_file() -> None:
    for raw in (b"", b"   \n\t\r\n", b"\xef\xbb\xbf\n"):
        with pytest.raises(UserError) as error:
            load_bytes(raw, "empty.csv")
        assert_user_error(error, "data.error.empty")


@pytest.mark.parametrize(
    ("raw", "filename"),
    [
        (b"a,b,c\n", "header.csv"),
        (b"a,b,c", "header.csv"),
        (b"[]", "empty.json"),
        (xlsx_bytes({"S": pd.DataFrame(columns=["a", "b"])}), "header.xlsx"),
    ],
    ids=["csv", "csv-no-newline", "json", "xlsx"],
)
def test_header_only_file(raw: bytes, filename: str) -> None:
    with pytest.raises(UserError) as error:
        load_bytes(raw, filename)
    assert_user_error(error, "data.error.no_rows")


def test_random_bytes_named_csv() -> None:
    raw = random.Random(0).randbytes(5000)

    with pytest.raises(UserError) as error:
        load_bytes(raw, "noise.csv")
    assert_user_error(error, "data.error.binary")


def test_png_named_csv() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"

    with pytest.raises(UserError) as error:
        load_bytes(png + bytes(64), "picture.csv")
    assert_user_error(error, "data.error.binary")


def test_text_named_xlsx_says_it_is_not_a_workbook() -> None:
    with pytest.raises(UserError) as error:
        load_bytes(b"a,b\n1,2\n", "table.xlsx")
    assert_user_error(error, "data.error.text_named_xlsx")
    assert ".csv" in error.value.text("en") and ".xlsx" in error.value.text("en")


def test_workbook_named_csv_says_rename_to_xlsx() -> None:
    raw = xlsx_bytes({"S": pd.DataFrame({"a": [1]})})

    with pytest.raises(UserError) as error:
        load_bytes(raw, "actually_excel.csv")
    assert_user_error(error, "data.error.looks_like_excel")


def test_parquet_named_csv_says_rename_to_parquet() -> None:
    with pytest.raises(UserError) as error:
        load_bytes(parquet_bytes(pd.DataFrame({"a": [1]})), "actually.csv")
    assert_user_error(error, "data.error.looks_like_parquet")


def test_zip_that_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<xml/>")

    with pytest.raises(UserError) as error:
        load_bytes(buffer.getvalue(), "letter.xlsx")
    assert_user_error(error, "data.error.not_excel")


def test_unsupported_extension_lists_the_supported_ones() -> None:
    with pytest.raises(UserError) as error:
        load_bytes(b"a,b\n1,2\n", "report.docx")
    assert_user_error(error, "data.error.unsupported_format")
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in error.value.text("en")


@pytest.mark.parametrize(
    ("filename", "key"),
    [("old.xls", "data.error.xls_unsupported"), ("README", "data.error.no_extension")],
)
def test_other_unreadable_names(filename: str, key: str) -> None:
    with pytest.raises(UserError) as error:
        load_bytes(b"a,b\n1,2\n", filename)
    assert_user_error(error, key)


def test_file_above_the_size_limit_states_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELDESK_MAX_UPLOAD_MB", "1")
    raw = b"a,b\n" + b"1,2\n" * 300_000  # 1.2 MB

    assert max_upload_bytes() == 1024 * 1024
    with pytest.raises(UserError) as error:
        load_bytes(raw, "big.csv")
    assert_user_error(error, "data.error.too_large")
    assert "1 MB" in error.value.text("en") and "1 MB" in error.value.text("zh")

    with pytest.raises(UserError) as error:
        load_bytes(b"a,b\n1,2\n", "small.csv", max_bytes=4)
    assert_user_error(error, "data.error.too_large")
    assert len(load_bytes(raw, "big.csv", max_bytes=len(raw)).frame) == 300_000


def test_default_size_limit_is_200_mb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELDESK_MAX_UPLOAD_MB", raising=False)

    assert max_upload_bytes() == 200 * 1024 * 1024


def test_unknown_sample() -> None:
    with pytest.raises(UserError) as error:
        load_sample("titanic")
    assert_user_error(error, "data.error.unknown_sample")
    assert "iris" in error.value.text("en")


def test_missing_sheet_lists_the_sheets() -> None:
    raw = xlsx_bytes({"One": pd.DataFrame({"a": [1]}), "Two": pd.DataFrame({"b": [2]})})

    with pytest.raises(UserError) as error:
        load_bytes(raw, "book.xlsx", ParseOptions(sheet="Three"))
    assert_user_error(error, "data.error.sheet_not_found")
    assert "One, Two" in error.value.text("en")


def test_encoding_override_that_cannot_decode() -> None:
    raw = "名字,值\n张三,1\n".encode("gbk")

    with pytest.raises(UserError) as error:
        load_bytes(raw, "x.csv", ParseOptions(encoding="utf-8"))
    assert_user_error(error, "data.error.encoding_failed")
    assert "utf-8" in error.value.text("en")


@pytest.mark.parametrize("encoding", ["klingon", "base64"])
def test_unknown_encoding_name(encoding: str) -> None:
    with pytest.raises(UserError) as error:
        load_bytes(b"a\n1\n", "x.csv", ParseOptions(encoding=encoding))
    assert_user_error(error, "data.error.unknown_encoding")


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (ParseOptions(delimiter=";;"), "data.error.bad_delimiter"),
        (ParseOptions(decimal="'"), "data.error.bad_decimal"),
        (ParseOptions(delimiter=",", decimal=","), "data.error.decimal_is_delimiter"),
    ],
)
def test_impossible_options(options: ParseOptions, key: str) -> None:
    with pytest.raises(UserError) as error:
        load_bytes(b"a,b\n1,2\n", "x.csv", options)
    assert_user_error(error, key)


@pytest.mark.parametrize(
    "raw", [b"a,b\n1,2\n3,4,5\n", b"a,b\n1,2,3\n4,5\n"], ids=["later-row", "first-row"]
)
def test_rows_wider_than_the_header(raw: bytes) -> None:
    with pytest.raises(UserError) as error:
        load_bytes(raw, "ragged.csv")
    assert_user_error(error, "data.error.ragged_rows")
    assert "3" in error.value.text("en")


@pytest.mark.parametrize(
    ("raw", "filename", "key"),
    [
        (b'[{"a": 1}, {"a": 2]', "broken.json", "data.error.bad_json"),
        (b'{"a": 1}\n{"a": \n', "broken.jsonl", "data.error.bad_json"),
        (b"42", "scalar.json", "data.error.json_shape"),
        (b'{"a": 1, "b": "x"}', "object.json", "data.error.json_shape"),
        (b"PAR1" + bytes(range(1, 200)) + b"PAR1", "broken.parquet", "data.error.bad_parquet"),
        (b"a,b\n1,2\n", "text.parquet", "data.error.not_parquet"),
    ],
)
def test_unparseable_json_and_parquet(raw: bytes, filename: str, key: str) -> None:
    with pytest.raises(UserError) as error:
        load_bytes(raw, filename)
    assert_user_error(error, key)


def test_unexpected_library_errors_become_user_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_read_csv(*args: object, **kwargs: object) -> pd.DataFrame:
        raise RuntimeError("something deep inside the parser")

    monkeypatch.setattr(pd, "read_csv", broken_read_csv)

    with pytest.raises(UserError) as error:
        load_bytes(b"a,b\n1,2\n", "x.csv")
    assert_user_error(error, "data.error.unreadable")
    assert "something deep inside the parser" in error.value.text("en")


def test_load_path_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError) as error:
        load_path(tmp_path / "nope.csv")
    assert_user_error(error, "data.error.not_found")

    with pytest.raises(UserError) as error:
        load_path(tmp_path)
    assert error.value.message.key in ("data.error.not_a_file", "data.error.no_extension")


# --- load_path, hashing ------------------------------------------------------------------------


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    raw = b"a,b\n1,2\n3,4\n"
    path = tmp_path / "h.csv"
    path.write_bytes(raw)

    assert load_bytes(raw, "h.csv").sha256 == hashlib.sha256(raw).hexdigest()
    assert load_path(path).sha256 == hashlib.sha256(raw).hexdigest()
    assert load_bytes(raw, "h.csv").size_bytes == len(raw)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("k;v\n1,5;ä\n2,5;ö\n", "utf-8"),
        ("\ufeffk,v\n1,x\n", "utf-8-sig"),
        ("名字,值\n张三,1\n", "gbk"),
        ("name\tcity\nJosé\tMálaga\n", "latin-1"),
    ],
)
def test_load_path_matches_load_bytes(tmp_path: Path, text: str, encoding: str) -> None:
    raw = text.encode(encoding)
    path = tmp_path / "same.csv"
    path.write_bytes(raw)

    from_path, from_bytes = load_path(path), load_bytes(raw, "same.csv")

    pd.testing.assert_frame_equal(from_path.frame, from_bytes.frame)
    for field in ("name", "sha256", "size_bytes", "encoding", "delimiter", "decimal", "notices"):
        assert getattr(from_path, field) == getattr(from_bytes, field)


def test_load_path_reads_every_format(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    files = {
        "t.xlsx": xlsx_bytes({"S": frame}),
        "t.parquet": parquet_bytes(frame),
        "t.json": frame.to_json(orient="records").encode(),
        "t.jsonl": frame.to_json(orient="records", lines=True).encode(),
        "t.tsv": frame.to_csv(sep="\t", index=False).encode(),
    }
    for filename, raw in files.items():
        (tmp_path / filename).write_bytes(raw)
        dataset = load_path(tmp_path / filename)
        assert dataset.frame["a"].tolist() == [1, 2], filename
        assert dataset.frame["b"].tolist() == ["x", "y"], filename


def test_load_path_has_no_upload_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELDESK_MAX_UPLOAD_MB", "1")
    path = tmp_path / "big.csv"
    path.write_bytes(b"a\n" + b"1\n" * 600_000)

    assert len(load_path(path).frame) == 600_000


# --- samples -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_loads_with_its_target(name: str) -> None:
    sample = SAMPLES[name]

    dataset = load_sample(name)

    assert dataset.name == name
    assert dataset.file_format == "sample"
    assert dataset.target_suggestion == sample.target
    assert sample.target in dataset.frame.columns
    assert len(dataset.frame) > 0
    assert dataset.frame[sample.target].notna().all()
    assert re.fullmatch(r"[0-9a-f]{64}", dataset.sha256)
    assert dataset.size_bytes > 0
    for lang in LANGUAGES:
        assert sample.title_key in catalog_for(lang)
        assert sample.description_key in catalog_for(lang)


def test_sample_targets_are_readable() -> None:
    assert set(load_sample("iris").frame["species"]) == {"setosa", "versicolor", "virginica"}
    assert set(load_sample("breast_cancer").frame["diagnosis"]) == {"malignant", "benign"}
    assert load_sample("wine").frame["cultivar"].nunique() == 3
    assert load_sample("diabetes").frame["progression"].dtype == np.float64


def test_line_sample_is_reproducible_and_close_to_2x_plus_1() -> None:
    first, second = load_sample("line"), load_sample("line")

    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert first.sha256 == second.sha256
    slope, intercept = np.polyfit(first.frame["x"], first.frame["y"], 1)
    assert abs(slope - 2) < 0.2 and abs(intercept - 1) < 0.5


# --- catalog -----------------------------------------------------------------------------------


def test_every_key_used_in_core_data_exists_in_both_catalogs() -> None:
    source = Path(data_module.__file__).read_text(encoding="utf-8")
    keys = set(re.findall(r"\"(data\.(?:error|notice|sample)\.[a-z0-9_.]+)\"", source))

    assert len(keys) > 30
    for lang in LANGUAGES:
        missing = keys - set(catalog_for(lang))
        assert not missing, (lang, missing)


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    locales = Path(data_module.__file__).parents[1] / "locales"
    english = json.loads((locales / "en" / "data.json").read_text(encoding="utf-8"))
    chinese = json.loads((locales / "zh" / "data.json").read_text(encoding="utf-8"))
    formatter = string.Formatter()

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in formatter.parse(text) if name}

    assert english.keys() == chinese.keys()
    for key in english:
        assert fields(english[key]) == fields(chinese[key]), key
        assert english[key] != chinese[key], key
