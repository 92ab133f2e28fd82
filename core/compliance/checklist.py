"""The privacy and governance checklist: items as data (checklist.json), statuses from evidence.

Each item's status comes from two places: its automatic check, when it has one and the evidence
it needs exists (a scan, k-anonymity, a trained model ...), and the person's answer (yes, partly,
no, or not applicable, with a note). When both speak, the worse wins: a passing answer does not
hide a failing measurement. The exception is a finding only a person can settle (sensitive data
or children's data found: is there consent?): there the answer decides. An item whose conditions
don't hold (another jurisdiction, no automated decisions about people, no sensitive data, not
generative) is not applicable, and says why. An item with neither evidence nor an answer is
unanswered; when evidence is what's missing, it says what to do (load data, choose
quasi-identifiers, train a model first).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, Message, UserError, t

if TYPE_CHECKING:
    import pandas as pd

    from core.compliance.anonymity import KAnonymity, LDiversity
    from core.compliance.audit import Verification
    from core.compliance.fairness import FairnessReport, GroupShare
    from core.compliance.privacy import ScanResult
    from core.data.profile import Profile
    from core.prep.preprocessing import PreprocessSpec

CHECKLIST_PATH = Path(__file__).parent / "checklist.json"
STATUSES = ("pass", "warn", "fail", "not_applicable", "unanswered")
ANSWERS = ("yes", "partial", "no", "na")
JURISDICTIONS = ("CN", "EU", "US")
FLAGS = ("automated_decisions", "sensitive_data", "generative")
# Checks that find something only a person can settle (is there consent for the sensitive data
# found?): the person's answer decides; the finding stays as evidence.
CONFIRMED_BY_ANSWER = frozenset({"sensitive_data", "minors"})
K_WARN_SHARE = 0.05  # below target k, but at most this share of records: warn, not fail
EQUALIZED_ODDS_WARN = 0.1
UNIQUE_RECORDS_WARN = 0.5  # most records unique on their quasi-identifiers: memorisation risk
# A membership-inference attack AUC above this (and clearly above chance) tells training rows
# from held-out ones well enough to warn; an ε above this is a weak guarantee.
MEMBERSHIP_AUC_WARN = 0.6
EPSILON_WEAK = 10.0
QUALITY_ALERTS = (
    "many_missing",
    "duplicate_rows",
    "constant",
    "infinities",
    "mixed_types",
    "near_duplicate_columns",
)

_ANSWER_STATUS = {"yes": "pass", "partial": "warn", "no": "fail"}
_SEVERITY = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Reference:
    """One article or clause an item maps to."""

    framework: str
    ref: str

    def text(self) -> str:
        """'GDPR Art. 35'."""
        return f"{self.framework} {self.ref}".strip()


@dataclass(frozen=True)
class ChecklistItem:
    """One question of the checklist, with its texts in both languages and when it applies."""

    id: str
    section: str
    title: dict[str, str]
    question: dict[str, str]
    help: dict[str, str]
    references: tuple[Reference, ...]
    applies_when: dict
    check: str | None = None
    not_applicable: str | None = None  # catalog key of the item's own reason
    action: str | None = None  # what the page offers: deidentify, encrypt, backup, report ...

    def text(self, part: str, lang: str = DEFAULT_LANGUAGE) -> str:
        """The item's title, question or help in one language."""
        texts = getattr(self, part)
        return texts.get(lang) or texts[DEFAULT_LANGUAGE]

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        """The jurisdictions it is limited to (empty: it applies everywhere)."""
        return tuple(self.applies_when.get("jurisdictions", ()))


@dataclass(frozen=True)
class Section:
    """A group of items."""

    id: str
    title: dict[str, str]

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """The section title in one language."""
        return self.title.get(lang) or self.title[DEFAULT_LANGUAGE]


@dataclass(frozen=True)
class Checklist:
    """All sections and items, in order."""

    sections: tuple[Section, ...]
    items: tuple[ChecklistItem, ...]
    frameworks: dict

    def item(self, item_id: str) -> ChecklistItem:
        """The item with this id (KeyError if none)."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def section(self, section_id: str) -> Section:
        """The section with this id (KeyError if none)."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)


