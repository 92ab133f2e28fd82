"""PII scan: valid and invalid examples of every entity type, and random digits that must pass."""

import random

import pandas as pd
import pytest
from stdnum import luhn
from stdnum.cn import ric

from core.compliance.privacy import (
    ENTITY_TYPES,
    MIN_VALID_RATE,
    name_entity_types,
    scan_frame,
    scan_values,
    sensitive_categories,
)


def resident_id(body: str) -> str:
    """A resident ID with its MOD 11-2 check character (body: 17 digits)."""
    return body + ric.calc_check_digit(body + "0")


def with_luhn(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def types(values: list[str], column_name: str = "") -> list[str]:
    return [finding.type for finding in scan_values(values, column_name=column_name)]


RESIDENT_IDS = [resident_id(f"110105194912310{i:02d}") for i in range(6)] + [
    resident_id(f"310104198507161{i:02d}") for i in range(6)
]
VALID = {
    "EMAIL": ["ann@example.com", "li.wei+news@mail.example.cn", "o'brien@example.org"] * 2,
    "PHONE": [
        "13800138000",
        "15912345678",
        "+86 139 1234 5678",
        "+1 202-555-0143",
        "(202) 555-0143",
        "+44 20 7946 0958",
    ],
    "CN_RESIDENT_ID": RESIDENT_IDS,
    "CN_USCC": ["91110000600037341L", "91350100M000100Y43", "91110108551385082Q"] * 2,
    "CN_BANK_CARD": [with_luhn(f"62220212345678{i:02d}1") for i in range(6)],
    "CREDIT_CARD": ["4111111111111111", "5555555555554444", "378282246310005"] * 2,
    "IBAN": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"]
    * 2,
    "US_SSN": ["536-90-4399", "123-45-6789", "212-09-9999", "536-22-1234"],
    "IP_ADDRESS": ["192.168.0.1", "8.8.8.8", "2001:db8::1", "fe80::1ff:fe23:4567:890a"],
}
INVALID = {
    "EMAIL": ["ann@", "@example.com", "ann..lee@example.com", "not an email"],
    "PHONE": ["12345678901", "+86 123", "000-000-0000", "+1 000-555-0143"],
    "CN_RESIDENT_ID": [
        RESIDENT_IDS[0][:-1] + ("0" if RESIDENT_IDS[0][-1] != "0" else "1"),  # wrong check
        resident_id("11010519491331002"),  # month 13
        resident_id("11010518000231002"),  # 31 February 1800
    ],
    "CN_USCC": ["91110000600037341A", "91350100M000100Y44"],
    "CN_BANK_CARD": [with_luhn("622202123456789001")[:-1] + "0"] * 3,
    "CREDIT_CARD": ["4111111111111112", "5555555555554445", "378282246310006"],
    "IBAN": ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001"],
    "US_SSN": ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"],
    "IP_ADDRESS": ["999.1.1.1", "1.2.3.256", "::g"],
}


@pytest.mark.parametrize("entity", sorted(VALID))
def test_valid_values_are_found_with_full_rates(entity):
    findings = {f.type: f for f in scan_values(VALID[entity])}
    assert entity in findings, findings
    assert findings[entity].match_rate == 1.0
    assert findings[entity].valid_rate == 1.0


@pytest.mark.parametrize("entity", sorted(INVALID))
def test_invalid_values_are_not_reported(entity):
    assert entity not in types(INVALID[entity] * 3)


@pytest.mark.parametrize("length", range(4, 21))
def test_random_digits_of_any_length_are_not_identifiers(length):
    rng = random.Random(length)
    values = ["".join(rng.choice("0123456789") for _ in range(length)) for _ in range(3000)]
    assert types(values) == []


@pytest.mark.parametrize(("prefix", "length"), [("62", 16), ("62", 19), ("4", 16), ("37", 15)])
def test_random_digits_with_card_prefixes_pass_luhn_only_by_chance(prefix, length):
    rng = random.Random(7)
    values = [
        prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        for _ in range(2000)
    ]
    assert types(values) == []


def test_random_18_digit_strings_pass_the_resident_id_check_only_by_chance():
    rng = random.Random(3)
    values = ["".join(rng.choice("0123456789") for _ in range(18)) for _ in range(2000)]
    findings = scan_values(values)
    assert findings == []


def test_bare_nine_digits_are_an_ssn_only_in_a_column_named_like_one():
    values = ["536904399", "123456789", "212099999", "536221234"]
    assert "US_SSN" not in types(values)
    assert "US_SSN" in types(values, column_name="ssn")


def test_a_few_checksum_passes_are_not_enough():
    # Two valid card numbers could be luck (1 in 100 for random digits): at least three needed.
    assert types(["4111111111111111", "5555555555554444"]) == []


def test_mixed_column_reports_the_share_that_matches():
    values = ["ann@example.com", "bob@example.com", "carol@example.com", "n/a", "unknown"]
    (finding,) = scan_values(values)
    assert finding.type == "EMAIL"
    assert finding.match_rate == pytest.approx(0.6)
    assert finding.valid_rate == 1.0


def test_mostly_invalid_matches_stay_below_the_valid_rate_bar():
    values = ["4111111111111111"] * 3 + ["4111111111111112"] * 7
    assert MIN_VALID_RATE > 0.3
    assert "CREDIT_CARD" not in types(values)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("name", ("PERSON_NAME",)),
        ("full_name", ("PERSON_NAME",)),
        ("CustomerName", ("PERSON_NAME",)),
        ("姓名", ("PERSON_NAME",)),
        ("product_name", ()),
        ("filename", ()),
        ("address", ("ADDRESS",)),
        ("home_address", ("ADDRESS",)),
        ("email_address", ()),
        ("地址", ("ADDRESS",)),
        ("dob", ("DATE_OF_BIRTH",)),
        ("DateOfBirth", ("DATE_OF_BIRTH",)),
        ("出生日期", ("DATE_OF_BIRTH",)),
        ("updated_at", ()),
    ],
)
def test_column_names_in_both_languages(name, expected):
    assert name_entity_types(name) == expected


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("health_status", "health"),
        ("既往病史", "health"),
        ("religion", "religion"),
        ("宗教信仰", "religion"),
        ("ethnicity", "ethnicity"),
        ("民族", "ethnicity"),
        ("political_party_view", "political"),
        ("政治面貌", "political"),
        ("fingerprint_hash", "biometric"),
        ("人脸特征", "biometric"),
        ("is_minor", "minors"),
        ("未成年", "minors"),
    ],
)
def test_sensitive_categories_by_name(name, category):
    assert category in sensitive_categories(name)


