"""python -m core profile: the contract in docs/ARCHITECTURE.md, exit codes and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_COLUMN_KEYS = {"name", "dtype", "role", "missing", "unique"}
ROLES = {"numeric", "categorical", "boolean", "datetime", "text", "identifier", "constant"}


def run_cli(*args: str, lang: str = "en_US.UTF-8") -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "LANG": lang, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    rows = ["id,age,city,score,const"]
    rows += [
        f"{i},{20 + i % 50},{['Paris', 'Lyon', 'Nice'][i % 3]},{i * 0.5},1" for i in range(120)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_profile_json_follows_the_contract(table: Path):
    result = run_cli("profile", str(table), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 120
    assert [c["name"] for c in report["columns"]] == ["id", "age", "city", "score", "const"]
    for column in report["columns"]:
        assert column.keys() >= CONTRACT_COLUMN_KEYS
        assert column["role"] in ROLES
    roles = {c["name"]: c["role"] for c in report["columns"]}
    assert roles["const"] == "constant"
    assert roles["city"] == "categorical"
    assert roles["id"] == "identifier"
    assert isinstance(report["alerts"], list)
    assert {"constant", "identifier"} <= {a["kind"] for a in report["alerts"]}


def test_profile_text_output_names_every_column(table: Path):
    result = run_cli("profile", str(table))
    assert result.returncode == 0, result.stderr
    for name in ("id", "age", "city", "score", "const"):
        assert name in result.stdout


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d / "missing.csv",
        lambda d: d,
        lambda d: _write(d / "empty.csv", b""),
        lambda d: _write(d / "noise.csv", bytes(range(256)) * 40),
        lambda d: _write(d / "fake.xlsx", b"a,b\n1,2\n"),
        lambda d: _write(d / "table.docx", b"a,b\n1,2\n"),
        lambda d: _write(d / "header.csv", b"a,b,c\n"),
    ],
    ids=["missing", "directory", "empty", "binary", "text-as-xlsx", "unsupported", "header-only"],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path, make):
    path = make(tmp_path)
    result = run_cli("profile", str(path), "--json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_usage_errors_are_one_line_too():
    for args in ([], ["nonsense"], ["profile"]):
        result = run_cli(*args)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_messages_follow_lang(tmp_path: Path):
    result = run_cli("profile", str(tmp_path / "missing.csv"), lang="zh_CN.UTF-8")
    assert result.returncode == 2
    assert "不存在" in result.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_closed_pipe_is_not_a_crash(table: Path):
    env = {"PATH": "/usr/bin:/bin", "LANG": "en_US.UTF-8", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "profile", str(table), "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    process.stdout.read(10)
    process.stdout.close()  # like `| head -c 10`
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in stderr
    assert process.returncode == 0


def test_scan_is_wired_into_the_command_line(tmp_path: Path):
    path = tmp_path / "contacts.csv"
    rows = [f"user{i}@example.com,1{3 + i % 7}{i:09d}" for i in range(30)]
    path.write_text("email,mobile\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli("scan", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    email = next(c for c in report["columns"] if c["name"] == "email")
    assert [e["type"] for e in email["entities"]] == ["EMAIL"]
    bad = run_cli("scan", str(path), "--sensitive", "nope")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