@dataclass(frozen=True)
class ChecklistAnswers:
    """What the person said: jurisdictions, facts about the use, answers and notes per item.

    Round-trips through JSON (part of the session backup).
    """

    jurisdictions: tuple[str, ...] = JURISDICTIONS
    automated_decisions: bool = False
    generative: bool = False
    sensitive_data: bool | None = None  # None: decided by the scan
    answers: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [j for j in self.jurisdictions if j not in JURISDICTIONS]
        if unknown:
            raise UserError("compliance.error.jurisdiction", value=", ".join(unknown))
        bad = [value for value in self.answers.values() if value not in ANSWERS]
        if bad:
            raise UserError("compliance.error.answer", value=str(bad[0]))

    def answer(self, item_id: str, value: str | None, note: str | None = None) -> ChecklistAnswers:
        """A copy with one item's answer (None clears it) and, if given, its note."""
        answers = dict(self.answers)
        if value is None:
            answers.pop(item_id, None)
        else:
            answers[item_id] = value
        notes = dict(self.notes)
        if note is not None:
            if note.strip():
                notes[item_id] = note
            else:
                notes.pop(item_id, None)
        return replace(self, answers=answers, notes=notes)

    def to_json(self) -> str:
        """These answers as JSON."""
        return json.dumps(
            {
                "jurisdictions": list(self.jurisdictions),
                "automated_decisions": self.automated_decisions,
                "generative": self.generative,
                "sensitive_data": self.sensitive_data,
                "answers": self.answers,
                "notes": self.notes,
            },
            ensure_ascii=False,
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ChecklistAnswers:
        """Answers from their JSON (UserError when it is not that)."""
        try:
            data = json.loads(text)
            return cls(
                jurisdictions=tuple(data.get("jurisdictions", JURISDICTIONS)),
                automated_decisions=bool(data.get("automated_decisions", False)),
                generative=bool(data.get("generative", False)),
                sensitive_data=data.get("sensitive_data"),
                answers={str(k): str(v) for k, v in dict(data.get("answers", {})).items()},
                notes={str(k): str(v) for k, v in dict(data.get("notes", {})).items()},
            )
        except UserError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise UserError("compliance.error.bad_answers", reason=str(exc)) from None


@dataclass(frozen=True)
class ModelFacts:
    """What the checklist needs to know about a trained model (plain values, no TensorFlow)."""

    task: str
    metric: str  # the headline metric's name, e.g. "balanced_accuracy" or "r2"
    value: float | None
    baselines: dict[str, float | None] = field(default_factory=dict)  # name -> same metric
    higher_is_better: bool = True
    parameters: int | None = None
    training_seconds: float | None = None
    size_bytes: int | None = None
    features: tuple[str, ...] = ()  # input columns the model uses
    importance: dict[str, float] | None = None  # permutation importance per input column
    # Shapley attributions computed for this run (core.evaluate.explain, Explanation.summary):
    # run, method, rows, mean |attribution| per column.
    explanation: dict[str, Any] | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)  # all test metrics
    # metrics.json's privacy block: DP-SGD's ε and δ, the membership-inference attack.
    privacy: dict[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class ChecklistContext:
    """Everything the evaluation may use; evidence left as None was not computed."""

    answers: ChecklistAnswers = field(default_factory=ChecklistAnswers)
    scan: ScanResult | None = None
    profile: Profile | None = None
    class_balance: Sequence[Message] | None = None
    target: str | None = None
    sensitive_column: str | None = None
    representation: Sequence[GroupShare] | None = None
    leakage: Sequence[Message] | None = None
    k_anonymity: KAnonymity | None = None
    l_diversity: LDiversity | None = None
    deidentification_label: str | None = None  # "pseudonymised" or "anonymised"
    deidentification_reason: Message | None = None
    model: ModelFacts | None = None
    fairness: FairnessReport | None = None
    audit: Verification | None = None
    encrypted_export: bool = False
    backup_saved: bool = False

    @property
    def sensitive_data(self) -> bool:
        """The person's word on sensitive data, else whether the scan found any."""
        if self.answers.sensitive_data is not None:
            return self.answers.sensitive_data
        return bool(self.scan and self.scan.sensitive_columns)


@dataclass(frozen=True)
class ItemResult:
    """One item's status, the evidence behind it, and the person's note."""

    id: str
    status: str
    evidence: tuple[Message, ...] = ()
    note: str = ""
    source: str = "none"  # check, answer, both, rule (not applicable by its conditions), none

    def to_dict(self, lang: str = DEFAULT_LANGUAGE) -> dict:
        """JSON-safe plain data, evidence in `lang`."""
        return {
            "id": self.id,
            "status": self.status,
            "evidence": [message.text(lang) for message in self.evidence],
            "note": self.note,
            "source": self.source,
        }


@dataclass(frozen=True)
class Progress:
    """How far the checklist is: counts per status and the share of applicable items done."""

    total: int
    counts: dict[str, int]

    @property
    def applicable(self) -> int:
        """Items that apply."""
        return self.total - self.counts.get("not_applicable", 0)

    @property
    def done(self) -> int:
        """Applicable items with a status other than unanswered."""
        return self.applicable - self.counts.get("unanswered", 0)

    @property
    def share(self) -> float:
        """Done out of applicable (1.0 when nothing applies)."""
        return self.done / self.applicable if self.applicable else 1.0

    @property
    def message(self) -> Message:
        """One summary line."""
        return Message(
            "compliance.progress",
            {
                "done": self.done,
                "applicable": self.applicable,
                "passed": self.counts.get("pass", 0),
                "warnings": self.counts.get("warn", 0),
                "failed": self.counts.get("fail", 0),
            },
        )

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "total": self.total,
            "applicable": self.applicable,
            "done": self.done,
            "counts": {status: self.counts.get(status, 0) for status in STATUSES},
        }


