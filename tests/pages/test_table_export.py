"""A table of user data never hands a spreadsheet formula to the table
toolbar's "Download as CSV": the toolbar's export is off (config), and the tables that show
uploaded values are neutralised before they are drawn."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
from apptest_helpers import open_app
from streamlit import config as streamlit_config

from core.export_safety import FORMULA_STARTS

ROOT = Path(__file__).resolve().parents[2]
FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|x"]


def formula_cells(frame: pd.DataFrame) -> list[str]:
    cells = [str(name) for name in frame.columns]
    cells += [v for column in frame.columns for v in frame[column].tolist() if isinstance(v, str)]
    return [cell for cell in cells if cell.startswith(FORMULA_STARTS)]


def test_the_table_toolbar_export_is_off():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["client"]["disableDataExport"] is True
    # The option exists in this Streamlit (a misspelt option would be ignored silently).
    assert "client.disableDataExport" in streamlit_config._config_options_template


def test_the_data_page_shows_formula_cells_quoted():
    frame = pd.DataFrame(
        {"id": range(6), "note": FORMULAS * 2, FORMULAS[0]: ["a", "b"] * 3, "y": [0, 1] * 3}
    )
    at = open_app("en", "pages/data.py")
    at.file_uploader[0].set_value(("evil.csv", frame.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert "dataset" in at.session_state
    assert at.dataframe, "the page shows tables"
    for table in at.dataframe:
        assert formula_cells(table.value) == [], table.value
    preview = at.dataframe[-1].value
    assert "'" + FORMULAS[0] in preview.columns
    assert preview["note"].tolist()[:3] == ["'" + f for f in FORMULAS]
