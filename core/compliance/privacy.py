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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    "trade_union",
    "biometric",
    "genetic",
    "sex_life",
    "criminal",
    "minors",
    "financial",
    "location",
    "sex",
    "nationality",
    "age",
)
# What the law says of each category. Special categories (GDPR art. 9(1), criminal records art.
# 10; PIPL art. 28's sensitive personal information) need a separate legal basis or consent.
# Sex, nationality and age are not special categories, but they are protected grounds against
# discrimination (EU Charter art. 21; PRC Employment Promotion Law art. 3 and 27): they matter
# for fairness, not for consent. Ethnicity and a 户籍 (household registration) are "specific
# identities" under PIPL art. 28 in the national standard's reading (GB/T 35273 annex B).
LAW: dict[str, tuple[str, ...]] = {
    "health": ("GDPR art. 9", "PIPL art. 28"),
    "religion": ("GDPR art. 9", "PIPL art. 28"),
    "ethnicity": ("GDPR art. 9", "PIPL art. 28"),
    "political": ("GDPR art. 9",),
    "trade_union": ("GDPR art. 9",),
    "biometric": ("GDPR art. 9", "PIPL art. 28"),
    "genetic": ("GDPR art. 9", "PIPL art. 28"),
    "sex_life": ("GDPR art. 9", "PIPL art. 28"),
    "criminal": ("GDPR art. 10", "PIPL art. 28"),
    "minors": ("PIPL art. 28", "PIPL art. 31"),
    "financial": ("PIPL art. 28",),
    "location": ("PIPL art. 28",),
    "sex": ("EU Charter art. 21",),
    "nationality": ("EU Charter art. 21",),
    "age": ("EU Charter art. 21",),
}
PROTECTED_ONLY: frozenset[str] = frozenset({"sex", "nationality", "age"})
SPECIAL_CATEGORIES: tuple[str, ...] = tuple(
    category for category in SENSITIVE_CATEGORIES if category not in PROTECTED_ONLY
)
# The categories the old catalog names; the others' texts live in the "special" namespace.
_PRIVACY_CATALOG = frozenset(
    {
        "health",
        "religion",
        "ethnicity",
        "political",
        "biometric",
        "genetic",
        "sex_life",
        "criminal",
        "minors",
    }
)
# For fairness, the attributes discrimination is most often measured on come first.
FAIRNESS_ORDER: tuple[str, ...] = (
    "ethnicity",
    "sex",
    "religion",
    "nationality",
    "age",
    "health",
    "sex_life",
    "political",
    "trade_union",
)
CONFIDENCES = ("high", "medium", "low")
SAMPLE_SIZE = 5_000
SAMPLE_SEED = 0
MIN_MATCH_RATE = 0.3
MIN_VALID_RATE = 0.9
MIN_VALID_COUNT = 3  # 3 random values all pass Luhn 1 time in 1,000
REGION_MAX_DISTINCT_SHARE = 0.2  # a region repeats: at most one distinct value in five
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


def category_key(category: str) -> str:
    """The catalog key naming a category ("Ethnic origin")."""
    namespace = "privacy" if category in _PRIVACY_CATALOG else "special"
    return f"{namespace}.category.{category}"


def in_column_key(category: str) -> str:
    """The catalog key of "{column} appears to hold ..." for a category."""
    namespace = "privacy" if category in _PRIVACY_CATALOG else "special"
    return f"{namespace}.in_column.{category}"