@cache
def load_checklist(path: Path = CHECKLIST_PATH) -> Checklist:
    """The checklist: structure from its JSON file, every text from the translation catalog.

    checklist.json holds ids, sections, references, when an item applies and its evidence check;
    the words live in core/locales/<lang>/checklist.json (`section.<id>`,
    `item.<id>.title|question|help`), so English and Chinese are checked like every other text.
    """
    data = json.loads(path.read_text(encoding="utf-8"))

    def texts(key: str) -> dict[str, str]:
        return {lang: t(key, lang) for lang in LANGUAGES}

    sections = tuple(
        Section(item["id"], texts(f"checklist.section.{item['id']}")) for item in data["sections"]
    )
    items = tuple(
        ChecklistItem(
            id=item["id"],
            section=item["section"],
            title=texts(f"checklist.item.{item['id']}.title"),
            question=texts(f"checklist.item.{item['id']}.question"),
            help=texts(f"checklist.item.{item['id']}.help"),
            references=tuple(Reference(ref["framework"], ref["ref"]) for ref in item["references"]),
            applies_when=dict(item.get("applies_when", {})),
            check=item.get("check"),
            not_applicable=item.get("not_applicable"),
            action=item.get("action"),
        )
        for item in data["items"]
    )
    unknown = [item.id for item in items if item.check is not None and item.check not in CHECKS]
    if unknown:  # a developer's slip: an item names a check that no @evidence_check registers
        raise ValueError(f"checklist items name unknown evidence checks: {unknown}")
    return Checklist(sections=sections, items=items, frameworks=dict(data.get("frameworks", {})))


def evaluate_checklist(
    context: ChecklistContext, checklist: Checklist | None = None
) -> list[ItemResult]:
    """One ItemResult per item, in checklist order."""
    checklist = checklist or load_checklist()
    return [_evaluate(item, context) for item in checklist.items]


def progress(results: Iterable[ItemResult]) -> Progress:
    """Counts per status and the share of applicable items done."""
    results = list(results)
    return Progress(total=len(results), counts=dict(Counter(result.status for result in results)))


