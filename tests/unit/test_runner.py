"""RunConfig round trips, one seed for split and training, and saving runs only when not shared."""

import json

import numpy as np
import pytest

from core.data.loading import load_sample
from core.i18n import UserError
from core.private_files import shared_deployment
from core.train.engine import Run, TrainSpec
from core.train.models import ModelSpec
from core.train.runner import (
    RunConfig,
    audit_details,
    default_config,
    first_model_setup,
    load_runs,
    runs_folder,
    save_runs,
)


@pytest.fixture(scope="module")
def iris_config() -> RunConfig:
    return default_config(load_sample("iris").frame, "species", seed=3)


def test_config_round_trips_through_json(iris_config):
    assert RunConfig.from_json(iris_config.to_json()) == iris_config


def test_with_seed_sets_the_split_and_training_seed(iris_config):
    seeded = iris_config.with_seed(11)
    assert (seeded.preprocess.seed, seeded.train.seed) == (11, 11)
    assert seeded.model == iris_config.model


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("{nope", "runner.error.config_not_json"),
        ('{"format": "other"}', "runner.error.config_not_config"),
        ('{"format": "modeldesk.run_config", "version": 9}', "runner.error.config_version"),
        (
            '{"format": "modeldesk.run_config", "version": 1, "model": {}}',
            "runner.error.config_missing",
        ),
    ],
)
def test_bad_config_is_a_user_error_that_says_which(text, key):
    with pytest.raises(UserError) as caught:
        RunConfig.from_json(text)
    assert caught.value.message.key == key


def test_audit_details_leave_out_translated_reasons(iris_config):
    details = audit_details(iris_config)
    assert all("reason" not in column for column in details["preprocess"]["columns"])
    assert "reason" not in json.dumps(audit_details(iris_config.preprocess))


def test_first_model_setup_keeps_x_unscaled_for_w_and_b():
    dataset, spec, model, train = first_model_setup()
    assert dataset.name == "line" and spec.target == "y"
    assert [plan.scale for plan in spec.kept] == ["none"]
    assert model.kind == "linear" and train.optimizer == "sgd"


def _run() -> Run:
    return Run(
        run_id="abc123", name="Run 1", model_spec=ModelSpec(kind="linear", hidden_layers=()),
        train_spec=TrainSpec(epochs=2), task="regression", n_features=1, n_classes=0,
        history={"loss": [2.0, 1.0]}, status="finished", duration_s=0.5,
        created_at="2026-11-28T00:00:00+00:00",
        weights=[np.array([[2.0]], np.float32), np.array([1.0], np.float32)],
    )  # fmt: skip


def test_saved_runs_load_back_with_their_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELDESK_SHARED", raising=False)
    written = save_runs([_run()], tmp_path / "runs")
    assert [path.name for path in written] == ["abc123"]
    (loaded,) = load_runs(tmp_path / "runs")
    assert loaded.to_dict() == _run().to_dict()
    assert np.array_equal(loaded.weights[0], _run().weights[0])


def test_a_shared_server_never_writes_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELDESK_SHARED", "1")
    assert shared_deployment()
    with pytest.raises(UserError) as caught:
        save_runs([_run()], tmp_path / "runs")
    assert caught.value.message.key == "runner.error.shared_no_disk"
    assert not (tmp_path / "runs").exists()


# --- Community Cloud is shared: saving stays inside ./runs/ -----------------------------------


@pytest.mark.parametrize("name", ["", "  ", "exp-1", "a/b", "实验"])
def test_runs_are_saved_inside_the_runs_folder(tmp_path, name):
    folder = runs_folder(name, base=tmp_path)
    root = (tmp_path / "runs").resolve()
    assert folder == root or root in folder.parents


@pytest.mark.parametrize(
    "name",
    ["..", "../../..", "a/../../x", "/etc", "/tmp/x", "~", "~/runs", "C:\\Users", "..\\x", "a\x00"],
)
def test_a_folder_outside_runs_is_a_translated_user_error(tmp_path, name):
    with pytest.raises(UserError) as caught:
        runs_folder(name, base=tmp_path)
    assert caught.value.message.key == "runner.error.runs_folder"
    assert "runs/" in caught.value.message.text("zh")
    assert list(tmp_path.iterdir()) == [], "nothing is created"


def test_a_link_leading_out_of_runs_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "app" / "runs").mkdir(parents=True)
    (tmp_path / "app" / "runs" / "escape").symlink_to(outside)
    with pytest.raises(UserError):
        runs_folder("escape", base=tmp_path / "app")
    with pytest.raises(UserError):
        runs_folder("escape/deeper", base=tmp_path / "app")
    linked = tmp_path / "linked-app"
    linked.mkdir()
    (linked / "runs").symlink_to(outside)  # ./runs itself a link elsewhere
    with pytest.raises(UserError):
        runs_folder("", base=linked)


def test_community_cloud_is_shared_unless_turned_off(tmp_path, monkeypatch):
    from core import private_files

    monkeypatch.delenv("MODELDESK_SHARED", raising=False)
    assert not shared_deployment(), "a checkout elsewhere is not shared by default"
    cloud = tmp_path / "mount" / "src"
    (cloud / "modeldesk").mkdir(parents=True)
    monkeypatch.setattr(private_files, "CLOUD_ROOT", cloud)
    monkeypatch.chdir(cloud / "modeldesk")  # where Community Cloud runs the app
    assert private_files.community_cloud() and shared_deployment()
    with pytest.raises(UserError) as caught:
        save_runs([_run()], runs_folder("", base=cloud / "modeldesk"))
    assert caught.value.message.key == "runner.error.shared_no_disk"
    monkeypatch.setenv("MODELDESK_SHARED", "0")
    assert not shared_deployment(), "the owner may turn it off explicitly"
    monkeypatch.setenv("MODELDESK_SHARED", "1")
    monkeypatch.chdir(tmp_path)
    assert shared_deployment()
