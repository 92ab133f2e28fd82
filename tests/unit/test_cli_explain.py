"""python -m core explain BUNDLE FILE [--rows N] [--json] [--global] (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from quick_training import trained

from core.cli.main import main
from core.deploy.bundle import predict_frame, read_bundle, write_bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tips_bundle(tmp_path_factory):
    from core.data.loading import load_sample

    prepared, run, config = trained(load_sample("tips").frame, "tip", epochs=3)
    folder = tmp_path_factory.mktemp("cli-explain")
    path = write_bundle(folder / "bundle.zip", prepared, run, config, {})
    rows = prepared.splits.X_test.copy()
    rows.to_csv(folder / "rows.csv", index=False)
    return prepared, path, folder


def test_json_rows_add_up_to_the_bundles_predictions_by_original_column(tips_bundle):
    prepared, path, folder = tips_bundle
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "core", "explain", str(path), str(folder / "rows.csv"),
         "--rows", "4", "--json", "--global"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert "predicted tip" in document["output"]
    assert len(document["rows"]) == 4
    columns = [plan.name for plan in prepared.spec.kept]
    bundle = read_bundle(path)
    predicted = predict_frame(bundle, pd.read_csv(folder / "rows.csv").head(4))["prediction"]
    for row, expected in zip(document["rows"], predicted, strict=True):
        assert list(row["attributions"]) == columns  # "day", "sex"..., never "day_Sun"
        total = row["base_value"] + sum(row["attributions"].values())
        assert total == pytest.approx(expected, rel=1e-3)
        assert row["prediction"] == pytest.approx(expected, rel=1e-3)
    assert set(document["global"]) == set(columns)
    assert document["base_value"] == pytest.approx(document["rows"][0]["base_value"])


def test_text_output_in_chinese_and_the_same_numbers_twice(tips_bundle, capsys, monkeypatch):
    _prepared, path, folder = tips_bundle
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert main(["explain", str(path), str(folder / "rows.csv"), "--rows", "2"]) == 0
    first = capsys.readouterr().out
    assert "解释的对象" in first and "第 1 行" in first and "第 3 行" not in first
    assert main(["explain", str(path), str(folder / "rows.csv"), "--rows", "2"]) == 0
    assert capsys.readouterr().out == first  # deterministic: a fixed seed


def test_unreadable_rows_are_skipped_and_counted(tips_bundle, capsys):
    _prepared, path, folder = tips_bundle
    rows = pd.read_csv(folder / "rows.csv").astype(object)
    rows.loc[0, "total_bill"] = "lots"
    rows.to_csv(folder / "bad.csv", index=False)
    assert main(["explain", str(path), str(folder / "bad.csv"), "--rows", "3", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["rows"]) == 3 and "global" not in document
    assert np.isfinite([row["prediction"] for row in document["rows"]]).all()


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--rows", "0"], "--rows"),
        (["--rows", "many"], "--rows"),
        (["--missing.zip"], None),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tips_bundle, capsys, arguments, words):
    _prepared, path, folder = tips_bundle
    if arguments == ["--missing.zip"]:
        argv = ["explain", str(folder / "missing.zip"), str(folder / "rows.csv")]
    else:
        argv = ["explain", str(path), str(folder / "rows.csv"), *arguments]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    if words:
        assert words in err


def test_a_file_without_readable_rows_is_refused(tips_bundle, capsys):
    _prepared, path, folder = tips_bundle
    rows = pd.read_csv(folder / "rows.csv").head(2).astype(object)
    rows["total_bill"] = "none"
    rows.to_csv(folder / "none.csv", index=False)
    assert main(["explain", str(path), str(folder / "none.csv")]) == 2
    assert "no readable rows" in capsys.readouterr().err