def filter_results(
    results: Iterable[ItemResult],
    *,
    jurisdiction: str | None = None,
    statuses: Sequence[str] | None = None,
    section: str | None = None,
    checklist: Checklist | None = None,
) -> list[ItemResult]:
    """The results in `statuses` and `section` that concern `jurisdiction`: items limited to it,
    or open to all and citing one of its frameworks (GDPR for EU, PIPL for CN, NIST for US ...).
    None means no filter on that."""
    checklist = checklist or load_checklist()
    kept = []
    for result in results:
        item = checklist.item(result.id)
        if jurisdiction and item.jurisdictions and jurisdiction not in item.jurisdictions:
            continue
        if jurisdiction and not item.jurisdictions and not _mentions(checklist, item, jurisdiction):
            continue
        if statuses is not None and result.status not in statuses:
            continue
        if section is not None and item.section != section:
            continue
        kept.append(result)
    return kept


def data_evidence(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    sensitive: str | None = None,
    quasi_identifiers: Sequence[str] = (),
    k: int = 5,
    l: int = 2,  # noqa: E741
    spec: PreprocessSpec | None = None,
    scan: ScanResult | None = None,
    profile: Profile | None = None,
) -> dict:
    """The data evidence for a ChecklistContext, computed from a table (pass as **kwargs)."""
    from core.compliance.anonymity import k_anonymity, l_diversity
    from core.compliance.fairness import class_balance, representation
    from core.compliance.privacy import scan_frame
    from core.data.profile import profile_frame

    evidence: dict = {
        "scan": scan if scan is not None else scan_frame(frame),
        "profile": profile if profile is not None else profile_frame(frame),
        "target": target,
        "sensitive_column": sensitive,
    }
    if target is not None:
        _require(frame, [target])
        evidence["class_balance"] = class_balance(frame[target], target)
        evidence["leakage"] = leakage_evidence(frame, target, spec, evidence["profile"])
    if sensitive is not None:
        _require(frame, [sensitive])
        evidence["representation"] = representation(frame[sensitive])
    if quasi_identifiers:
        evidence["k_anonymity"] = k_anonymity(frame, quasi_identifiers, k)
        if sensitive is not None and sensitive not in quasi_identifiers:
            evidence["l_diversity"] = l_diversity(frame, quasi_identifiers, sensitive, l)
    return evidence


def leakage_evidence(
    frame: pd.DataFrame,
    target: str,
    spec: PreprocessSpec | None = None,
    profile: Profile | None = None,
) -> list[Message]:
    """Columns that alone predict the target almost perfectly (the preprocessing leakage test).

    With the default plan, leaky columns are dropped already; those are reported too. The
    default plan is built from the table's `profile` when given (profiled once, not again here).
    """
    from core.prep.preprocessing import default_spec, plan_warnings

    spec = spec if spec is not None else default_spec(frame, target, profile=profile)
    found = [
        Message("compliance.evidence.leak_dropped", {"column": plan.name, **plan.reason.params})
        for plan in spec.columns
        if plan.action != "keep" and plan.reason.key == "preprocess.reason.leakage"
    ]
    found += [m for m in plan_warnings(frame, spec) if m.key == "preprocess.warning.leakage"]
    return found


# --- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    status: str | None  # None: no evidence to decide on
    evidence: tuple[Message, ...]


def _evaluate(item: ChecklistItem, context: ChecklistContext) -> ItemResult:
    note = context.answers.notes.get(item.id, "")
    reasons = _not_applicable(item, context)
    if reasons:
        return ItemResult(item.id, "not_applicable", tuple(reasons), note, "rule")
    answer = context.answers.answers.get(item.id)
    if answer == "na":
        return ItemResult(
            item.id,
            "not_applicable",
            (Message("compliance.evidence.user_na"),),
            note,
            "answer",
        )
    outcome = CHECKS[item.check](context) if item.check else _Outcome(None, ())
    answer_status = _ANSWER_STATUS.get(answer) if answer else None
    if answer_status and item.check in CONFIRMED_BY_ANSWER:
        return ItemResult(item.id, answer_status, outcome.evidence, note, "answer")
    statuses = [status for status in (outcome.status, answer_status) if status]
    if not statuses:
        return ItemResult(item.id, "unanswered", outcome.evidence, note, "none")
    status = max(statuses, key=_SEVERITY.__getitem__)
    source = "check" if outcome.status else "answer"
    if outcome.status and answer_status:
        source = "both"
    return ItemResult(item.id, status, outcome.evidence, note, source)


