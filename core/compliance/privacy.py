"""Find personal data in a table: identifiers by pattern plus validation, and by column name.

Each string-like column is checked value by value. A detector has a pattern (what the value
looks like) and a validator (a check digit, a birth date, a real numbering plan). A column is
reported for an entity type when enough values match the pattern (`match_rate`, the share of
checked values) and nearly all matches validate (`valid_rate`, the share of matches).

Random digits must not look like identifiers. A check digit passes by chance at a known rate:
Luhn 1 in 10, the resident ID's MOD 11-2 about 1 in 11, the credit code's MOD 31 about 1 in 31.
So a column is reported only when `valid_rate >= MIN_VALID_RATE` (0.9, far above any of those)
and at least MIN_VALID_COUNT values validate. Formats that random digits pass too often are not
accepted from bare digits: a bare 9-digit number passes the SSN rules 88% of the time, so an SSN
needs its dashes (or a column named like one); a bare number counts as a phone only as a Chinese
mobile (11 digits from 13-19) or with a country code; numbers written with separators but no
country code are read as Chinese or US numbers.

Names, addresses and birth dates carry no checksum; they are found by the column name in English
and Chinese. Sensitive categories (health, religion, ethnicity, political views, biometrics,
genetic data, sex life, criminal records, minors) are found by name too, and minors also by an
age column with values under 14 (PIPL art. 28 treats their data as sensitive).

Large columns are checked on a fixed-seed sample of SAMPLE_SIZE non-missing values; the result
says so.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.us import ssn

from core.i18n import Message

ENTITY_TYPES: tuple[str, ...] = (
    "EMAIL",
    "PHONE",
    "CN_RESIDENT_ID",
    "CN_USCC",
    "CN_BANK_CARD",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "IP_ADDRESS",
    "PERSON_NAME",
    "ADDRESS",
    "DATE_OF_BIRTH",
)
# Entity types that single out a person (or an organisation) on their own. A birth date does not:
# it is a quasi-identifier, dangerous in combination (see core.compliance.anonymity).
DIRECT_IDENTIFIER_TYPES: frozenset[str] = frozenset(ENTITY_TYPES) - {"DATE_OF_BIRTH"}
SENSITIVE_CATEGORIES: tuple[str, ...] = (
    "health",
    "religion",
    "ethnicity",
    "political",
    "biometric",
    "genetic",
    "sex_life",
    "criminal",
    "minors",
)
SAMPLE_SIZE = 5_000
SAMPLE_SEED = 0
MIN_MATCH_RATE = 0.3
MIN_VALID_RATE = 0.9
MIN_VALID_COUNT = 3  # 3 random values all pass Luhn 1 time in 1,000
MINOR_AGE = 14  # PIPL art. 28 and 31: personal information of children under 14 is sensitive

# Numbers written without a country code are read as Chinese or US numbers. Each region added
# lets more random digits through: with these two, at most ~60% of random formatted numbers
# validate (ddd-ddd-dddd), safely under MIN_VALID_RATE; with nine regions, 96% did.
_PHONE_REGIONS = ("CN", "US")


@dataclass(frozen=True)
class EntityFinding:
    """One entity type found in a column, with how many values look like it and validate."""

    type: str
    match_rate: float
    valid_rate: float
    source: str = "values"  # "values" (pattern + validation) or "name" (the column's name)

    def to_dict(self) -> dict:
        """JSON-safe plain data (the `scan --json` entity contract plus `source`)."""
        return {
            "type": self.type,
            "match_rate": round(self.match_rate, 4),
            "valid_rate": round(self.valid_rate, 4),
            "source": self.source,
        }


@dataclass(frozen=True)
class SensitiveFinding:
    """A sensitive category a column appears to hold, and why."""

    category: str
    source: str  # "name" or "values"
    share: float | None = None  # for minors found by value: the share of ages under 14

    @property
    def message(self) -> Message:
        """What was found, in words."""
        if self.source == "values":
            return Message("privacy.sensitive.minors_values", {"share": self.share or 0.0})
        return Message(f"privacy.category.{self.category}")

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        data: dict = {"category": self.category, "source": self.source}
        if self.share is not None:
            data["share"] = round(self.share, 4)
        return data


@dataclass(frozen=True)
class ColumnScan:
    """What the scan found in one column."""

    name: str
    entities: tuple[EntityFinding, ...]
    sensitive: tuple[SensitiveFinding, ...]
    checked: int  # values checked (non-missing, sampled)
    present: int  # non-missing values in the column

    @property
    def direct_identifier(self) -> bool:
        """Whether the column holds an entity type that singles out a person on its own."""
        return any(entity.type in DIRECT_IDENTIFIER_TYPES for entity in self.entities)

    @property
    def types(self) -> tuple[str, ...]:
        """The entity types found, in ENTITY_TYPES order."""
        return tuple(entity.type for entity in self.entities)

    def to_dict(self) -> dict:
        """JSON-safe plain data (the `scan --json` column contract plus extras)."""
        return {
            "name": self.name,
            "entities": [entity.to_dict() for entity in self.entities],
            "sensitive": [finding.to_dict() for finding in self.sensitive],
            "checked": self.checked,
            "present": self.present,
        }


@dataclass(frozen=True)
class ScanResult:
    """A whole table's scan: one ColumnScan per column plus notes on how it was done."""

    rows: int
    columns: tuple[ColumnScan, ...]
    sample_size: int
    sampled: bool
    notes: tuple[Message, ...] = field(default_factory=tuple)

    @property
    def direct_identifiers(self) -> tuple[str, ...]:
        """Columns holding a direct identifier (a name, an ID number, a phone ...)."""
        return tuple(column.name for column in self.columns if column.direct_identifier)

    @property
    def sensitive_columns(self) -> tuple[str, ...]:
        """Columns that appear to hold a sensitive category of personal data."""
        return tuple(column.name for column in self.columns if column.sensitive)

    @property
    def flagged(self) -> tuple[ColumnScan, ...]:
        """The columns with any finding."""
        return tuple(column for column in self.columns if column.entities or column.sensitive)

    def column(self, name: str) -> ColumnScan:
        """The scan of one column (KeyError if there is none)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict:
        """JSON-safe plain data: the `scan --json` contract plus summary fields."""
        return {
            "rows": self.rows,
            "sample_size": self.sample_size,
            "sampled": self.sampled,
            "columns": [column.to_dict() for column in self.columns],
            "direct_identifiers": list(self.direct_identifiers),
            "sensitive_columns": list(self.sensitive_columns),
        }


def scan_frame(
    frame: pd.DataFrame, *, sample_size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED
) -> ScanResult:
    """Scan every column of `frame` for personal data (values sampled beyond `sample_size`)."""
    columns = []
    sampled = False
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        name = str(frame.columns[position])
        values, present = _column_values(series, sample_size, seed)
        sampled = sampled or present > sample_size
        entities = [*scan_values(values, column_name=name)]
        found = {entity.type for entity in entities}
        entities += [
            finding for finding in _name_entities(name, values) if finding.type not in found
        ]
        entities.sort(key=lambda entity: ENTITY_TYPES.index(entity.type))
        columns.append(
            ColumnScan(
                name=name,
                entities=tuple(entities),
                sensitive=tuple(_sensitive_findings(name, series)),
                checked=len(values),
                present=present,
            )
        )
    notes: tuple[Message, ...] = ()
    if sampled:
        notes = (Message("privacy.scan.sampled", {"sample": sample_size}),)
    return ScanResult(
        rows=len(frame),
        columns=tuple(columns),
        sample_size=sample_size,
        sampled=sampled,
        notes=notes,
    )


def scan_values(values: Sequence[str], *, column_name: str = "") -> list[EntityFinding]:
    """The entity types that `values` (non-missing strings) hold, by pattern plus validation."""
    if not values:
        return []
    ssn_named = bool(_tokens(column_name) & {"ssn", "social"})
    findings = []
    for detector in _DETECTORS:
        matched = valid = 0
        for value in values:
            candidate = detector.match(value, ssn_named)
            if candidate is None:
                continue
            matched += 1
            if _passes(detector.validate, candidate):
                valid += 1
        if not matched:
            continue
        match_rate, valid_rate = matched / len(values), valid / matched
        if (
            match_rate >= MIN_MATCH_RATE
            and valid_rate >= MIN_VALID_RATE
            and valid >= (1 if detector.chance == 0 else MIN_VALID_COUNT)
        ):
            findings.append(EntityFinding(detector.type, match_rate, valid_rate))
    return _drop_shadowed(findings)


def name_entity_types(column_name: str) -> tuple[str, ...]:
    """Entity types suggested by a column's name alone (names, addresses, birth dates)."""
    tokens, text = _tokens(column_name), column_name.lower()
    found = []
    if _is_person_name(tokens, text, _words(column_name)):
        found.append("PERSON_NAME")
    if (tokens & _ADDRESS_WORDS or any(word in text for word in _ADDRESS_ZH)) and not (
        tokens & _NOT_ADDRESS
    ):
        found.append("ADDRESS")
    if (
        tokens & _BIRTH_WORDS
        or {"date", "birth"} <= tokens
        or any(word in text for word in _BIRTH_ZH)
    ):
        found.append("DATE_OF_BIRTH")
    return tuple(found)


