"""Re-identification risk and de-identification: k-anonymity, l-diversity, quasi-identifier
suggestions, and actions that produce a new, less identifying copy of a table.

k-anonymity groups the records by their quasi-identifiers (age, gender, postcode ...): a record
in a group of size k hides among k - 1 others. Missing values form a group of their own (a blank
is as visible as a value). l-diversity (distinct) asks that each group hold at least l different
values of the sensitive column; otherwise knowing someone's group reveals their value.

De-identification never changes its input. The result is labelled honestly: "anonymised" only
when no direct identifier remains (nothing pseudonymised or partly masked either) and every group
of the chosen quasi-identifiers has at least k records; otherwise "pseudonymised", which is still
personal data (GDPR art. 4(5) and recital 26; PIPL art. 73(3) and (4)).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.i18n import Message, UserError

DEFAULT_K = 5
DEFAULT_L = 2
ACTION_KINDS = ("drop", "mask", "pseudonymise", "generalise")
GENERALISE_METHODS = ("age_band", "year", "cn_id_region")
PSEUDONYM_HEX_CHARS = 16  # 64 bits of HMAC-SHA256: collisions stay unlikely up to ~10^8 values
MASK_CHARACTER = "*"
QUASI_MAX_UNIQUE_SHARE = 0.95  # beyond this a column is an identifier, not a quasi-identifier

_MISSING = "\x00missing"  # stands for a missing value inside a group key


@dataclass(frozen=True)
class KAnonymity:
    """How well the records hide among each other on the chosen quasi-identifiers."""

    quasi_identifiers: tuple[str, ...]
    k: int  # size of the smallest group (0 for an empty table)
    target_k: int
    records: int
    groups: int
    records_below_k: int  # records in groups smaller than target_k
    unique_records: int  # records alone in their group

    @property
    def share_below_k(self) -> float:
        """Share of records in groups smaller than target_k."""
        return self.records_below_k / self.records if self.records else 0.0

    @property
    def unique_share(self) -> float:
        """Share of records that are unique on the quasi-identifiers."""
        return self.unique_records / self.records if self.records else 0.0

    @property
    def satisfied(self) -> bool:
        """Whether every group has at least target_k records."""
        return self.records > 0 and self.k >= self.target_k

    @property
    def message(self) -> Message:
        """One line: k, the share below the target and the share of unique records."""
        return Message(
            "anonymity.k.summary",
            {
                "k": self.k,
                "target": self.target_k,
                "below": self.share_below_k,
                "unique": self.unique_share,
                "columns": ", ".join(self.quasi_identifiers),
            },
        )

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "k": self.k,
            "target_k": self.target_k,
            "records": self.records,
            "groups": self.groups,
            "records_below_k": self.records_below_k,
            "share_below_k": round(self.share_below_k, 4),
            "unique_records": self.unique_records,
            "unique_share": round(self.unique_share, 4),
        }


@dataclass(frozen=True)
class LDiversity:
    """How many distinct sensitive values each quasi-identifier group holds."""

    quasi_identifiers: tuple[str, ...]
    sensitive: str
    l: int  # noqa: E741 (the standard name) fewest distinct sensitive values in a group
    target_l: int
    groups: int
    groups_below_l: int
    records_below_l: int
    records: int

    @property
    def share_below_l(self) -> float:
        """Share of records in groups with fewer than target_l distinct sensitive values."""
        return self.records_below_l / self.records if self.records else 0.0

    @property
    def satisfied(self) -> bool:
        """Whether every group holds at least target_l distinct sensitive values."""
        return self.records > 0 and self.l >= self.target_l

    @property
    def message(self) -> Message:
        """One line: l and the share of records in groups below the target."""
        return Message(
            "anonymity.l.summary",
            {
                "l": self.l,
                "target": self.target_l,
                "sensitive": self.sensitive,
                "below": self.share_below_l,
            },
        )

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive": self.sensitive,
            "l": self.l,
            "target_l": self.target_l,
            "groups": self.groups,
            "groups_below_l": self.groups_below_l,
            "records_below_l": self.records_below_l,
            "share_below_l": round(self.share_below_l, 4),
        }


@dataclass(frozen=True)
class QuasiSuggestion:
    """A column that could single people out in combination with others, and why."""

    column: str
    kind: str  # age, gender, postcode, birth_date, location, occupation, ...
    unique: int

    @property
    def reason(self) -> Message:
        """Why this column is suggested."""
        return Message(f"anonymity.quasi.reason_{self.kind}", {"column": self.column})

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {"column": self.column, "kind": self.kind, "unique": self.unique}


@dataclass(frozen=True)
class Action:
    """One de-identification step on one column."""

    column: str
    kind: str  # one of ACTION_KINDS
    keep_last: int = 4  # mask: characters left visible at the end
    method: str = "age_band"  # generalise: one of GENERALISE_METHODS
    band_width: int = 10  # generalise age_band: years per band

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise UserError("anonymity.error.unknown_action", kind=self.kind)
        if self.kind == "generalise" and self.method not in GENERALISE_METHODS:
            raise UserError("anonymity.error.unknown_method", method=self.method)
        if self.keep_last < 0 or self.band_width < 1:
            raise UserError("anonymity.error.bad_setting", column=self.column)


@dataclass(frozen=True)
class DeidentifySpec:
    """A de-identification plan: actions per column, then suppression of small groups.

    Round-trips through JSON; the pseudonym key is never part of it.
    """

    actions: tuple[Action, ...] = ()
    quasi_identifiers: tuple[str, ...] = ()
    k: int = DEFAULT_K
    suppress: bool = False  # drop records in quasi-identifier groups smaller than k

    def to_json(self) -> str:
        """This plan as JSON."""
        data = asdict(self)
        data["actions"] = [asdict(action) for action in self.actions]
        return json.dumps(data, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> DeidentifySpec:
        """A plan from its JSON (UserError when it is not one)."""
        try:
            data = json.loads(text)
            return cls(
                actions=tuple(Action(**item) for item in data.get("actions", [])),
                quasi_identifiers=tuple(data.get("quasi_identifiers", [])),
                k=int(data.get("k", DEFAULT_K)),
                suppress=bool(data.get("suppress", False)),
            )
        except UserError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise UserError("anonymity.error.bad_spec", reason=str(exc)) from None


@dataclass(frozen=True, eq=False)
class Deidentified:
    """The new table, what was done, and an honest label for it."""

    frame: pd.DataFrame
    label: str  # "pseudonymised" or "anonymised"
    reason: Message
    suppressed: int  # records removed because their group was smaller than k
    k_before: KAnonymity | None
    k_after: KAnonymity | None
    steps: tuple[Message, ...] = field(default_factory=tuple)

    def summary(self) -> dict:
        """JSON-safe plain data for the audit trail and reports (no values, no key)."""
        return {
            "label": self.label,
            "rows": len(self.frame),
            "columns": [str(name) for name in self.frame.columns],
            "suppressed": self.suppressed,
            "k_before": self.k_before.to_dict() if self.k_before else None,
            "k_after": self.k_after.to_dict() if self.k_after else None,
        }


def k_anonymity(
    frame: pd.DataFrame, quasi_identifiers: Sequence[str], k: int = DEFAULT_K
) -> KAnonymity:
    """k-anonymity of `frame` on `quasi_identifiers`, counting records in groups below `k`."""
    columns = _require_columns(frame, quasi_identifiers)
    sizes = _group_sizes(frame, columns)
    records = int(sizes.sum())
    return KAnonymity(
        quasi_identifiers=tuple(columns),
        k=int(sizes.min()) if len(sizes) else 0,
        target_k=k,
        records=records,
        groups=len(sizes),
        records_below_k=int(sizes[sizes < k].sum()),
        unique_records=int((sizes == 1).sum()),
    )


def l_diversity(
    frame: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str,
    l: int = DEFAULT_L,  # noqa: E741
) -> LDiversity:
    """Distinct l-diversity of `sensitive` within the groups of `quasi_identifiers`."""
    columns = _require_columns(frame, quasi_identifiers)
    _require_columns(frame, [sensitive])
    if sensitive in columns:
        raise UserError("anonymity.error.sensitive_is_quasi", column=sensitive)
    keys = _group_keys(frame, columns)
    values = _keyed(frame[sensitive])
    table = pd.DataFrame({"group": keys, "value": values})
    distinct = table.groupby("group", sort=False)["value"].nunique()
    sizes = table.groupby("group", sort=False).size()
    below = distinct[distinct < l].index
    return LDiversity(
        quasi_identifiers=tuple(columns),
        sensitive=sensitive,
        l=int(distinct.min()) if len(distinct) else 0,
        target_l=l,
        groups=len(distinct),
        groups_below_l=len(below),
        records_below_l=int(sizes.loc[below].sum()),
        records=len(frame),
    )


def suggest_quasi_identifiers(frame: pd.DataFrame) -> list[QuasiSuggestion]:
    """Columns likely to be quasi-identifiers: named like one and neither unique nor constant."""
    from core.compliance.privacy import _tokens

    found = []
    rows = len(frame)
    for position in range(frame.shape[1]):
        name = str(frame.columns[position])
        tokens, text = _tokens(name), name.lower()
        kind = next(
            (
                kind
                for kind, (words, chinese) in _QUASI_WORDS.items()
                if tokens & words or any(word in text for word in chinese)
            ),
            None,
        )
        if kind is None:
            continue
        series = frame.iloc[:, position]
        unique = int(series.nunique(dropna=True))
        present = int(series.notna().sum())
        if unique <= 1 or (present > 50 and unique > QUASI_MAX_UNIQUE_SHARE * present):
            continue
        if rows and kind not in ("birth_date", "age") and unique > 0.5 * rows and rows > 50:
            continue  # a free-text column with "city" in its name, say: not a usable grouping
        found.append(QuasiSuggestion(name, kind, unique))
    return found


def deidentify(
    frame: pd.DataFrame,
    spec: DeidentifySpec,
    *,
    key: bytes | None = None,
    direct_identifiers: Sequence[str] | None = None,
) -> Deidentified:
    """Apply `spec` to a copy of `frame`; `key` is the HMAC key for pseudonyms (never stored).

    `direct_identifiers` are the columns known to hold direct identifiers (from the PII scan of
    the input); when None the output is scanned to find any that remain.
    """
    for action in spec.actions:
        _require_columns(frame, [action.column])
    quasi = list(spec.quasi_identifiers)
    k_before = k_anonymity(frame, quasi, spec.k) if quasi else None
    result = frame.copy(deep=True)
    steps: list[Message] = []
    still_personal: list[Message] = []
    for action in spec.actions:
        if action.column not in result.columns:
            continue  # dropped by an earlier action
        column = action.column
        if action.kind == "drop":
            result = result.drop(columns=[column])
            steps.append(Message("anonymity.step.drop", {"column": column}))
        elif action.kind == "mask":
            result[column] = mask_values(result[column], action.keep_last)
            steps.append(Message("anonymity.step.mask", {"column": column, "n": action.keep_last}))
            if action.keep_last > 0:
                still_personal.append(Message("anonymity.reason.masked", {"column": column}))
        elif action.kind == "pseudonymise":
            if not key:
                raise UserError("anonymity.error.no_key")
            result[column] = pseudonymise(result[column], key)
            steps.append(Message("anonymity.step.pseudonymise", {"column": column}))
            still_personal.append(Message("anonymity.reason.pseudonym", {"column": column}))
        else:
            result[column] = generalise(result[column], action.method, action.band_width)
            steps.append(
                Message(
                    f"anonymity.step.generalise_{action.method}",
                    {"column": column, "width": action.band_width},
                )
            )
    missing_quasi = [name for name in quasi if name not in result.columns]
    quasi = [name for name in quasi if name in result.columns]
    suppressed = 0
    if spec.suppress and quasi:
        keys = _group_keys(result, quasi)
        keep = np.bincount(keys)[keys] >= spec.k
        suppressed = int((~keep).sum())
        result = result.loc[keep]
        steps.append(Message("anonymity.step.suppress", {"count": suppressed, "k": spec.k}))
    k_after = k_anonymity(result, quasi, spec.k) if quasi else None
    label, reason = _label(result, spec, k_after, still_personal, direct_identifiers)
    if missing_quasi:
        steps.append(Message("anonymity.step.quasi_dropped", {"columns": ", ".join(missing_quasi)}))
    return Deidentified(
        frame=result,
        label=label,
        reason=reason,
        suppressed=suppressed,
        k_before=k_before,
        k_after=k_after,
        steps=tuple(steps),
    )


def new_pseudonym_key() -> bytes:
    """A fresh random 256-bit key for keyed pseudonyms (keep it in the session only)."""
    return secrets.token_bytes(32)


def pseudonymise(series: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 of each value under `key`, as hex; equal values get equal pseudonyms."""
    if not key:
        raise UserError("anonymity.error.no_key")

    def one(value: object) -> str:
        digest = hmac.new(key, _canonical(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_CHARS]

    return _map_present(series, one)


def mask_values(series: pd.Series, keep_last: int = 4) -> pd.Series:
    """Each value with all but its last `keep_last` characters replaced by '*'."""

    def one(value: object) -> str:
        text = _canonical(value)
        kept = text[-keep_last:] if keep_last and len(text) > keep_last else ""
        if keep_last and len(text) <= keep_last:
            # Too short to show anything safely: hide it all.
            return MASK_CHARACTER * len(text)
        return MASK_CHARACTER * (len(text) - len(kept)) + kept

    return _map_present(series, one)


def generalise(series: pd.Series, method: str, band_width: int = 10) -> pd.Series:
    """Coarser values: age bands ('30-39'), dates to their year, or a resident ID to its
    province code and birth year ('110000-1949'); values that don't fit become missing."""
    if method == "age_band":
        ages = pd.to_numeric(series, errors="coerce")
        starts = np.floor(ages / band_width) * band_width
        labels = [
            None if math.isnan(start) else f"{int(start)}-{int(start) + band_width - 1}"
            for start in starts.to_numpy(dtype=float)
        ]
        return pd.Series(labels, index=series.index, dtype=object, name=series.name)
    if method == "year":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            dates = series
        else:
            dates = pd.to_datetime(series, errors="coerce", format="mixed")
        return dates.dt.year.astype("Int64").rename(series.name)
    if method == "cn_id_region":
        return _map_present(series, _id_region_and_year)
    raise UserError("anonymity.error.unknown_method", method=method)


# --- helpers --------------------------------------------------------------------------------

_QUASI_WORDS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "birth_date": (
        frozenset({"dob", "birthday", "birthdate", "dateofbirth", "birth", "born"}),
        ("出生", "生日"),
    ),
    "age": (frozenset({"age", "ages"}), ("年龄", "岁")),
    "gender": (frozenset({"gender", "sex"}), ("性别",)),
    "postcode": (
        frozenset({"zip", "zipcode", "postcode", "postal", "postalcode", "plz"}),
        ("邮编", "邮政编码"),
    ),
    "location": (
        frozenset(
            {
                "city",
                "town",
                "county",
                "district",
                "province",
                "region",
                "country",
                "hometown",
                "residence",
                "state",
            }
        ),
        ("城市", "省份", "所在地", "区县", "地区", "籍贯", "户籍"),
    ),
    "occupation": (
        frozenset({"occupation", "job", "profession", "employer", "industry"}),
        ("职业", "工作单位", "职位", "行业"),
    ),
    "ethnicity": (frozenset({"race", "ethnicity", "ethnic", "nationality"}), ("民族", "国籍")),
    "marital": (frozenset({"marital", "married"}), ("婚姻",)),
    "education": (frozenset({"education", "degree"}), ("学历", "教育")),
}