def _not_applicable(item: ChecklistItem, context: ChecklistContext) -> list[Message]:
    conditions = item.applies_when
    answers = context.answers
    flags = {
        "automated_decisions": answers.automated_decisions,
        "generative": answers.generative,
        "sensitive_data": context.sensitive_data,
    }
    reasons: list[Message] = []
    limited = conditions.get("jurisdictions")
    if limited and not set(limited) & set(answers.jurisdictions):
        reasons.append(Message("compliance.na.jurisdiction", {"jurisdictions": ", ".join(limited)}))
    for flag in FLAGS:
        if flag in conditions and bool(conditions[flag]) != flags[flag]:
            reasons.append(Message(f"compliance.na.{flag}"))
    any_of = conditions.get("any")
    if any_of and not any(flags[flag] for flag in any_of):
        reasons.append(Message("compliance.na.any_flag"))
    if reasons and item.not_applicable:
        reasons.insert(0, Message(item.not_applicable))
    return reasons


def _mentions(checklist: Checklist, item: ChecklistItem, jurisdiction: str) -> bool:
    """Whether an item open to every jurisdiction cites a framework of `jurisdiction`."""
    for reference in item.references:
        info = checklist.frameworks.get(reference.framework, {})
        if info.get("jurisdiction") == jurisdiction:
            return True
    return False


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)


def _no_data() -> _Outcome:
    return _Outcome(None, (Message("compliance.evidence.load_data"),))


def _train_first() -> _Outcome:
    return _Outcome(None, (Message("compliance.evidence.train_first"),))


# The evidence checks, by the name an item of checklist.json gives as its "check": each reads the
# ChecklistContext and returns an outcome. Each registers itself where it is written
# (@evidence_check), so a new check is one function here and its name in checklist.json.
CHECKS: dict[str, Callable[[ChecklistContext], _Outcome]] = {}


def evidence_check(
    name: str,
) -> Callable[[Callable[[ChecklistContext], _Outcome]], Callable[[ChecklistContext], _Outcome]]:
    """Register a function as the evidence check `name`."""

    def register(function: Callable[[ChecklistContext], _Outcome]) -> Callable:
        if name in CHECKS:
            raise ValueError(f"evidence check {name!r} registered twice")
        CHECKS[name] = function
        return function

    return register


@evidence_check("sensitive_data")
def _check_sensitive_data(context: ChecklistContext) -> _Outcome:
    from core.compliance.privacy import in_column_key

    if context.scan is None:
        return _no_data()
    columns = context.scan.sensitive_columns
    if not columns:
        return _Outcome("pass", (Message("compliance.evidence.no_sensitive"),))
    findings = [
        Message(in_column_key(finding.category), {"column": column.name})
        for column in context.scan.columns
        for finding in column.sensitive
        if finding.special
    ]
    # Found by the scan: only a person can confirm the consent, so it is a warning until answered.
    return _Outcome("warn", tuple(findings))


@evidence_check("minors")
def _check_minors(context: ChecklistContext) -> _Outcome:
    if context.scan is None:
        return _no_data()
    columns = [
        column.name
        for column in context.scan.columns
        if any(finding.category == "minors" for finding in column.sensitive)
    ]
    if columns:
        return _Outcome(
            "warn", (Message("compliance.evidence.minors", {"columns": _names(columns)}),)
        )
    return _Outcome("pass", (Message("compliance.evidence.no_minors"),))


@evidence_check("identifier_features")
def _check_identifier_features(context: ChecklistContext) -> _Outcome:
    if context.scan is None:
        return _no_data()
    identifiers = list(context.scan.direct_identifiers)
    if context.model is not None and context.model.features:
        used = [name for name in identifiers if name in context.model.features]
        if used:
            return _Outcome(
                "fail",
                (Message("compliance.evidence.identifier_features", {"columns": _names(used)}),),
            )
        return _Outcome("pass", (Message("compliance.evidence.no_identifier_features"),))
    if identifiers:
        return _Outcome(
            "warn", (Message("compliance.evidence.identifiers", {"columns": _names(identifiers)}),)
        )
    return _Outcome("pass", (Message("compliance.evidence.no_identifiers"),))


