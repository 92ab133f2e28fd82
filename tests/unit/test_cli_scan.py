"""`python -m core scan` (core/cli/scan.py): the JSON contract, exit codes, one-line errors."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from stdnum.cn import ric

from core.cli.scan import add_scan_command, run_scan
from core.compliance.privacy import ENTITY_TYPES

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], lang: str = "en") -> int:
    parser = argparse.ArgumentParser(prog="python -m core")
    add_scan_command(parser.add_subparsers(dest="command", required=True), lang)
    return run_scan(parser.parse_args(["scan", *argv]), lang)


@pytest.fixture
def people(tmp_path: Path) -> Path:
    body = "11010519491231002"
    rid = body + ric.calc_check_digit(body + "0")
    rows = ["姓名,mobile,id_no,age,gender,zip,diagnosis,score"]
    names = ["张伟", "王芳", "李娜", "刘洋"]
    for i in range(40):
        rows.append(
            f"{names[i % 4]},1381234{i:04d},{rid},{20 + i % 3},{'MF'[i % 2]},{100 + i % 4},"
            f"{['flu', 'cold'][i % 2]},{i * 0.5}"
        )
    path = tmp_path / "people.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_json_follows_the_contract(people, capsys):
    assert run([str(people), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    columns = {c["name"]: c for c in report["columns"]}
    assert list(columns) == [
        "姓名",
        "mobile",
        "id_no",
        "age",
        "gender",
        "zip",
        "diagnosis",
        "score",
    ]
    for column in report["columns"]:
        for entity in column["entities"]:
            assert entity.keys() >= {"type", "match_rate", "valid_rate"}
            assert entity["type"] in ENTITY_TYPES
    assert [e["type"] for e in columns["姓名"]["entities"]] == ["PERSON_NAME"]
    assert [e["type"] for e in columns["mobile"]["entities"]] == ["PHONE"]
    assert [e["type"] for e in columns["id_no"]["entities"]] == ["CN_RESIDENT_ID"]
    assert columns["score"]["entities"] == []
    assert [s["category"] for s in columns["diagnosis"]["sensitive"]] == ["health"]
    assert "k_anonymity" not in report


def test_quasi_and_sensitive_add_k_anonymity_and_l_diversity(people, capsys):
    assert (
        run([str(people), "--json", "--quasi", "age, gender,zip", "--sensitive", "diagnosis"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    k = report["k_anonymity"]
    assert k["quasi_identifiers"] == ["age", "gender", "zip"]
    assert k["k"] >= 1 and 0 <= k["share_below_k"] <= 1 and 0 <= k["unique_share"] <= 1
    assert report["l_diversity"]["sensitive"] == "diagnosis"
    assert {g["group"] for g in report["representation"]["groups"]} == {"flu", "cold"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_text_output_names_the_findings(people, capsys, lang):
    assert run([str(people), "--quasi", "age,gender"], lang) == 0
    out = capsys.readouterr().out
    assert "mobile" in out and "id_no" in out
    assert ("k-anonymity" if lang == "en" else "k-匿名") in out


@pytest.mark.parametrize(
    "argv",
    [
        lambda d, p: [str(d / "missing.csv")],
        lambda d, p: [str(d)],
        lambda d, p: [str(p), "--quasi", "age,postcode"],
        lambda d, p: [str(p), "--sensitive", "religion"],
        lambda d, p: [str(p), "--quasi", ","],
        lambda d, p: [str(p), "--quasi", "gender", "--sensitive", "gender"],
    ],
)
def test_bad_input_exits_2_with_one_line(people, tmp_path, capsys, argv):
    assert run(argv(tmp_path, people)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in captured.err


def test_unreadable_file_exits_2(tmp_path, capsys):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"\x00\x01 not a workbook")
    assert run([str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_in_a_subprocess_errors_speak_the_language(people, tmp_path):
    script = (
        "import argparse, sys\n"
        "from core.cli.scan import add_scan_command, run_scan\n"
        "p = argparse.ArgumentParser()\n"
        "add_scan_command(p.add_subparsers(dest='c'), 'zh')\n"
        "sys.exit(run_scan(p.parse_args(sys.argv[1:]), 'zh'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "scan", str(people), "--quasi", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "没有名为nope的列" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
