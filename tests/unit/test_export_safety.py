"""Every CSV/Excel the app writes is spreadsheet-safe: no cell runs as a formula."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from core.export_safety import neutralise_cell, neutralise_frame, safe_csv, safe_excel


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-3.5", "-3.5"),
        ("+7", "+7"),
        ("-1e-3", "-1e-3"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (-4.25, -4.25),
        (None, None),
    ],
)
def test_risky_text_is_quoted_and_numbers_stay_numbers(value, expected):
    assert neutralise_cell(value) == expected


def test_a_frame_keeps_numeric_columns_and_quotes_text_and_headers():
    frame = pd.DataFrame(
        {
            "=bad": ["=1+1", "ok"],
            "amount": [-5.0, 3.0],
            "n": [-1, 2],
            "when": pd.to_datetime(["2020-01-01", None]),
        }
    )
    safe = neutralise_frame(frame)
    assert list(safe.columns) == ["'=bad", "amount", "n", "when"]
    assert safe["'=bad"].tolist() == ["'=1+1", "ok"]
    assert safe["amount"].tolist() == [-5.0, 3.0] and safe["n"].dtype == np.int64
    assert frame["=bad"].tolist() == ["=1+1", "ok"], "the input is not changed"


def test_csv_bytes_carry_negative_numbers_as_numbers_and_no_formula():
    frame = pd.DataFrame({"label": ["@x", "-7"], "value": [-1.5, 2.0]})
    text = safe_csv(frame).decode("utf-8-sig")
    assert text.splitlines() == ["label,value", "'@x,-1.5", "-7,2.0"]


def test_excel_cells_are_text_not_formulas():
    frame = pd.DataFrame({"label": ["=1+1", "fine"], "value": [-1.5, 2.0]})
    sheet = openpyxl.load_workbook(io.BytesIO(safe_excel(frame))).active
    assert sheet["A2"].value == "'=1+1" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == -1.5 and sheet["B2"].data_type == "n"