def _label(
    result: pd.DataFrame,
    spec: DeidentifySpec,
    k_after: KAnonymity | None,
    still_personal: list[Message],
    direct_identifiers: Sequence[str] | None,
) -> tuple[str, Message]:
    if still_personal:
        return "pseudonymised", still_personal[0]
    handled = {action.column for action in spec.actions if action.kind in ("drop", "generalise")}
    if direct_identifiers is None:
        from core.compliance.privacy import scan_frame

        remaining = [name for name in scan_frame(result).direct_identifiers if name not in handled]
    else:
        remaining = [
            name for name in direct_identifiers if name in result.columns and name not in handled
        ]
    if remaining:
        return "pseudonymised", Message(
            "anonymity.reason.identifiers_remain", {"columns": ", ".join(remaining)}
        )
    if k_after is None:
        return "pseudonymised", Message("anonymity.reason.no_quasi")
    if not k_after.satisfied:
        return "pseudonymised", Message(
            "anonymity.reason.k_not_met", {"k": k_after.k, "target": spec.k}
        )
    return "anonymised", Message(
        "anonymity.reason.anonymised",
        {"k": k_after.k, "columns": ", ".join(k_after.quasi_identifiers)},
    )


def _id_region_and_year(value: object) -> str | None:
    text = _canonical(value).upper()
    if len(text) != 18 or not text[:17].isdigit():
        return None
    year = int(text[6:10])
    if not 1900 <= year <= 2100:
        return None
    return f"{text[:2]}0000-{year}"


