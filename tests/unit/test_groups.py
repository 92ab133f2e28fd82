"""Identifiers and grouping keys: a repeated entity key is a `group`, never the target; a
split by group keeps every group in one split and the class shares within 0.05 where the groups
allow; the CLI's --group and profile --json; config.json records the group."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli.main import main
from core.data.profile import profile_frame, suggest_target, target_suggestion
from core.prep.preprocessing import PreprocessSpec, default_spec, split_explanation, split_frame
from core.train.runner import default_config


def housing(rows: int = 506, seed: int = 0) -> pd.DataFrame:
    """A housing-like table whose last column is a town id: 92 towns, several rows each."""
    rng = np.random.default_rng(seed)
    town = rng.integers(1, 93, rows)
    rooms = rng.normal(6, 0.7, rows)
    return pd.DataFrame(
        {
            "crim": rng.gamma(1.0, 3.0, rows),
            "rm": rooms,
            "medv": 5 * rooms + rng.normal(0, 2, rows),
            "townid": town,
        }
    )


def panel(persons: int = 120, years: int = 8, seed: int = 0) -> pd.DataFrame:
    """A wage panel: each person observed for several years; a binary outcome ~30% yes."""
    rng = np.random.default_rng(seed)
    nr = np.repeat(np.arange(1000, 1000 + persons), years)
    ability = np.repeat(rng.normal(0, 1, persons), years)
    exper = np.tile(np.arange(years), persons) + rng.integers(0, 5, persons * years)
    score = ability + 0.1 * exper + rng.normal(0, 0.5, persons * years)
    union = (score > np.quantile(score, 0.7)).astype(int)
    return pd.DataFrame(
        {"nr": nr, "year": np.tile(np.arange(1980, 1980 + years), persons), "exper": exper,
         "hours": rng.integers(1500, 2500, persons * years), "union": union}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("townid", lambda rows: np.arange(rows) % 92),
        ("nr", lambda rows: np.arange(rows) // 8),
        ("household_no", lambda rows: [f"H{i // 4:04d}" for i in range(rows)]),
        ("学校编号", lambda rows: [f"S{i % 30}" for i in range(rows)]),
        ("person_id", lambda rows: np.arange(rows) // 3),
    ],
)
def test_a_repeated_entity_key_is_a_group(name, values):
    rows = 300
    frame = pd.DataFrame({"x": np.linspace(0, 1, rows), name: values(rows)})
    profile = profile_frame(frame)
    assert profile.column(name).role == "group"
    (alert,) = [a for a in profile.alerts if a.kind == "group"]
    assert alert.columns == (name,)
    for lang in ("en", "zh"):
        assert name in alert.message.text(lang)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("rad", lambda rows: np.arange(rows) % 9),  # a small code: categorical
        ("paid", lambda rows: np.arange(rows) % 92),  # "id" glued, but not an entity
        ("income", lambda rows: (np.arange(rows) * 37) % 5000),
        ("user_id", lambda rows: np.arange(rows)),  # one value per row: an identifier
    ],
)
def test_not_groups(name, values):
    frame = pd.DataFrame({"x": np.linspace(0, 1, 300), name: values(300)})
    assert profile_frame(frame).column(name).role != "group"


def test_a_group_is_never_the_target_suggestion_and_is_dropped_by_default():
    frame = housing()
    profile = profile_frame(frame)
    assert profile.column("townid").role == "group"
    suggestion = target_suggestion(profile)
    assert suggestion is not None and suggestion.column == "medv"
    assert suggestion.sure  # "medv" is named like a target
    spec = default_spec(frame, "medv", profile=profile)
    assert spec.column("townid").action == "drop"
    assert spec.column("townid").reason.key == "special.reason.group"
    assert spec.group == "townid"  # split by group proposed


def test_target_suggestion_prefers_target_names_and_says_when_it_guesses():
    frame = pd.DataFrame(
        {"是否违约": [0, 1] * 30, "amount": np.linspace(1, 9, 60), "region_no": [1, 2, 3] * 20}
    )
    suggestion = target_suggestion(profile_frame(frame))
    assert suggestion is not None and suggestion.column == "是否违约" and suggestion.sure
    frame = pd.DataFrame({"a": np.linspace(0, 1, 60), "b": np.linspace(2, 3, 60)})
    suggestion = target_suggestion(profile_frame(frame))
    assert suggestion is not None and suggestion.column == "b" and not suggestion.sure
    assert suggest_target(profile_frame(frame)) == "b"
    for lang in ("en", "zh"):
        assert "b" in suggestion.reason.text(lang)


def _check_group_split(frame: pd.DataFrame, spec: PreprocessSpec) -> None:
    splits = split_frame(frame, spec)
    parts = [splits.X_train, splits.X_val, splits.X_test]
    groups = [set(part[spec.group]) for part in parts]
    assert all(groups), "every split holds some groups"
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
    assert sum(len(part) for part in parts) == len(frame)


def test_split_by_group_keeps_groups_whole_and_stays_stratified():
    frame = panel()
    spec = default_spec(frame, "union")
    assert spec.group == "nr" and spec.task == "binary"
    _check_group_split(frame, spec)
    splits = split_frame(frame, spec)
    overall = frame["union"].mean()
    for y in (splits.y_train, splits.y_val, splits.y_test):
        assert abs(float(y.mean()) - overall) <= 0.05
    test_share = len(splits.y_test) / len(frame)
    assert 0.10 <= test_share <= 0.20
    assert split_explanation(spec).key == "special.split.by_group_stratified"
    # Row by row, the same person lands in training and test: what group splits prevent.
    by_rows = split_frame(frame, replace(spec, group=None))
    assert set(by_rows.X_train["nr"]) & set(by_rows.X_test["nr"])


def test_split_by_group_for_regression_and_with_few_groups():
    frame = housing()
    spec = default_spec(frame, "medv")
    _check_group_split(frame, spec)
    few = panel(persons=5)
    spec = replace(default_spec(few, "union"), group="nr")
    _check_group_split(few, spec)
    notices = split_frame(few, spec).notices
    assert any(n.key == "special.notice.group_not_stratified" for n in notices)


def test_group_spec_round_trips_and_is_checked():
    frame = panel()
    spec = default_spec(frame, "union")
    again = PreprocessSpec.from_json(spec.to_json())
    assert again.group == "nr"
    assert json.loads(replace(spec, group=None).to_json()).get("group") is None
    with pytest.raises(Exception, match="group"):
        replace(spec, group="union")  # the target
    from core.i18n import UserError

    with pytest.raises(UserError) as caught:
        split_frame(frame, replace(spec, group="nope"))
    assert caught.value.message.key == "special.error.group_not_found"


def _cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([*map(str, args)])
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_profile_json_gives_roles_reasons_and_the_target_suggestion(tmp_path: Path):
    path = tmp_path / "housing.csv"
    housing().to_csv(path, index=False)
    code, out, _ = _cli("profile", path, "--json")
    assert code == 0
    data = json.loads(out)
    roles = {c["name"]: c["role"] for c in data["columns"]}
    assert roles["townid"] == "group"
    (town,) = [c for c in data["columns"] if c["name"] == "townid"]
    assert "townid" in town["reason"]
    assert data["target_suggestion"]["column"] == "medv"
    assert "medv" in data["target_suggestion"]["reason"]


def test_cli_train_with_group_records_it_and_keeps_groups_apart(tmp_path: Path):
    frame = panel(persons=60, years=5)
    data = tmp_path / "panel.csv"
    frame.to_csv(data, index=False)
    config = default_config(frame, "union")
    config = replace(
        config,
        preprocess=replace(config.preprocess, group=None),
        train=replace(config.train, epochs=2, early_stopping=False),
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(config.to_json(), encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = _cli(
        "train", data, "--target", "union", "--out", out, "--config", config_path, "--group", "nr"
    )
    assert code == 0, err
    recorded = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert recorded["preprocess"]["group"] == "nr"
    code, _, err = _cli(
        "train", data, "--target", "union", "--out", tmp_path / "o2", "--group", "missing"
    )
    assert code == 2 and err.count("\n") == 1 and "missing" in err


def test_the_lesson_comparison_shows_what_a_row_split_lets_a_model_remember():
    from core.evaluate.group_split import compare_row_and_group_splits

    # Each person's outcome is their own trait, barely related to the features: by rows a model
    # remembers people (through their id-like features); by person it cannot.
    rng = np.random.default_rng(1)
    persons, years = 150, 6
    trait = np.repeat(rng.normal(size=persons), years)
    frame = pd.DataFrame(
        {
            "nr": np.repeat(np.arange(persons), years),
            "height": np.repeat(rng.normal(170, 10, persons), years),
            "noise": rng.normal(size=persons * years),
            "y": trait + 0.1 * rng.normal(size=persons * years),
        }
    )
    spec = default_spec(frame, "y")
    assert spec.group == "nr"
    result = compare_row_and_group_splits(frame, spec)
    assert result.metric == "r2" and result.shared_groups > 0
    assert result.by_rows > 0.4 and result.by_group < 0.2
    assert result.by_rows - result.by_group > 0.4
    for lang in ("en", "zh"):
        assert str(result.shared_groups) in result.message.text(lang)
