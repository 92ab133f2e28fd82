"""A bundle is a user's file: loading it executes nothing from it (CLI, app loader, predict.py).

A planted pickle (`__reduce__` -> os.system) or a skops file naming an untrusted callable in
preprocessing/ is refused with exit 2 and one line; the payload never runs.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import skops.io as sio
from quick_training import trained

from core.cli.main import main
from core.data.loading import load_sample
from core.deploy.bundle import export_bundle_bytes, read_bundle
from core.evaluate.metrics import evaluate_run, metrics_document
from core.i18n import UserError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    prepared, run, config = trained(load_sample("iris").frame, "species", epochs=2)
    folder = tmp_path_factory.mktemp("tamper")
    metrics = metrics_document(evaluate_run(prepared, run))
    path = folder / "bundle.zip"
    path.write_bytes(export_bundle_bytes(prepared, run, config, metrics))  # with its predict.py
    prepared.splits.X_test.to_csv(folder / "rows.csv", index=False)
    return path, folder


class Planted:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def tampered(path: Path, folder: Path, member: str, content: bytes, name: str) -> Path:
    out = folder / name
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info.filename))
        target.writestr(member, content)
    return out


def payloads(marker: Path) -> dict[str, tuple[str, bytes]]:
    pickled = pickle.dumps(Planted(marker))
    return {
        "pickle_as_joblib": ("preprocessing/transformer.joblib", pickled),
        "pickle_as_skops": ("preprocessing/transformer.skops", pickled),
        "skops_untrusted": ("preprocessing/transformer.skops", _skops_calling_os_system()),
    }


def _skops_calling_os_system() -> bytes:
    # A skops file whose only object is the function os.system: a type skops would import.
    buffer = io.BytesIO()
    sio.dump({"f": os.system}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["pickle_as_joblib", "pickle_as_skops", "skops_untrusted"])
def test_a_tampered_bundle_runs_nothing_and_is_exit_2(bundle, tmp_path, capsys, kind):
    path, folder = bundle
    marker = tmp_path / "pwned"
    member, content = payloads(marker)[kind]
    bad = tampered(path, tmp_path, member, content, f"{kind}.zip")
    code = main(["predict", str(bad), str(folder / "rows.csv"), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    with pytest.raises(UserError):
        read_bundle(bad)
    assert not marker.exists(), "code from the bundle ran"


def test_the_bundles_own_predict_py_refuses_untrusted_preprocessing(bundle, tmp_path):
    path, folder = bundle
    marker = tmp_path / "pwned"
    bad = tampered(
        path, tmp_path, "preprocessing/transformer.skops", _skops_calling_os_system(), "b.zip"
    )
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(bad) as archive:
        archive.extractall(unpacked)
    done = subprocess.run(
        [sys.executable, "predict.py", str(folder / "rows.csv"), str(tmp_path / "o.csv")],
        cwd=unpacked, capture_output=True, text=True, timeout=180,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "untrusted" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()


def test_the_bundle_stores_preprocessing_as_skops_data_not_pickle(bundle):
    path, _folder = bundle
    names = zipfile.ZipFile(path).namelist()
    assert "preprocessing/transformer.skops" in names
    assert not any(name.endswith((".joblib", ".pkl", ".pickle")) for name in names)