@dataclass(frozen=True)
class SensitiveFinding:
    """A sensitive category a column appears to hold, why, and how sure the call is.

    `source` is "name" (the column's name says it), "coded" (a yes/no column named after a group,
    such as `black` or `female`), "values" (the values name the groups, or ages under 14), or
    "person" (a person's correction, which outranks the scan).
    """

    category: str
    source: str  # "name", "coded", "values" or "person"
    share: float | None = None  # for minors found by value: the share of ages under 14
    confidence: str = "high"  # one of CONFIDENCES

    @property
    def special(self) -> bool:
        """Whether the law treats it as a special category (a separate consent or basis)."""
        return self.category not in PROTECTED_ONLY

    @property
    def law(self) -> tuple[str, ...]:
        """The articles that single the category out."""
        return LAW.get(self.category, ())

    @property
    def message(self) -> Message:
        """What was found, in words."""
        if self.source == "values" and self.category == "minors":
            return Message("privacy.sensitive.minors_values", {"share": self.share or 0.0})
        return Message(category_key(self.category))

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        data: dict = {
            "category": self.category,
            "source": self.source,
            "confidence": self.confidence,
            "special": self.special,
            "law": list(self.law),
        }
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
    quasi: tuple[str, ...] = ()  # quasi-identifier kinds by evidence ("region")

    @property
    def special(self) -> bool:
        """Whether the column holds a special category of personal data."""
        return any(finding.special for finding in self.sensitive)

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
            "quasi_identifier": list(self.quasi),
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
        """Columns that appear to hold a special category of personal data (consent needed)."""
        return tuple(column.name for column in self.columns if column.special)

    @property
    def protected_columns(self) -> tuple[str, ...]:
        """Columns holding any sensitive or protected attribute (candidates for fairness)."""
        return tuple(column.name for column in self.columns if column.sensitive)

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        """Columns the scan judged quasi-identifiers by their values (a region, say)."""
        return tuple(column.name for column in self.columns if column.quasi)

    @property
    def flagged(self) -> tuple[ColumnScan, ...]:
        """The columns with any finding."""
        return tuple(
            column for column in self.columns if column.entities or column.sensitive or column.quasi
        )

    def fairness_column(self) -> str | None:
        """The attribute fairness is best measured on first: ethnicity, then sex, and so on."""
        best: tuple[int, int, str] | None = None
        for position, column in enumerate(self.columns):
            for finding in column.sensitive:
                if finding.category in FAIRNESS_ORDER:
                    rank = (FAIRNESS_ORDER.index(finding.category), position, column.name)
                    best = rank if best is None or rank < best else best
        return None if best is None else best[2]

    def corrected(self, corrections: Mapping[str, Sequence[str]]) -> ScanResult:
        """This scan with a person's calls: each named column's categories replaced by theirs.

        An empty list clears the column's findings (a false alarm); the person's categories are
        recorded with source "person" and outrank the scan's.
        """
        columns = []
        for column in self.columns:
            if column.name in corrections:
                chosen = [c for c in corrections[column.name] if c in SENSITIVE_CATEGORIES]
                findings = tuple(SensitiveFinding(c, "person") for c in dict.fromkeys(chosen))
                column = replace(column, sensitive=findings)
            columns.append(column)
        return replace(self, columns=tuple(columns))

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
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive_columns": [
                _column_categories(column) for column in self.columns if column.special
            ],
            "protected_columns": [
                _column_categories(column)
                for column in self.columns
                if column.sensitive and not column.special
            ],
        }


