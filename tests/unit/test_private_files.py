"""On a shared server, building the bundle and the TFLite files writes
nothing made from the data outside a private folder (0700, in memory) that is gone afterwards;
elsewhere every working folder is private and removed too."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
from quick_training import trained

from core import private_files
from core.data.loading import load_sample
from core.deploy.bundle import export_bundle_bytes, read_bundle
from core.deploy.tflite import compare_exports
from core.evaluate.metrics import evaluate_run, metrics_document
from core.private_files import private_dir


@pytest.fixture(scope="module")
def iris_run():
    prepared, run, config = trained(load_sample("iris").frame, "species", epochs=2)
    return prepared, run, config, metrics_document(evaluate_run(prepared, run))


@pytest.fixture
def watched(tmp_path, monkeypatch):
    """The system temp folder and the memory root as empty test folders; every folder made
    through tempfile.mkdtemp recorded with its mode."""
    system = tmp_path / "system-tmp"
    memory = tmp_path / "dev-shm"
    system.mkdir()
    memory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    monkeypatch.setattr(private_files, "MEMORY_ROOT", memory)
    made: list[tuple[Path, int]] = []
    real = tempfile.mkdtemp

    def recording(*args, **kwargs):
        folder = real(*args, **kwargs)
        made.append((Path(folder), stat.S_IMODE(os.stat(folder).st_mode)))
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    return system, memory, made


def build_everything(iris_run, tmp_path):
    prepared, run, config, metrics = iris_run
    data = export_bundle_bytes(prepared, run, config, metrics, dataset_name="people.csv")
    exports = compare_exports(
        run.build_model(), prepared.X_test, prepared.y_test, prepared.spec.task
    )
    path = tmp_path / "out" / "bundle.zip"
    path.parent.mkdir()
    path.write_bytes(data)
    read_bundle(path)
    return data, exports


def test_shared_builds_only_in_private_memory_folders_and_leaves_nothing(
    iris_run, watched, tmp_path, monkeypatch
):
    monkeypatch.setenv("MODELDESK_SHARED", "1")
    system, memory, made = watched
    data, exports = build_everything(iris_run, tmp_path)
    assert data[:2] == b"PK" and len(exports) == 3
    assert made, "the build used working folders"
    outside = [folder for folder, _mode in made if memory not in folder.parents]
    assert outside == [], "data-derived files written outside the private memory folder"
    assert {mode for _folder, mode in made} == {0o700}
    assert list(system.iterdir()) == [] and list(memory.iterdir()) == []
    assert tempfile.tempdir == str(system), "the redirect ends with the block"


def test_not_shared_every_working_folder_is_private_and_removed(
    iris_run, watched, tmp_path, monkeypatch
):
    monkeypatch.delenv("MODELDESK_SHARED", raising=False)
    system, memory, made = watched
    build_everything(iris_run, tmp_path)
    assert made and all(mode == 0o700 for _folder, mode in made)
    assert list(system.iterdir()) == [] and list(memory.iterdir()) == []


def test_a_private_folder_is_removed_when_the_block_fails(watched, monkeypatch):
    monkeypatch.setenv("MODELDESK_SHARED", "1")
    system, memory, _made = watched
    with pytest.raises(RuntimeError), private_dir() as folder:
        (folder / "rows.csv").write_text("secret,1\n")
        assert tempfile.gettempdir() == str(folder)
        raise RuntimeError("conversion failed")
    assert not folder.exists()
    assert list(system.iterdir()) == [] and list(memory.iterdir()) == []
    assert tempfile.gettempdir() == str(system)