@evidence_check("pii_scan")
def _check_pii_scan(context: ChecklistContext) -> _Outcome:
    if context.scan is None:
        return _no_data()
    evidence = list(context.scan.notes)
    for column in context.scan.columns:
        for entity in column.entities:
            evidence.append(
                Message(
                    "compliance.evidence.entity",
                    {
                        "column": column.name,
                        "type": entity.type,
                        "match": entity.match_rate,
                        "valid": entity.valid_rate,
                    },
                )
            )
    if not context.scan.direct_identifiers:
        special = context.scan.sensitive_columns
        if special:
            # No name or number singles a person out, but special-category data is personal
            # data all the same: the item stays open until a person has looked.
            found = Message("special.evidence.special_data", {"columns": _names(special)})
            return _Outcome("warn", (found, *evidence))
        return _Outcome("pass", (Message("compliance.evidence.no_identifiers"), *evidence))
    if context.deidentification_label:
        return _Outcome("pass", (Message("compliance.evidence.scan_then_deidentified"), *evidence))
    return _Outcome("warn", tuple(evidence))


@evidence_check("deidentification")
def _check_deidentification(context: ChecklistContext) -> _Outcome:
    label, reason = context.deidentification_label, context.deidentification_reason
    if label is not None:
        evidence = [Message(f"compliance.evidence.label_{label}")]
        if reason is not None:
            evidence.append(reason)
        return _Outcome("pass" if label == "anonymised" else "warn", tuple(evidence))
    if context.scan is None:
        return _no_data()
    identifiers = context.scan.direct_identifiers
    if not identifiers:
        return _Outcome("pass", (Message("compliance.evidence.no_identifiers"),))
    if context.model is not None and context.model.features:
        if not set(identifiers) & set(context.model.features):
            return _Outcome("pass", (Message("compliance.evidence.no_identifier_features"),))
        return _Outcome(
            "fail",
            (Message("compliance.evidence.identifier_features", {"columns": _names(identifiers)}),),
        )
    return _Outcome(
        "warn", (Message("compliance.evidence.identifiers", {"columns": _names(identifiers)}),)
    )


@evidence_check("k_anonymity")
def _check_k_anonymity(context: ChecklistContext) -> _Outcome:
    result = context.k_anonymity
    if result is None:
        return _Outcome(None, (Message("compliance.evidence.choose_quasi"),))
    if result.satisfied:
        status = "pass"
    elif result.share_below_k <= K_WARN_SHARE:
        status = "warn"
    else:
        status = "fail"
    return _Outcome(status, (result.message,))


@evidence_check("l_diversity")
def _check_l_diversity(context: ChecklistContext) -> _Outcome:
    result = context.l_diversity
    if result is None:
        return _Outcome(None, (Message("compliance.evidence.choose_quasi_sensitive"),))
    if result.satisfied:
        status = "pass"
    elif result.share_below_l <= K_WARN_SHARE:
        status = "warn"
    else:
        status = "fail"
    return _Outcome(status, (result.message,))


@evidence_check("encryption")
def _check_encryption(context: ChecklistContext) -> _Outcome:
    if context.encrypted_export:
        return _Outcome("pass", (Message("compliance.evidence.encrypted"),))
    return _Outcome(None, (Message("compliance.evidence.not_encrypted"),))


@evidence_check("backup")
def _check_backup(context: ChecklistContext) -> _Outcome:
    if context.backup_saved:
        return _Outcome("pass", (Message("compliance.evidence.backup_saved"),))
    return _Outcome(None, (Message("compliance.evidence.no_backup"),))


@evidence_check("audit_log")
def _check_audit_log(context: ChecklistContext) -> _Outcome:
    if context.audit is None or context.audit.events == 0:
        return _Outcome(None, (Message("compliance.evidence.no_audit"),))
    return _Outcome("pass" if context.audit.ok else "fail", (context.audit.message,))


