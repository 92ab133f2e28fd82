"""python -m core train: the contract (docs/ARCHITECTURE.md), a config that reproduces, errors."""

import io
import json
import math
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from core.cli.main import main
from core.data.loading import load_sample
from core.train.runner import RunConfig, default_config

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("config.json", "history.csv", "metrics.json", "bundle.zip")
CLASSIFICATION_KEYS = {"accuracy", "balanced_accuracy", "f1", "roc_auc"}
REGRESSION_KEYS = {"r2", "rmse", "mae"}


def run_cli(*args: object, lang: str = "en_US.UTF-8") -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": lang,
        "PYTHONPATH": str(ROOT),
        "MODELDESK_STRICT_I18N": "1",  # a missing translation fails loudly here too
    }
    return subprocess.run(
        [sys.executable, "-m", "core", "train", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_main(*args: object) -> subprocess.CompletedProcess:
    """main() in this process, its exit code and output shaped like run_cli's."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["train", *map(str, args)])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def small_config(frame: pd.DataFrame, target: str, path: Path, **train: object) -> Path:
    """The default config with few epochs, so a test trains in about a second."""
    config = default_config(frame, target)
    changes = {"epochs": 5, "early_stopping": False, **train}
    config = replace(config, train=replace(config.train, **changes))
    path.write_text(config.to_json(), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


@pytest.fixture(scope="module")
def iris(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("iris")
    frame = load_sample("iris").frame
    data = folder / "iris.csv"
    frame.to_csv(data, index=False)
    return data, small_config(frame, "species", folder / "small.json")


@pytest.fixture(scope="module")
def trained(iris, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    data, config = iris
    out = tmp_path_factory.mktemp("run") / "out"
    return run_cli(data, "--target", "species", "--out", out, "--config", config), out


def assert_one_line_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_train_writes_the_four_files_with_contract_metrics(trained):
    result, out = trained
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # TensorFlow's start-up chatter stays off stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) >= CLASSIFICATION_KEYS
    assert set(metrics["baselines"]) == {"majority", "logistic", "boosting"}
    for baseline in metrics["baselines"].values():
        assert set(baseline) >= CLASSIFICATION_KEYS
    assert set(metrics["validation"]) >= CLASSIFICATION_KEYS
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(history.columns)
    assert "Accuracy" in result.stdout and "Logistic regression" in result.stdout


def test_the_written_config_reproduces_the_run_exactly(iris, trained, tmp_path):
    data, given = iris
    result, out = trained
    assert result.returncode == 0, result.stderr
    written = RunConfig.from_json((out / "config.json").read_text(encoding="utf-8"))
    assert written == RunConfig.from_json(given.read_text(encoding="utf-8"))
    again = run_cli(data, "--target", "species", "--out", tmp_path, "--config", out / "config.json")
    assert again.returncode == 0, again.stderr
    for name in ("history.csv", "metrics.json", "config.json"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_regression_with_a_seed(tmp_path):
    frame = load_sample("diabetes").frame
    data = tmp_path / "diabetes.csv"
    frame.to_csv(data, index=False)
    config = small_config(frame, "progression", tmp_path / "small.json", epochs=3)
    out = tmp_path / "out"
    result = run_cli(data, "--target", "progression", "--out", out, "--config", config, "--seed", 7)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) >= REGRESSION_KEYS
    assert set(metrics["baselines"]) == {"mean", "linear", "boosting"}
    written = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert written["preprocess"]["seed"] == written["train"]["seed"] == 7


def test_a_blown_up_loss_is_bad_settings_in_one_line(tmp_path):
    # Targets in the tens of millions and plain SGD at rate 1: the first steps overflow.
    rows = [
        f"{math.sin(i):.6f},{3 * math.cos(i):.6f},{(math.sin(i) + i) * 1e7}" for i in range(120)
    ]
    data = tmp_path / "huge.csv"
    data.write_text("a,b,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    frame = pd.read_csv(data)
    config = small_config(
        frame, "y", tmp_path / "wild.json", optimizer="sgd", learning_rate=1.0, epochs=20
    )
    result = run_cli(data, "--target", "y", "--out", tmp_path / "out", "--config", config)
    assert_one_line_error(result)
    assert "learning rate" in result.stderr
    assert not (tmp_path / "out").exists()


def _table(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-file", "does not exist"),
        ("unknown-target", "isn't in this table"),
        ("single-class", "only one class"),
        ("config-not-json", "isn't valid JSON"),
        ("config-not-a-config", "isn't a ModelDesk run config"),
        ("config-for-another-target", "--target"),
        ("missing-config", "does not exist"),
        ("out-is-a-file", "is a file, not a folder"),
        ("negative-seed", "seed"),
        ("bad-train-field", "epochs"),
    ],
)
def test_bad_input_exits_2_with_one_line(iris, tmp_path, case, expected):
    data, config = iris
    out = tmp_path / "out"
    one_class = _table(tmp_path, "one.csv", "a,b\n1,x\n2,x\n3,x\n4,x\n")
    bad = {
        "missing-file": (tmp_path / "absent.csv", "--target", "species", "--out", out),
        "unknown-target": (data, "--target", "colour", "--out", out),
        "single-class": (one_class, "--target", "b", "--out", out),
        "config-not-json": (
            data, "--target", "species", "--out", out,
            "--config", _table(tmp_path, "not-json.json", "{not json"),
        ),
        "config-not-a-config": (
            data, "--target", "species", "--out", out,
            "--config", _table(tmp_path, "other.json", '{"epochs": 5}'),
        ),
        "config-for-another-target": (data, "--target", "petal width (cm)", "--out", out,
                                      "--config", config),
        "missing-config": (data, "--target", "species", "--out", out,
                           "--config", tmp_path / "nope.json"),
        "out-is-a-file": (data, "--target", "species", "--out", data),
        "negative-seed": (data, "--target", "species", "--out", out, "--seed", -1),
        "bad-train-field": (
            data, "--target", "species", "--out", out,
            "--config", _table(tmp_path, "zero.json", _with_train(config, epochs=0)),
        ),
    }[case]  # fmt: skip
    # In-process: bad input is caught before TensorFlow loads, so this stays fast.
    result = run_main(*bad)
    assert_one_line_error(result)
    assert expected.lower() in result.stderr.lower()
    assert not out.exists()


def test_usage_errors_are_one_line(iris):
    data, _config = iris
    for args in ((data,), (data, "--target", "species"), (data, "--out", "x", "--seed", "one")):
        result = run_main(*args)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_errors_follow_lang(iris, tmp_path):
    data, config = iris
    result = run_cli(
        data, "--target", "sepal", "--out", tmp_path, "--config", config, lang="zh_CN.UTF-8"
    )
    assert_one_line_error(result)
    assert "目标列" in result.stderr


def _with_train(config: Path, **changes: object) -> str:
    data = json.loads(config.read_text(encoding="utf-8"))
    data["train"].update(changes)
    return json.dumps(data)
