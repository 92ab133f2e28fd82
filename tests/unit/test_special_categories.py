"""Special categories of personal data (GDPR art. 9/10, PIPL art. 28) and protected attributes,
found by column name in English and Chinese, by coded yes/no columns and by the values; decoys
that must stay quiet; a region is a quasi-identifier, not a direct identifier."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.compliance.checklist import ChecklistContext, evaluate_checklist
from core.compliance.privacy import LAW, SENSITIVE_CATEGORIES, scan_frame
from core.i18n import t

ROWS = 40


def _one(name: str, values: list) -> tuple:
    """The categories the scan finds in one column of a small table."""
    frame = pd.DataFrame({name: (values * ROWS)[:ROWS], "amount": range(ROWS)})
    scan = scan_frame(frame)
    assert scan.column("amount").sensitive == ()
    return tuple(finding.category for finding in scan.column(name).sensitive)


TEXTS = ["a", "b", "c", "d"]

BY_NAME = [
    ("health_status", "health", TEXTS),
    ("健康状况", "health", TEXTS),
    ("poorhlth", "health", [0, 1]),
    ("religion", "religion", TEXTS),
    ("宗教信仰", "religion", TEXTS),
    ("ethnicity", "ethnicity", TEXTS),
    ("ethn", "ethnicity", TEXTS),
    ("race", "ethnicity", TEXTS),
    ("民族", "ethnicity", TEXTS),
    ("political_opinion", "political", TEXTS),
    ("政治面貌", "political", TEXTS),
    ("union_member", "trade_union", [0, 1]),
    ("工会会员", "trade_union", TEXTS),
    ("fingerprint_hash", "biometric", TEXTS),
    ("人脸特征", "biometric", TEXTS),
    ("dna_marker", "genetic", TEXTS),
    ("基因检测", "genetic", TEXTS),
    ("sexual_orientation", "sex_life", TEXTS),
    ("性取向", "sex_life", TEXTS),
    ("criminal_record", "criminal", [0, 1]),
    ("犯罪记录", "criminal", TEXTS),
    ("is_minor", "minors", [0, 1]),
    ("未成年", "minors", [0, 1]),
    ("bank_account", "financial", TEXTS),
    ("银行账户", "financial", TEXTS),
    ("gps_trace", "location", TEXTS),
    ("行踪轨迹", "location", TEXTS),
    ("gender", "sex", TEXTS),
    ("sex", "sex", TEXTS),
    ("性别", "sex", TEXTS),
    ("nationality", "nationality", TEXTS),
    ("户籍", "nationality", TEXTS),
    ("age", "age", [30, 40, 50]),
    ("customer_age", "age", [30, 40, 50]),
    ("年龄", "age", [30, 40, 50]),
]


@pytest.mark.parametrize(("name", "category", "values"), BY_NAME)
def test_every_category_by_name_in_both_languages(name, category, values):
    assert category in _one(name, values)


def test_every_category_is_tested_in_both_languages_and_has_its_law_and_texts():
    tested = {category for _, category, _ in BY_NAME}
    assert tested == set(SENSITIVE_CATEGORIES)
    chinese = {category for name, category, _ in BY_NAME if not name.isascii()}
    assert chinese == set(SENSITIVE_CATEGORIES)
    for category in SENSITIVE_CATEGORIES:
        assert LAW[category]
    frame = pd.DataFrame({name: (values * ROWS)[:ROWS] for name, _, values in BY_NAME})
    for column in scan_frame(frame).columns:
        for finding in column.sensitive:
            for lang in ("en", "zh"):
                assert t(finding.message.key, lang) != finding.message.key


CODED = [
    ("black", "ethnicity", [0, 1]),
    ("white", "ethnicity", ["yes", "no"]),
    ("hispanic", "ethnicity", [1.0, 0.0]),
    ("hisp", "ethnicity", [0, 1]),
    ("afam", "ethnicity", ["yes", "no"]),
    ("is_asian", "ethnicity", [True, False]),
    ("female", "sex", [0, 1]),
    ("Female", "sex", ["y", "n"]),
    ("muslim", "religion", [0, 1]),
    ("disabled", "health", ["yes", "no"]),
    ("union", "trade_union", [0, 1]),
    ("foreign", "nationality", [0, 1]),
    ("是否少数民族", "ethnicity", ["是", "否"]),
    ("是否女性", "sex", ["是", "否"]),
    ("是否残疾", "health", ["是", "否"]),
]


@pytest.mark.parametrize(("name", "category", "values"), CODED)
def test_coded_yes_no_columns(name, category, values):
    assert category in _one(name, values)


def test_a_coded_name_holding_other_values_is_not_flagged():
    # A chess table's "white" is a player, a paint table's "white" a quantity.
    assert _one("white", ["Carlsen", "Caruana", "Ding", "Nepo", "Firouzja"]) == ()
    assert _one("white", [12.5, 3.25, 8.0, 1.75]) == ()


@pytest.mark.parametrize(
    ("values", "category"),
    [
        (["black", "white", "hisp", "other"], "ethnicity"),
        (["汉族", "回族", "藏族"], "ethnicity"),
        (["male", "female"], "sex"),
        (["男", "女"], "sex"),
        (["佛教", "基督教", "无宗教信仰"], "religion"),
    ],
)
def test_values_that_name_the_groups(values, category):
    assert category in _one("group_code", values)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("blacklist_flag", [0, 1]),
        ("agent_id", list(range(10))),
        ("age_of_house", [5, 12, 40, 80]),
        ("building_age", [5, 12, 40, 80]),
        ("whitespace_count", [0, 1]),
        ("party_size", [2, 4, 6]),
        ("price", [1.5, 2.5]),
        ("surface", ["a", "b"]),
        ("trace_id", ["x1", "x2"]),
        ("black_box", ["on", "off", "idle"]),
    ],
)
def test_decoys_are_not_sensitive(name, values):
    assert _one(name, values) == ()


def test_a_region_is_a_quasi_identifier_not_a_direct_identifier():
    regions = ["rural_area", "north_east", "nothern_central", "south"]
    frame = pd.DataFrame(
        {
            "residence": (regions * 50)[:200],
            "地区": (["华东", "华北", "西南"] * 70)[:200],
            "address": [f"{i} Main Street" for i in range(200)],
        }
    )
    scan = scan_frame(frame)
    assert "residence" not in scan.direct_identifiers
    assert "地区" not in scan.direct_identifiers
    assert scan.column("residence").quasi == ("region",)
    assert scan.column("地区").quasi == ("region",)
    assert scan.direct_identifiers == ("address",)
    assert scan.column("address").quasi == ()
    data = scan.to_dict()
    assert data["quasi_identifiers"] == ["residence", "地区"]


def test_special_categories_drive_the_scan_json_and_the_checklist():
    frame = pd.DataFrame(
        {
            "deny": ([0, 1, 0, 0] * 10)[:ROWS],
            "black": ([1, 0, 0, 1, 0] * 8)[:ROWS],
            "female": ([0, 1] * 20)[:ROWS],
            "pirat": [0.1 * i for i in range(ROWS)],
        }
    )
    scan = scan_frame(frame)
    assert scan.sensitive_columns == ("black",)  # sex is protected, not special
    assert scan.protected_columns == ("black", "female")
    assert scan.fairness_column() == "black"
    data = json.loads(json.dumps(scan.to_dict()))
    (special,) = data["sensitive_columns"]
    assert special["name"] == "black" and special["category"] == "ethnicity"
    assert "GDPR art. 9" in special["law"] and "PIPL art. 28" in special["law"]
    assert special["confidence"] == "medium"
    assert [c["name"] for c in data["protected_columns"]] == ["female"]
    results = {r.id: r for r in evaluate_checklist(ChecklistContext(scan=scan))}
    assert results["lawful.sensitive_consent"].status == "warn"
    assert results["identifiers.scan"].status == "warn"


def test_a_persons_correction_outranks_the_scan():
    frame = pd.DataFrame({"black": [0, 1] * 10, "score": range(20)})
    scan = scan_frame(frame)
    cleared = scan.corrected({"black": []})
    assert cleared.sensitive_columns == ()
    added = scan.corrected({"score": ["health"]})
    assert added.sensitive_columns == ("black", "score")
    assert added.column("score").sensitive[0].source == "person"
    results = {r.id: r for r in evaluate_checklist(ChecklistContext(scan=cleared))}
    assert results["lawful.sensitive_consent"].status == "not_applicable"


def test_scan_json_lists_sensitive_columns_and_anonymity_suggests_the_region(tmp_path):
    import io
    from contextlib import redirect_stdout

    from core.cli.main import main
    from core.compliance.anonymity import suggest_quasi_identifiers

    frame = pd.DataFrame(
        {
            "ethn": (["other", "black", "hisp"] * 20)[:60],
            "residence": (["rural_area", "north_east", "south"] * 20)[:60],
            "wage": [1.5 + i for i in range(60)],
        }
    )
    path = tmp_path / "males.csv"
    frame.to_csv(path, index=False)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["scan", str(path), "--json"]) == 0
    report = json.loads(out.getvalue())
    assert [(c["name"], c["category"]) for c in report["sensitive_columns"]] == [
        ("ethn", "ethnicity")
    ]
    assert report["direct_identifiers"] == [] and report["quasi_identifiers"] == ["residence"]
    assert "residence" in [s.column for s in suggest_quasi_identifiers(frame)]