def _canonical(value: object) -> str:
    """A value as text, with whole floats written as integers (1.38e10 read from CSV with gaps)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _map_present(series: pd.Series, function: Callable[[object], object]) -> pd.Series:
    present = series.notna()
    out = pd.Series([None] * len(series), index=series.index, dtype=object, name=series.name)
    mapped = [function(value) for value in series[present].tolist()]
    out.loc[present] = mapped
    return out


def _require_columns(frame: pd.DataFrame, names: Sequence[str]) -> list[str]:
    columns = [str(name) for name in names]
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise UserError(
            "anonymity.error.unknown_columns",
            columns=", ".join(missing),
            available=", ".join(str(name) for name in frame.columns[:20]),
        )
    return columns


def _keyed(series: pd.Series) -> pd.Series:
    """Values as strings for grouping, with missing values as one value of their own."""
    present = series.notna()
    out = pd.Series(_MISSING, index=series.index, dtype=object)
    out.loc[present] = [_canonical(value) for value in series[present].tolist()]
    return out


def _group_keys(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One integer per record naming its quasi-identifier group."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64)
    keyed = pd.DataFrame({str(i): _keyed(frame[name]) for i, name in enumerate(columns)})
    return keyed.groupby(list(keyed.columns), sort=False).ngroup().to_numpy()


def _group_sizes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    keys = _group_keys(frame, columns)
    return np.bincount(keys) if len(keys) else np.array([], dtype=np.int64)