@evidence_check("data_quality")
def _check_data_quality(context: ChecklistContext) -> _Outcome:
    if context.profile is None:
        return _no_data()
    alerts = [alert for alert in context.profile.alerts if alert.kind in QUALITY_ALERTS]
    if not alerts:
        return _Outcome("pass", (Message("compliance.evidence.no_quality_alerts"),))
    return _Outcome("warn", tuple(alert.message for alert in alerts))


@evidence_check("class_imbalance")
def _check_class_imbalance(context: ChecklistContext) -> _Outcome:
    if context.class_balance is None:
        return _Outcome(None, (Message("compliance.evidence.choose_target"),))
    if context.class_balance:
        return _Outcome("warn", tuple(context.class_balance))
    return _Outcome(
        "pass", (Message("compliance.evidence.balanced", {"column": context.target or ""}),)
    )


@evidence_check("representation")
def _check_representation(context: ChecklistContext) -> _Outcome:
    from core.compliance.fairness import MISSING_GROUP, UNDER_REPRESENTED_SHARE

    if context.representation is None:
        return _Outcome(None, (Message("compliance.evidence.choose_sensitive"),))
    column = context.sensitive_column or ""
    shares = [share for share in context.representation if share.group != MISSING_GROUP]
    evidence = [
        Message(
            "compliance.evidence.group_share",
            {"column": column, "group": share.group, "count": share.count, "share": share.share},
        )
        for share in shares[:20]
    ]
    small = [share for share in shares if share.share < UNDER_REPRESENTED_SHARE]
    if small:
        evidence.insert(
            0,
            Message(
                "compliance.evidence.under_represented",
                {"column": column, "groups": _names(share.group for share in small)},
            ),
        )
        return _Outcome("warn", tuple(evidence))
    return _Outcome("pass", tuple(evidence))


@evidence_check("leakage")
def _check_leakage(context: ChecklistContext) -> _Outcome:
    if context.leakage is None:
        return _Outcome(None, (Message("compliance.evidence.choose_target"),))
    if context.leakage:
        return _Outcome("warn", tuple(context.leakage))
    return _Outcome("pass", (Message("compliance.evidence.no_leakage"),))


@evidence_check("model_performance")
def _check_model_performance(context: ChecklistContext) -> _Outcome:
    model = context.model
    if model is None:
        return _train_first()
    if model.value is None:
        return _Outcome(
            "warn", (Message("compliance.evidence.no_metric", {"metric": model.metric}),)
        )
    baselines = {name: value for name, value in model.baselines.items() if value is not None}
    if not baselines:
        return _Outcome(
            "pass",
            (
                Message(
                    "compliance.evidence.metric", {"metric": model.metric, "value": model.value}
                ),
            ),
        )
    pick = max if model.higher_is_better else min
    best_name = pick(baselines, key=baselines.__getitem__)
    best = baselines[best_name]
    better = model.value > best if model.higher_is_better else model.value < best
    params = {"metric": model.metric, "value": model.value, "baseline": best, "name": best_name}
    if better:
        return _Outcome("pass", (Message("compliance.evidence.beats_baseline", params),))
    return _Outcome("warn", (Message("compliance.evidence.below_baseline", params),))


@evidence_check("fairness")
def _check_fairness(context: ChecklistContext) -> _Outcome:
    if context.model is None and context.fairness is None:
        return _train_first()
    report = context.fairness
    if report is None:
        return _Outcome(None, (Message("compliance.evidence.choose_sensitive"),))
    evidence: list[Message] = []
    if report.demographic_parity_ratio is not None:
        evidence.append(
            Message(
                "compliance.evidence.parity",
                {
                    "column": report.sensitive,
                    "difference": report.demographic_parity_difference,
                    "ratio": report.demographic_parity_ratio,
                },
            )
        )
    if report.equalized_odds_difference is not None:
        evidence.append(
            Message(
                "compliance.evidence.equalized_odds",
                {"column": report.sensitive, "difference": report.equalized_odds_difference},
            )
        )
    evidence.extend(report.findings)
    if report.demographic_parity_ratio is None:
        return _Outcome(None, tuple(evidence))
    eod = report.equalized_odds_difference
    if report.four_fifths_ok is False or (eod is not None and eod > EQUALIZED_ODDS_WARN):
        return _Outcome("warn", tuple(evidence))
    return _Outcome("pass", tuple(evidence))