def test_ordinary_names_are_not_sensitive():
    for name in ("price", "city", "trace_id", "surface", "score"):
        assert sensitive_categories(name) == ()


def test_scan_frame_follows_the_json_contract():
    frame = pd.DataFrame(
        {
            "姓名": ["张三", "李四", "王五", "赵六"] * 5,
            "phone": ["13800138000", "13912345678", "15012345678", "18612345678"] * 5,
            "amount": [1.5, 2.25, 3.0, 4.75] * 5,
            "age": [8, 35, 52, 41] * 5,
            "id_no": [*RESIDENT_IDS[:4]] * 5,
            "noise": [str(random.Random(i).randrange(10**17, 10**18)) for i in range(20)],
        }
    )
    result = scan_frame(frame)
    data = result.to_dict()
    assert [c["name"] for c in data["columns"]] == list(frame.columns)
    for column in data["columns"]:
        for entity in column["entities"]:
            assert entity.keys() >= {"type", "match_rate", "valid_rate"}
            assert entity["type"] in ENTITY_TYPES
    assert result.column("姓名").types == ("PERSON_NAME",)
    assert result.column("phone").types == ("PHONE",)
    assert result.column("id_no").types == ("CN_RESIDENT_ID",)
    assert result.column("amount").types == ()
    assert result.column("noise").types == ()
    # An age is a protected attribute; ages under 14 make it children's data too.
    assert [f.category for f in result.column("age").sensitive] == ["age", "minors"]
    assert set(result.direct_identifiers) == {"姓名", "phone", "id_no"}
    assert not result.sampled


def test_integer_and_float_columns_are_read_as_digit_strings():
    phones = [13800138000, 13912345678, 15012345678, None]
    frame = pd.DataFrame({"mobile": phones})  # float64 because of the gap
    assert scan_frame(frame).column("mobile").types == ("PHONE",)


def test_large_columns_are_sampled_and_say_so():
    frame = pd.DataFrame({"email": [f"user{i}@example.com" for i in range(300)]})
    result = scan_frame(frame, sample_size=100)
    assert result.sampled
    assert result.column("email").checked == 100
    assert result.column("email").present == 300
    assert result.notes and result.notes[0].key == "privacy.scan.sampled"
    assert scan_frame(frame, sample_size=100).to_dict() == result.to_dict()  # fixed seed


def test_a_name_column_of_numbers_is_not_a_name():
    frame = pd.DataFrame({"name": [str(i) for i in range(20)]})
    assert scan_frame(frame).column("name").types == ()