def sensitive_categories(column_name: str) -> tuple[str, ...]:
    """Sensitive categories suggested by a column's name, in English or Chinese."""
    tokens, text = _tokens(column_name), column_name.lower()
    return tuple(
        category
        for category in SENSITIVE_CATEGORIES
        if tokens & _SENSITIVE_WORDS[category][0]
        or any(word in text for word in _SENSITIVE_WORDS[category][1])
    )


def is_age_column(column_name: str) -> bool:
    """Whether a column is named like a person's age."""
    return bool(_tokens(column_name) & {"age", "ages"}) or "年龄" in column_name


def value_strings(series: pd.Series) -> pd.Series:
    """Non-missing values as the strings a person would type (whole floats without '.0')."""
    present = series.dropna()
    if present.empty:
        return present.astype(object)
    if pd.api.types.is_bool_dtype(present.dtype):
        return present.astype(str)
    if pd.api.types.is_float_dtype(present.dtype):
        numbers = present.to_numpy(dtype=float)
        finite = np.isfinite(numbers)
        whole = finite & (np.floor(numbers) == numbers) & (np.abs(numbers) < 1e18)
        text = [
            str(int(number)) if is_whole else str(number)
            for number, is_whole in zip(numbers, whole, strict=True)
        ]
        return pd.Series(text, index=present.index, dtype=object)
    return present.map(_value_text).astype(object)


