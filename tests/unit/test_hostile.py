"""Hostile uploads and payloads are refused by their declared size, with one clear
message in each language, before anything large is built; the CLI exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hostile_cases import CASES

from core import limits
from core.data.loading import load_bytes
from core.i18n import LANGUAGES, UserError, catalog_for
from core.prep.preprocessing import Preprocessor, PreprocessSpec, default_spec

ROOT = Path(__file__).resolve().parents[2]


def test_the_suite_has_at_least_30_generated_cases():
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_each_hostile_upload_is_refused_clearly_or_loaded_harmlessly(case):
    try:
        dataset = load_bytes(case.data, case.filename)
    except UserError as error:
        assert case.expect in ("refused", "either"), f"{case.id} was refused: {error}"
        for lang in LANGUAGES:
            text = error.text(lang)
            assert text and error.message.key not in text and "Traceback" not in text
        assert error.message.key in catalog_for("zh")
        return
    assert case.expect in ("loaded", "either"), f"{case.id} loaded as {dataset.frame.shape}"
    names = list(dataset.frame.columns)
    assert len(set(names)) == len(names) and all(str(name).strip() for name in names)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "LANG": "en_US.UTF-8", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


# One subprocess per format family keeps the suite short; every case runs through load_bytes above.
CLI_CASES = [
    "xlsx_far_cell",
    "xlsx_zip_bomb",
    "parquet_60m_cells",
    "csv_50000_columns",
    "json_nested_50000",
    "nul_bytes_csv",
    "xlsx_named_csv",
]


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_cli_profile_refuses_with_exit_2_and_one_line(case_id, tmp_path):
    case = next(case for case in CASES if case.id == case_id)
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    result = run_cli("profile", str(path))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_declared_sizes_are_configurable(monkeypatch):
    monkeypatch.setenv("MODELDESK_MAX_COLUMNS", "3")
    with pytest.raises(UserError) as error:
        load_bytes(b"a,b,c,d\n1,2,3,4\n", "four.csv")
    assert error.value.message.key == "limits.error.too_many_columns"
    monkeypatch.setenv("MODELDESK_MAX_COLUMNS", "not a number")
    assert limits.max_columns() == 2_000


def id_table(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"user-{i}" for i in range(rows)], "y": np.arange(rows) % 2})


def test_a_plan_asking_for_a_billion_categories_is_refused():
    # A plan is hostile input: max_categories 1e9 and min_frequency 0 on an ID column made a
    # dense n x n matrix.
    spec = json.loads(default_spec(id_table(50), "y").to_json())
    for column in spec["columns"]:
        if column["name"] == "id":
            column.update(action="keep", kind="categorical", encoding="onehot")
            column.update(max_categories=1_000_000_000, min_frequency=0)
    with pytest.raises(UserError) as error:
        PreprocessSpec.from_json(json.dumps(spec))
    assert error.value.message.key == "limits.error.too_many_categories"


def test_the_feature_count_is_capped_before_the_matrix_is_built(monkeypatch):
    frame = id_table(400)
    spec = json.loads(default_spec(frame, "y").to_json())
    for column in spec["columns"]:
        if column["name"] == "id":
            column.update(action="keep", kind="categorical", encoding="onehot")
            column.update(max_categories=1_000, min_frequency=0)
    parsed = PreprocessSpec.from_json(json.dumps(spec))
    monkeypatch.setenv("MODELDESK_MAX_FEATURES", "100")
    with pytest.raises(UserError) as error:
        Preprocessor(parsed).fit(frame.drop(columns="y"), frame["y"])
    assert error.value.message.key == "limits.error.too_many_features"


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_plan_config_and_backup_are_user_errors(opening):
    # Nesting is hostile input: 50,000 levels raised RecursionError (a generic error, a
    # traceback in the CLI).
    from core.compliance.evidence import read_backup
    from core.train.runner import RunConfig

    text = opening * 50_000
    for parse in (PreprocessSpec.from_json, RunConfig.from_json, read_backup):
        with pytest.raises(UserError) as error:
            parse(text)
        assert error.value.message.key == "limits.error.json_too_deep"


def test_cli_train_with_a_deep_config_exits_2_with_one_line(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(30)), encoding="utf-8")
    config = tmp_path / "deep.json"
    config.write_text("[" * 50_000, encoding="utf-8")
    result = run_cli(
        "train", str(table), "--target", "y", "--out", str(tmp_path / "o"), "--config", str(config)
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# Round two: each input of the table is refused by its own budget, named in the message (before,
# each took minutes of CPU or gigabytes of memory, or loaded whole).
ROUND_TWO = {
    "parquet_40mb_string": "hostile.error.cell_too_large",
    "xlsx_dimension_lie": "limits.error.too_many_columns",
    "xlsx_1_5m_styles": "hostile.error.too_many_styles",
    "xlsx_unused_strings": "hostile.error.unused_strings",
    "json_30000_keys": "hostile.error.too_many_keys",
    "csv_quoted_newline_header": "limits.error.too_many_columns",
    "xlsx_64mb_inline_cell": "hostile.error.cell_too_large",
    "xlsx_two_far_cells": "limits.error.too_many_columns",
    "jsonl_deep_line": "limits.error.json_too_deep",
}


@pytest.mark.parametrize("case_id", ROUND_TWO)
def test_each_round_two_upload_is_refused_by_its_budget(case_id):
    case = next(case for case in CASES if case.id == case_id)
    with pytest.raises(UserError) as error:
        load_bytes(case.data, case.filename)
    assert error.value.message.key == ROUND_TWO[case_id]


def test_the_budgets_are_settable(monkeypatch):
    case = next(case for case in CASES if case.id == "xlsx_1_5m_styles")
    monkeypatch.setenv("MODELDESK_MAX_XLSX_STYLES", "2000000")
    monkeypatch.setenv("MODELDESK_PARSE_SECONDS", "1")  # the deadline ends the parse instead
    clock = iter([0.0, *[5.0] * 100_000])  # the budget starts at 0; every check is at 5 s
    monkeypatch.setattr(limits, "time", SimpleNamespace(thread_time=lambda: next(clock)))
    with pytest.raises(UserError) as error:
        load_bytes(case.data, case.filename)
    assert error.value.message.key == "hostile.error.too_slow"
    monkeypatch.setenv("MODELDESK_MAX_CELL_KB", "102400")  # 100 MB cells allowed: it loads
    big = next(case for case in CASES if case.id == "parquet_40mb_string")
    assert load_bytes(big.data, big.filename).frame.shape == (1, 2)