@evidence_check("model_privacy")
def _check_model_privacy(context: ChecklistContext) -> _Outcome:
    if context.model is None:
        return _train_first()
    evidence: list[Message] = []
    status = "pass"
    if context.scan is not None:
        used = [n for n in context.scan.direct_identifiers if n in context.model.features]
        if used:
            evidence.append(
                Message("compliance.evidence.identifier_features", {"columns": _names(used)})
            )
            status = "fail"
    k_result = context.k_anonymity
    if k_result is not None and k_result.unique_share > UNIQUE_RECORDS_WARN:
        evidence.append(k_result.message)
        status = "fail" if status == "fail" else "warn"
    if not evidence:
        evidence.append(Message("compliance.evidence.model_privacy_ok"))
    status = _membership_evidence(context.model.privacy, evidence, status)
    return _Outcome(status, tuple(evidence))


def _membership_evidence(
    privacy: dict[str, Any] | None, evidence: list[Message], status: str
) -> str:
    # The ε a DP-SGD run spent, and the loss-threshold attack on the run (core.evaluate.membership).
    if not privacy:
        return status
    if privacy.get("dp"):
        epsilon = privacy.get("epsilon")
        params = {
            "epsilon": "∞" if epsilon is None else f"{epsilon:.3g}",
            "delta": f"{privacy.get('delta') or 0:.0e}",
        }
        weak = epsilon is None or epsilon > EPSILON_WEAK
        evidence.append(Message(f"dp.evidence.{'dp_weak' if weak else 'dp_on'}", params))
    else:
        evidence.append(Message("dp.evidence.dp_off"))
    attack = privacy.get("membership_inference")
    if not attack:
        return status
    params = {
        "auc": f"{attack['auc']:.3f}",
        "se": f"{attack['auc_se']:.3f}",
        "tpr": f"{attack['tpr_at_1pct_fpr']:.3f}",
    }
    se = attack.get("auc_se") or 0.0
    if attack["auc"] > MEMBERSHIP_AUC_WARN and attack["auc"] - 2 * se > 0.5:
        evidence.append(Message("dp.evidence.attack_warn", params))
        return "fail" if status == "fail" else "warn"
    evidence.append(Message("dp.evidence.attack_ok", params))
    return status


@evidence_check("explainability")
def _check_explainability(context: ChecklistContext) -> _Outcome:
    from core.evaluate.explain import method_message

    model = context.model
    if model is None:
        return _train_first()
    evidence: list[Message] = []
    explanation = model.explanation
    if explanation and explanation.get("importance"):
        top = list(explanation["importance"].items())[:5]
        features = ", ".join(f"{name} ({value:.3g})" for name, value in top)
        params = {"run": explanation.get("run", ""), "rows": explanation.get("rows", 0)}
        evidence.append(Message("explain.evidence.computed", {**params, "features": features}))
        evidence.append(method_message(explanation))
    if model.importance:
        top = sorted(model.importance.items(), key=lambda item: -item[1])[:5]
        features = ", ".join(f"{name} ({value:.3f})" for name, value in top)
        evidence.append(Message("compliance.evidence.importance", {"features": features}))
    if not evidence:
        return _Outcome(None, (Message("explain.evidence.not_computed"),))
    return _Outcome("pass", tuple(evidence))


@evidence_check("compute_cost")
def _check_compute_cost(context: ChecklistContext) -> _Outcome:
    model = context.model
    if model is None:
        return _train_first()
    if model.parameters is None and model.training_seconds is None:
        return _Outcome(None, (Message("compliance.evidence.no_compute"),))
    return _Outcome(
        "pass",
        (
            Message(
                "compliance.evidence.compute",
                {
                    "parameters": model.parameters if model.parameters is not None else 0,
                    "seconds": model.training_seconds or 0.0,
                    "size": (model.size_bytes or 0) / 1024,
                },
            ),
        ),
    )


def _require(frame: pd.DataFrame, names: Sequence[str]) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise UserError("compliance.error.unknown_column", column=", ".join(missing))