def _value_text(value: object) -> str:
    # An object column can mix numbers in: 13800138000.0 is the phone number 13800138000.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- detectors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Detector:
    type: str
    match: Callable[[str, bool], str | None]  # the candidate to validate, or None
    validate: Callable[[str], bool]
    chance: float  # share of random matching strings that validate anyway (0: none)


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}")
_DIGITS = re.compile(r"\d+")
_PHONE_TEXT = re.compile(r"\+?[\d\s().-]{7,24}")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_RIC = re.compile(r"\d{17}[\dXx]")
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_SSN_DASHED = re.compile(r"\d{3}-\d{2}-\d{4}")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_IPV6 = re.compile(r"[0-9A-Fa-f:]{2,39}")
_CARD_SEPARATORS = re.compile(r"[ -]")


def _match_email(value: str, _named: bool) -> str | None:
    return value if "@" in value and _EMAIL.fullmatch(value) else None


def _valid_email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    return not (
        local.startswith(".") or local.endswith(".") or ".." in value or domain.startswith("-")
    )


def _match_phone(value: str, _named: bool) -> str | None:
    if not _PHONE_TEXT.fullmatch(value):
        return None
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return None
    if value.startswith("+") or value.startswith("00"):
        return value
    if digits == value:
        # Bare digits: only a Chinese mobile is distinctive enough (see the module docstring).
        return value if _CN_MOBILE.fullmatch(value) else None
    return value  # written with separators, the way people write phone numbers


def _valid_phone(value: str) -> bool:
    regions: Iterable[str | None] = (None,) if value.startswith("+") else _PHONE_REGIONS
    if value.startswith("00"):
        value, regions = "+" + value[2:], (None,)
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _match_ric(value: str, _named: bool) -> str | None:
    return value.upper() if len(value) == 18 and _RIC.fullmatch(value) else None


def _valid_ric(value: str) -> bool:
    return ric.is_valid(value)


def _match_uscc(value: str, _named: bool) -> str | None:
    candidate = value.upper()
    return candidate if len(candidate) == 18 and _USCC.fullmatch(candidate) else None


def _valid_uscc(value: str) -> bool:
    return uscc.is_valid(value)


def _card_digits(value: str) -> str | None:
    compact = _CARD_SEPARATORS.sub("", value)
    return compact if 13 <= len(compact) <= 19 and compact.isdigit() else None


def _match_cn_bank_card(value: str, _named: bool) -> str | None:
    digits = _card_digits(value)
    return digits if digits and digits.startswith("62") and len(digits) >= 16 else None


def _match_credit_card(value: str, _named: bool) -> str | None:
    digits = _card_digits(value)
    if digits is None or digits.startswith("62"):
        return None
    return digits if _card_network(digits) else None