def _column_categories(column: ColumnScan) -> dict:
    findings = column.sensitive
    return {
        "name": column.name,
        "category": findings[0].category,
        "categories": [finding.category for finding in findings],
        "law": sorted({law for finding in findings for law in finding.law}),
        "confidence": min(
            (finding.confidence for finding in findings), key=CONFIDENCES.index, default="high"
        ),
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
        quasi: tuple[str, ...] = ()
        named_address = any(e.type == "ADDRESS" and e.source == "name" for e in entities)
        if (named_address or _region_named(name)) and _region_like(values):
            # A region ("north_east", "rural") narrows a person down, but never alone.
            entities = [e for e in entities if not (e.type == "ADDRESS" and e.source == "name")]
            quasi = ("region",)
        entities.sort(key=lambda entity: ENTITY_TYPES.index(entity.type))
        columns.append(
            ColumnScan(
                name=name,
                entities=tuple(entities),
                sensitive=tuple(_sensitive_findings(name, series)),
                checked=len(values),
                present=present,
                quasi=quasi,
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
    words = _words(column_name)
    found = []
    for category in SENSITIVE_CATEGORIES:
        english, chinese = _SENSITIVE_WORDS[category]
        stems = _SENSITIVE_STEMS.get(category, ())
        if (
            tokens & english
            or any(word in text for word in chinese)
            or any(stem in word for word in words for stem in stems)
            or (category == "age" and _is_person_age(words))
        ):
            found.append(category)
    return tuple(found)


def coded_categories(column_name: str, series: pd.Series) -> tuple[str, ...]:
    """Categories of a yes/no column named after a group (`black`, `female`, 是否少数民族)."""
    words, text = _words(column_name), column_name.strip().lower()
    glued = _NON_WORD.sub("", text)
    prefixes = ("is", "d", "dummy", "flag")
    core_words = words - set(prefixes)
    found = []
    for category, names in _CODED_NAMES.items():
        english = glued in names or (len(core_words) == 1 and core_words <= names)
        chinese = any(text == word or text == f"是否{word}" for word in _CODED_ZH.get(category, ()))
        if english or chinese:
            found.append(category)
    if not found or not _is_yes_no(series):
        return ()
    return tuple(found)


def value_categories(series: pd.Series) -> tuple[str, ...]:
    """Categories whose group names make up a column's values ("black", "white", "hisp" ...)."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return ()
    values = {str(value).strip().lower() for value in series.dropna().unique()[:200]}
    if len(values) < 2 or len(values) > 60:
        return ()
    found = []
    for category, groups in _GROUP_VALUES.items():
        named = values & groups
        # At least two groups named, making up most of the distinct values ("other" besides).
        if len(named) >= 2 and len(named) >= 0.5 * len(values):
            found.append(category)
    return tuple(found)


def _is_yes_no(series: pd.Series) -> bool:
    values = {str(value).strip().lower() for value in series.dropna().unique()[:3]}
    values = {value[:-2] if value.endswith(".0") else value for value in values}
    return len(values) == 2 and any(values == pair for pair in _YES_NO)


def _is_person_age(words: set[str]) -> bool:
    """An English name for a person's age: "age", "age_years", "driver_age", not "age_of_house"."""
    if not words & {"age", "ages"}:
        return False
    return words <= _AGE_PERSON_WORDS | _NAME_QUALIFIERS


def is_age_column(column_name: str) -> bool:
    """Whether a column is named like a person's age (not a house's)."""
    return _is_person_age(_words(column_name)) or "年龄" in column_name


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
_REGION_WORDS = frozenset(
    {"region", "residence", "province", "state", "county", "district", "city", "area", "urban"}
)
_REGION_ZH = ("地区", "省", "城市", "区县", "居住地", "所在地", "城乡")
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
                "disabled",
                "handicap",
                "symptom",
                "symptoms",
                "medication",
                "prescription",
                "pregnancy",
                "pregnant",
                "treatment",
                "hlth",
                "poorhlth",
            }
        ),
        ("健康", "病", "医疗", "诊断", "残疾", "用药", "妊娠", "怀孕"),
    ),
    "religion": (
        frozenset({"religion", "religious", "faith", "belief", "beliefs", "relig"}),
        ("宗教", "信仰"),
    ),
    "ethnicity": (
        frozenset(
            {
                "ethnicity",
                "ethnic",
                "ethn",
                "race",
                "racial",
                "afam",
                "afram",
                "nonwhite",
                "minority",
            }
        ),
        ("民族", "种族"),
    ),
    "political": (
        frozenset({"political", "politics", "partisan"}),
        ("政治", "党派", "政党"),
    ),
    "trade_union": (
        frozenset({"union", "unionised", "unionized", "unionmember", "unionism"}),
        ("工会",),
    ),
    "biometric": (
        frozenset({"biometric", "fingerprint", "face", "facial", "iris", "voiceprint", "retina"}),
        ("指纹", "人脸", "面部", "虹膜", "声纹", "生物识别", "掌纹"),
    ),
    "genetic": (frozenset({"genetic", "dna", "genome", "gene"}), ("基因", "遗传")),
    "sex_life": (
        frozenset({"orientation", "sexuality", "sexual", "lgbt", "lgbtq"}),
        ("性取向", "性生活"),
    ),
    "criminal": (
        frozenset(
            {"criminal", "conviction", "convictions", "offence", "offense", "arrest", "arrests"}
        ),
        ("犯罪", "违法记录", "前科"),
    ),
    "minors": (
        frozenset({"minor", "minors", "child", "children", "kid", "kids", "juvenile"}),
        ("未成年", "儿童", "少儿"),
    ),
    "financial": (
        frozenset({"iban", "bankaccount", "accountnumber", "creditcard", "cardnumber"}),
        ("银行账户", "银行卡", "账号", "信用卡", "存款"),
    ),
    "location": (
        frozenset({"gps", "latitude", "longitude", "geolocation", "trajectory", "whereabouts"}),
        ("行踪", "轨迹", "定位", "经纬度"),
    ),
    "sex": (frozenset({"sex", "gender"}), ("性别",)),
    "nationality": (
        frozenset({"nationality", "citizenship", "citizen", "immigrant", "migrant"}),
        ("国籍", "户籍", "户口"),
    ),
    "age": (frozenset(), ("年龄",)),  # English "age" needs care: see _is_person_age
}
# Word stems that name a category inside a longer glued word ("poorhlth", "ethnicgroup").
_SENSITIVE_STEMS: dict[str, tuple[str, ...]] = {
    "health": ("hlth", "disab", "diagnos", "pregnan"),
    "religion": ("religi",),
    "ethnicity": ("ethnic",),
}
# Common coded forms: a yes/no column named after a group ("black" = 1 when the person is).
# Named like this but holding anything else (a chess player's name under "white") it is not one.
_CODED_NAMES: dict[str, frozenset[str]] = {
    "ethnicity": frozenset(
        {
            "black",
            "white",
            "hispanic",
            "hisp",
            "latino",
            "latina",
            "asian",
            "afam",
            "nonwhite",
            "minority",
            "indigenous",
            "aboriginal",
        }
    ),
    "sex": frozenset({"female", "male", "woman", "women", "man", "men", "fem"}),
    "religion": frozenset(
        {"muslim", "christian", "catholic", "protestant", "jewish", "hindu", "buddhist"}
    ),
    "health": frozenset({"disabled", "handicapped", "smoker", "diabetic"}),
    "sex_life": frozenset({"gay", "lesbian", "homosexual", "bisexual"}),
    "nationality": frozenset({"foreign", "foreigner", "immigrant", "migrant", "citizen"}),
    "trade_union": frozenset({"union", "unionmember"}),
}
_CODED_ZH: dict[str, tuple[str, ...]] = {
    "ethnicity": ("汉族", "少数民族", "是否汉族", "是否少数民族"),
    "sex": ("是否女性", "是否男性", "女性", "男性"),
    "religion": ("是否信教",),
    "health": ("是否残疾", "是否患病"),
    "trade_union": ("是否工会会员",),
    "nationality": ("是否外籍", "是否本地户籍"),
}
# Values that name the groups themselves, in a column with any name ("group": black/white/...).
_GROUP_VALUES: dict[str, frozenset[str]] = {
    "ethnicity": frozenset(
        {
            "black",
            "white",
            "hispanic",
            "hisp",
            "latino",
            "asian",
            "caucasian",
            "african american",
            "african-american",
            "native american",
            "汉族",
            "汉",
            "回族",
            "藏族",
            "维吾尔族",
            "壮族",
            "蒙古族",
            "满族",
            "苗族",
            "彝族",
            "少数民族",
        }
    ),
    "sex": frozenset({"male", "female", "man", "woman", "男", "女", "男性", "女性"}),
    "religion": frozenset(
        {
            "christian",
            "muslim",
            "catholic",
            "protestant",
            "jewish",
            "hindu",
            "buddhist",
            "atheist",
            "佛教",
            "基督教",
            "伊斯兰教",
            "天主教",
            "道教",
            "无宗教信仰",
        }
    ),
}
_YES_NO = (
    {"0", "1"},
    {"yes", "no"},
    {"true", "false"},
    {"y", "n"},
    {"是", "否"},
    {"有", "无"},
)
# Words that say "age" belongs to a thing, not a person ("age_of_house", "building_age").
_AGE_PERSON_WORDS = frozenset(
    {
        "age",
        "ages",
        "years",
        "yrs",
        "year",
        "group",
        "band",
        "bracket",
        "range",
        "cat",
        "category",
        "at",
        "in",
        "head",
        "respondent",
        "mother",
        "father",
        "driver",
        "borrower",
        "victim",
        "worker",
        "insured",
    }
)
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
    seen = {finding.category for finding in findings}
    for category in coded_categories(name, series):
        if category not in seen:
            findings.append(SensitiveFinding(category, "coded", confidence="medium"))
            seen.add(category)
    for category in value_categories(series):
        if category not in seen:
            findings.append(SensitiveFinding(category, "values", confidence="medium"))
            seen.add(category)
    if is_age_column(name) and "minors" not in seen:
        ages = pd.to_numeric(series, errors="coerce").dropna()
        ages = ages[(ages >= 0) & (ages < 130)]
        if len(ages):
            share = float((ages < MINOR_AGE).mean())
            if share > 0:
                findings.append(SensitiveFinding("minors", "values", share))
    return findings


def _region_like(values: Sequence[str]) -> bool:
    """Values that name areas, not places a person lives: few, repeated, mostly without digits."""
    if not values:
        return False
    distinct = set(values)
    with_digits = sum(any(ch.isdigit() for ch in value) for value in values) / len(values)
    return len(distinct) <= max(REGION_MAX_DISTINCT_SHARE * len(values), 1) and with_digits < 0.5


def _region_named(name: str) -> bool:
    tokens, text = _tokens(name), name.lower()
    return bool(tokens & _REGION_WORDS) or any(word in text for word in _REGION_ZH)


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
