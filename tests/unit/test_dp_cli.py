"""`python -m core train --config` with DP-SGD fields: trains and reports ε; bad values exit 2."""

import json
from dataclasses import replace

import pytest

from core.data.loading import load_sample
from core.train.runner import default_config
from tests.unit.test_cli_train import assert_one_line_error, run_main


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wine")
    frame = load_sample("wine").frame
    data = folder / "wine.csv"
    frame.to_csv(data, index=False)
    config = default_config(frame, "cultivar")
    train = replace(config.train, epochs=3, early_stopping=False, dp=True, dp_epsilon=4.0)
    return data, json.loads(replace(config, train=train).to_json())


def _config(folder, data, **changes):
    for part, fields in changes.items():
        data = {**data, part: {**data[part], **fields}}
    path = folder / "config.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_dp_config_trains_and_reports_the_epsilon_spent(wine, tmp_path):
    data, config = wine
    out = tmp_path / "out"
    result = run_main(
        data, "--target", "cultivar", "--out", out, "--config", _config(tmp_path, config)
    )
    assert result.returncode == 0, result.stderr
    privacy = json.loads((out / "metrics.json").read_text())["privacy"]
    assert privacy["dp"] is True and 0 < privacy["epsilon"] <= 4.0 + 1e-9
    assert f"ε = {privacy['epsilon']:.3g}" in result.stdout
    assert json.loads((out / "config.json").read_text())["train"]["dp_epsilon"] == 4.0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"train": {"dp_epsilon": -2}}, "dp_epsilon"),
        ({"train": {"dp_clip_norm": 0}}, "dp_clip_norm"),
        ({"train": {"dp_delta": 1.5}}, "dp_delta"),
        ({"train": {"dp_epsilon": None, "dp_noise_multiplier": None}}, "noise multiplier"),
        ({"train": {"dp": "on"}}, "dp"),
        ({"model": {"batch_norm": True}}, "batch normalisation"),
    ],
)
def test_bad_dp_settings_exit_2_with_one_line(wine, tmp_path, changes, expected):
    data, config = wine
    out = tmp_path / "out"
    path = _config(tmp_path, config, **changes)
    result = run_main(data, "--target", "cultivar", "--out", out, "--config", path)
    assert_one_line_error(result)
    assert expected.lower() in result.stderr.lower()
    assert not out.exists()