def _card_network(digits: str) -> str | None:
    """The card network whose number ranges and lengths fit, or None."""
    length, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and length in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and length == 16:
        return "mastercard"
    if two in (34, 37) and length == 15:
        return "amex"
    if (four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649) and 16 <= length <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= length <= 19:
        return "jcb"
    if (two == 36 or 300 <= int(digits[:3]) <= 305 or two in (38, 39)) and 14 <= length <= 19:
        return "diners"
    return None


def _valid_luhn(value: str) -> bool:
    return luhn.is_valid(value)


def _match_iban(value: str, _named: bool) -> str | None:
    compact = value.replace(" ", "").upper()
    return compact if _IBAN.fullmatch(compact) else None


def _valid_iban(value: str) -> bool:
    return stdnum_iban.is_valid(value)


def _match_ssn(value: str, named: bool) -> str | None:
    if _SSN_DASHED.fullmatch(value):
        return value
    return value if named and len(value) == 9 and value.isdigit() else None


def _valid_ssn(value: str) -> bool:
    return ssn.is_valid(value)


def _match_ip(value: str, _named: bool) -> str | None:
    if _IPV4.fullmatch(value) or (value.count(":") >= 2 and _IPV6.fullmatch(value)):
        return value
    return None


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_DETECTORS: tuple[_Detector, ...] = (
    _Detector("EMAIL", _match_email, _valid_email, 0.0),
    _Detector("PHONE", _match_phone, _valid_phone, 0.5),
    _Detector("CN_RESIDENT_ID", _match_ric, _valid_ric, 1 / 11),
    _Detector("CN_USCC", _match_uscc, _valid_uscc, 1 / 31),
    _Detector("CN_BANK_CARD", _match_cn_bank_card, _valid_luhn, 0.1),
    _Detector("CREDIT_CARD", _match_credit_card, _valid_luhn, 0.1),
    _Detector("IBAN", _match_iban, _valid_iban, 0.01),
    _Detector("US_SSN", _match_ssn, _valid_ssn, 0.88),
    _Detector("IP_ADDRESS", _match_ip, _valid_ip, 0.0),
)
# A resident ID is also shaped like a credit code, and passes its MOD 31 check 1 time in 31: when
# both are found, the one with the higher valid rate stands.
_SHADOWS = (("CN_RESIDENT_ID", "CN_USCC"),)


