"""python -m core tune: a leaderboard and the best trial's files, the same run to run."""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import redirect_stderr, redirect_stdout

import pandas as pd
import pytest

from core.cli.main import main
from core.data.loading import load_sample
from core.deploy.bundle import read_bundle
from core.train.runner import RunConfig

OUTPUTS = {"leaderboard.csv", "config.json", "history.csv", "metrics.json", "bundle.zip"}


def tune(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["tune", *map(str, args)])
    return code, out.getvalue(), err.getvalue()


SPACE = {
    "params": [
        {"name": "kind", "type": "categorical", "choices": ["mlp", "tabm"]},
        {"name": "units", "type": "int", "low": 4, "high": 16, "log": True},
        {"name": "learning_rate", "type": "float", "low": 1e-3, "high": 3e-2, "log": True},
        {"name": "ensemble_size", "type": "categorical", "choices": [2, 4]},
    ]
}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    load_sample("iris").frame.to_csv(folder / "iris.csv", index=False)
    (folder / "space.json").write_text(json.dumps(SPACE))
    return folder / "iris.csv"


def test_tune_writes_the_leaderboard_and_the_best_trials_files_the_same_twice(table, tmp_path):
    boards = []
    for name in ("first", "second"):
        out = tmp_path / name
        space = table.parent / "space.json"
        options = ("--trials", 3, "--seed", 7, "--max-epochs", 3, "--space", space)
        code, stdout, stderr = tune(table, "--target", "species", "--out", out, *options)
        assert code == 0, stderr
        assert {p.name for p in out.iterdir()} == OUTPUTS
        assert "leaderboard.csv" in stdout
        boards.append(pd.read_csv(out / "leaderboard.csv"))
    first, second = boards
    assert len(first) == 3 and first["number"].tolist() == [0, 1, 2]
    assert {"rank", "state", "kind", "units", "learning_rate", "val_loss", "val_accuracy"} <= set(
        first.columns
    )
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), second.drop(columns="seconds"))
    out = tmp_path / "first"
    metrics = json.loads((out / "metrics.json").read_text())
    assert "boosting" in metrics["baselines"] and "accuracy" in metrics
    config = RunConfig.from_json((out / "config.json").read_text())
    best = first.loc[first["rank"] == 1].iloc[0]
    assert config.model.kind == best["kind"]
    assert config.train.learning_rate == pytest.approx(best["learning_rate"])
    history = pd.read_csv(out / "history.csv")
    assert len(history) == best["epochs"]
    assert read_bundle(out / "bundle.zip").config == config
    with zipfile.ZipFile(out / "bundle.zip") as zipped:
        assert "predict.py" in zipped.namelist()


@pytest.mark.parametrize(
    "args",
    [("missing.csv", "--target", "species"),
     ("TABLE", "--target", "nope"),
     ("TABLE", "--target", "species", "--trials", 0),
     ("TABLE", "--target", "species", "--budget-seconds", -1),
     ("TABLE", "--target", "species", "--space", "TABLE")],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(table, tmp_path, args):
    args = tuple(table if a == "TABLE" else a for a in args)
    code, _, stderr = tune(*args, "--out", tmp_path / "out")
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1


def test_a_search_space_nested_too_deep_is_refused_as_bad_input(table, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    code, _, stderr = tune(table, "--target", "species", "--space", deep, "--out", tmp_path / "o")
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1
    assert "nest" in stderr.lower() or "deep" in stderr.lower()