def _passes(validate: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(validate(value))
    except Exception:  # a validator tripping on odd input (stdnum's region table has gaps) is a no
        return False


def _drop_shadowed(findings: list[EntityFinding]) -> list[EntityFinding]:
    by_type = {finding.type: finding for finding in findings}
    for first, second in _SHADOWS:
        if first in by_type and second in by_type:
            loser = second if by_type[first].valid_rate >= by_type[second].valid_rate else first
            del by_type[loser]
    return [finding for finding in findings if finding.type in by_type]


# --- column names ---------------------------------------------------------------------------

_NAME_QUALIFIERS = frozenset(
    {
        "first",
        "last",
        "full",
        "given",
        "family",
        "middle",
        "maiden",
        "customer",
        "patient",
        "client",
        "contact",
        "person",
        "employee",
        "holder",
        "member",
        "applicant",
        "student",
        "owner",
        "cardholder",
        "account",
        "real",
        "legal",
    }
)
_NAME_WORDS = frozenset({"surname", "firstname", "lastname", "fullname", "forename", "givenname"})
_NAME_ZH = ("姓名", "名字", "真实姓名", "联系人", "持卡人")
_ADDRESS_WORDS = frozenset({"address", "addr", "street", "address1", "address2", "residence"})
_ADDRESS_ZH = ("地址", "住址", "住所", "街道", "门牌", "居住地")
_NOT_ADDRESS = frozenset({"email", "mail", "ip", "mac", "web", "url", "wallet", "server"})
_BIRTH_WORDS = frozenset({"dob", "birthday", "birthdate", "born", "dateofbirth"})
_BIRTH_ZH = ("出生", "生日")
_SENSITIVE_WORDS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "health": (
        frozenset(
            {
                "health",
                "medical",
                "diagnosis",
                "disease",
                "illness",
                "hiv",
                "disability",
                "symptom",
                "symptoms",
                "medication",
                "prescription",
                "pregnancy",
                "pregnant",
                "treatment",
            }
        ),
        ("健康", "病", "医疗", "诊断", "残疾", "用药", "妊娠", "怀孕"),
    ),
    "religion": (
        frozenset({"religion", "religious", "faith", "belief", "beliefs"}),
        ("宗教", "信仰"),
    ),
    "ethnicity": (
        frozenset({"ethnicity", "ethnic", "race", "racial"}),
        ("民族", "种族"),
    ),
    "political": (
        frozenset({"political", "politics", "union", "unionised", "unionized"}),
        ("政治", "党派", "政党", "工会"),
    ),
    "biometric": (
        frozenset({"biometric", "fingerprint", "face", "facial", "iris", "voiceprint", "retina"}),
        ("指纹", "人脸", "面部", "虹膜", "声纹", "生物识别", "掌纹"),
    ),
    "genetic": (frozenset({"genetic", "dna", "genome", "gene"}), ("基因", "遗传")),
    "sex_life": (
        frozenset({"orientation", "sexuality", "sexual"}),
        ("性取向", "性生活"),
    ),
    "criminal": (
        frozenset({"criminal", "conviction", "convictions", "offence", "offense", "arrest"}),
        ("犯罪", "违法记录", "前科"),
    ),
    "minors": (
        frozenset({"minor", "minors", "child", "children", "kid", "kids", "juvenile"}),
        ("未成年", "儿童", "少儿"),
    ),
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _words(name: str) -> set[str]:
    """Lower-case English words of a column name: 'DateOfBirth' and 'date_of_birth' alike."""
    spaced = _CAMEL.sub(" ", name)
    return {word for word in _NON_WORD.split(spaced.lower()) if word}


def _tokens(name: str) -> set[str]:
    """The words of a column name plus all of them glued ('date_of_birth' -> 'dateofbirth')."""
    joined = _NON_WORD.sub("", name.lower())
    return _words(name) | ({joined} if joined else set())


def _is_person_name(tokens: set[str], text: str, words: set[str]) -> bool:
    if tokens & _NAME_WORDS or any(word in text for word in _NAME_ZH):
        return True
    if text.strip() in ("姓", "名"):
        return True
    return "name" in words and words - {"name"} <= _NAME_QUALIFIERS


def _name_entities(name: str, values: Sequence[str]) -> list[EntityFinding]:
    """Entities suggested by the column's name, with the share of values that fit the type."""
    findings = []
    for entity_type in name_entity_types(name):
        fits = [_FITS[entity_type](value) for value in values]
        valid_rate = sum(fits) / len(fits) if fits else 0.0
        if values and valid_rate < 0.5:
            continue  # named "address" but holding numbers or codes: not an address
        findings.append(EntityFinding(entity_type, 1.0 if values else 0.0, valid_rate, "name"))
    return findings


_LETTERS = re.compile(r"[^\W\d_]")


def _fits_person_name(value: str) -> bool:
    return (
        1 <= len(value) <= 80
        and bool(_LETTERS.search(value))
        and not any(character.isdigit() for character in value)
    )


def _fits_address(value: str) -> bool:
    return len(value) >= 3 and bool(_LETTERS.search(value))


def _fits_birth_date(value: str) -> bool:
    try:
        when = pd.to_datetime(value, errors="raise")
    except (ValueError, TypeError, OverflowError):
        return False
    return bool(pd.notna(when)) and 1900 <= when.year <= date.today().year


_FITS: dict[str, Callable[[str], bool]] = {
    "PERSON_NAME": _fits_person_name,
    "ADDRESS": _fits_address,
    "DATE_OF_BIRTH": _fits_birth_date,
}


def _sensitive_findings(name: str, series: pd.Series) -> list[SensitiveFinding]:
    findings = [SensitiveFinding(category, "name") for category in sensitive_categories(name)]
    if is_age_column(name) and "minors" not in {finding.category for finding in findings}:
        ages = pd.to_numeric(series, errors="coerce").dropna()
        ages = ages[(ages >= 0) & (ages < 130)]
        if len(ages):
            share = float((ages < MINOR_AGE).mean())
            if share > 0:
                findings.append(SensitiveFinding("minors", "values", share))
    return findings


def _column_values(series: pd.Series, sample_size: int, seed: int) -> tuple[list[str], int]:
    """The column's non-missing values as strings (sampled), and how many are present."""
    present = series.dropna()
    count = len(present)
    if count > sample_size:
        present = present.sample(sample_size, random_state=seed)
    if pd.api.types.is_float_dtype(present.dtype):
        numbers = present.to_numpy(dtype=float)
        if not np.all(np.isfinite(numbers) & (np.floor(numbers) == numbers)):
            return [], count  # measurements, not codes
    if pd.api.types.is_bool_dtype(present.dtype) or pd.api.types.is_datetime64_any_dtype(
        present.dtype
    ):
        if pd.api.types.is_datetime64_any_dtype(present.dtype):
            return [str(value.date()) for value in present], count
        return [], count
    return [value for value in value_strings(present).tolist() if value], count
