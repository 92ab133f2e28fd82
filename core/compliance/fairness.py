"""Group fairness from a model's predictions, and how groups are represented in the data.

Definitions follow fairlearn's (not installed here):
- selection rate: share of a group predicted positive;
- demographic parity difference / ratio: largest minus smallest selection rate / smallest
  divided by largest;
- equalised odds difference: the larger of the TPR gap and the FPR gap between groups.
The four-fifths rule (US EEOC Uniform Guidelines, 29 CFR 1607.4(D)) flags a ratio below 0.8.
Groups smaller than MIN_GROUP_SIZE are reported but left out of the gaps: a handful of records
makes any rate look extreme.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix

from core.i18n import Message, UserError

FOUR_FIFTHS = 0.8
MIN_GROUP_SIZE = 10
UNDER_REPRESENTED_SHARE = 0.05
IMBALANCE_SHARE = 0.10  # the rarest class below this share of records is an imbalance
MISSING_GROUP = "(missing)"


@dataclass(frozen=True)
class GroupMetrics:
    """Metrics of one group (or of everyone); None where a rate has no denominator."""

    group: str
    count: int
    accuracy: float | None
    selection_rate: float | None
    tpr: float | None
    fpr: float | None

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "group": self.group,
            "count": self.count,
            "accuracy": _round(self.accuracy),
            "selection_rate": _round(self.selection_rate),
            "tpr": _round(self.tpr),
            "fpr": _round(self.fpr),
        }


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics and the gaps between groups for one sensitive attribute."""

    sensitive: str
    positive_label: str
    overall: GroupMetrics
    groups: tuple[GroupMetrics, ...]
    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    compared_groups: tuple[str, ...]  # groups large enough to enter the gaps
    findings: tuple[Message, ...] = field(default_factory=tuple)
    # The outcome a person wants (approve, not deny): the four-fifths rule compares its rates.
    # None: the positive label, read as favourable.
    favourable_label: str | None = None
    favourable_ratio: float | None = None

    @property
    def four_fifths_ok(self) -> bool | None:
        """Whether the lowest group's rate of the favourable outcome is at least 0.8 of the
        highest's (the demographic parity ratio when the positive label is the favourable one;
        None if it can't be computed)."""
        ratio = self.demographic_parity_ratio
        if self.favourable_label is not None:
            ratio = self.favourable_ratio
        return None if ratio is None else ratio >= FOUR_FIFTHS

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "sensitive": self.sensitive,
            "positive_label": self.positive_label,
            "overall": self.overall.to_dict(),
            "groups": [group.to_dict() for group in self.groups],
            "demographic_parity_difference": _round(self.demographic_parity_difference),
            "demographic_parity_ratio": _round(self.demographic_parity_ratio),
            "equalized_odds_difference": _round(self.equalized_odds_difference),
            "four_fifths_ok": self.four_fifths_ok,
            "favourable_label": self.favourable_label,
            "favourable_ratio": _round(self.favourable_ratio),
            "compared_groups": list(self.compared_groups),
        }


@dataclass(frozen=True)
class GroupShare:
    """How many records one group of a column has."""

    group: str
    count: int
    share: float

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {"group": self.group, "count": self.count, "share": round(self.share, 4)}


def fairness_report(
    y_true: Sequence | np.ndarray,
    y_pred: Sequence | np.ndarray,
    group: Sequence | np.ndarray,
    *,
    positive_label: object = None,
    sensitive: str = "",
    min_group_size: int = MIN_GROUP_SIZE,
    favourable_label: object = None,
) -> FairnessReport:
    """Per-group accuracy, selection rate, TPR and FPR, and the parity gaps between groups.

    Labels are compared as text; `positive_label` defaults to 1 / True / "yes" when present, else
    the rarer class of y_true. A multi-class target is read one-vs-rest for `positive_label`.
    With `favourable_label` (the outcome a person wants; see `guess_favourable`) the four-fifths
    rule compares each group's rate of that outcome, so it reads right when the positive class
    is the adverse one (deny = yes).
    """
    truth, predicted, groups = _as_text(y_true), _as_text(y_pred), _as_groups(group)
    if not (len(truth) == len(predicted) == len(groups)):
        raise UserError(
            "fairness.error.lengths", true=len(truth), pred=len(predicted), group=len(groups)
        )
    if len(truth) == 0:
        raise UserError("fairness.error.empty")
    positive = _positive_label(truth, positive_label)
    favourable = None if favourable_label is None else _text(favourable_label)
    favourable_ratio: float | None = None
    actual, chosen = truth == positive, predicted == positive
    overall = _metrics("", truth, predicted, actual, chosen)
    names = sorted(set(groups.tolist()), key=lambda name: (name == MISSING_GROUP, name))
    per_group = []
    for name in names:
        mask = groups == name
        per_group.append(_metrics(name, truth[mask], predicted[mask], actual[mask], chosen[mask]))
    compared = [metrics for metrics in per_group if metrics.count >= min_group_size]
    dp_difference = dp_ratio = eo_difference = None
    findings: list[Message] = []
    if len(compared) >= 2:
        rates = [_selection(metrics) for metrics in compared]
        dp_difference = max(rates) - min(rates)
        dp_ratio = min(rates) / max(rates) if max(rates) > 0 else 1.0
        gaps = [
            max(values) - min(values)
            for values in (
                [m.tpr for m in compared if m.tpr is not None],
                [m.fpr for m in compared if m.fpr is not None],
            )
            if len(values) >= 2
        ]
        eo_difference = max(gaps) if gaps else None
        if favourable is not None:
            shares = {
                m.group: float(np.mean(predicted[groups == m.group] == favourable))
                for m in compared
            }
            top = max(shares.values())
            favourable_ratio = min(shares.values()) / top if top > 0 else 1.0
            if favourable_ratio < FOUR_FIFTHS:
                low_group = min(shares, key=shares.__getitem__)
                high_group = max(shares, key=shares.__getitem__)
                findings.append(
                    Message(
                        "special.fairness.four_fifths",
                        {
                            "ratio": favourable_ratio,
                            "low": low_group,
                            "high": high_group,
                            "outcome": favourable,
                        },
                    )
                )
        elif dp_ratio < FOUR_FIFTHS:
            low = min(compared, key=_selection)
            high = max(compared, key=_selection)
            findings.append(
                Message(
                    "fairness.finding.four_fifths",
                    {"ratio": dp_ratio, "low": low.group, "high": high.group},
                )
            )
    else:
        findings.append(Message("fairness.finding.too_few_groups", {"min": min_group_size}))
    small = [metrics.group for metrics in per_group if metrics.count < min_group_size]
    if small:
        findings.append(
            Message(
                "fairness.finding.small_groups",
                {"groups": ", ".join(small), "min": min_group_size},
            )
        )
    return FairnessReport(
        sensitive=sensitive,
        positive_label=positive,
        overall=overall,
        groups=tuple(per_group),
        demographic_parity_difference=dp_difference,
        demographic_parity_ratio=dp_ratio,
        equalized_odds_difference=eo_difference,
        compared_groups=tuple(metrics.group for metrics in compared),
        findings=tuple(findings),
        favourable_label=favourable,
        favourable_ratio=favourable_ratio,
    )


# Class names and target names that mean the outcome a person does not want.
_ADVERSE = frozenset(
    {
        "deny",
        "denied",
        "reject",
        "rejected",
        "decline",
        "declined",
        "default",
        "defaulted",
        "fraud",
        "churn",
        "churned",
        "bad",
        "fail",
        "failed",
        "arrest",
        "arrested",
        "recid",
        "recidivism",
        "sick",
        "dead",
        "died",
    }
)
_ADVERSE_ZH = ("拒绝", "拒", "违约", "欺诈", "流失", "失败", "逾期", "不良")
_YES = frozenset({"1", "true", "yes", "y", "是"})


def guess_favourable(target: str, labels: Sequence[object]) -> tuple[str | None, bool]:
    """The class a person wants, guessed from the class and target names, and whether it was
    a real guess (False: nothing said which way, the positive label is assumed favourable).

    A class named like an adverse outcome (deny, default, fraud, 拒绝, 违约 ...) is not the
    favourable one; a yes/1 class of a target named like one (deny = yes) is adverse too.
    """
    texts = [_text(label) for label in labels]
    if not texts:
        return None, False

    def adverse(text: str) -> bool:
        words = set(re.findall(r"[a-z]+", text.lower()))
        return bool(words & _ADVERSE) or any(word in text for word in _ADVERSE_ZH)

    target_adverse = adverse(target)
    bad = [label for label in texts if adverse(label)]
    if not bad and target_adverse:
        bad = [label for label in texts if label.lower() in _YES]
    good = [label for label in texts if label not in bad]
    if bad and len(good) == 1:
        return good[0], True
    return None, False


def representation(values: pd.Series | Sequence) -> list[GroupShare]:
    """Each group's count and share of records, largest first (missing values as a group)."""
    groups = _as_groups(values)
    if len(groups) == 0:
        return []
    names, counts = np.unique(groups, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    total = int(counts.sum())
    return [GroupShare(str(names[i]), int(counts[i]), int(counts[i]) / total) for i in order]


def representation_findings(
    values: pd.Series | Sequence, column: str, *, min_share: float = UNDER_REPRESENTED_SHARE
) -> list[Message]:
    """Groups of a sensitive column with less than `min_share` of the records."""
    return [
        Message(
            "fairness.finding.under_represented",
            {"column": column, "group": share.group, "share": share.share},
        )
        for share in representation(values)
        if share.share < min_share and share.group != MISSING_GROUP
    ]


def class_balance(target: pd.Series | Sequence, column: str = "") -> list[Message]:
    """An imbalance finding when the rarest class has less than IMBALANCE_SHARE of the records."""
    shares = [share for share in representation(target) if share.group != MISSING_GROUP]
    if len(shares) < 2:
        return []
    rarest = shares[-1]
    if rarest.share >= IMBALANCE_SHARE:
        return []
    return [
        Message(
            "fairness.finding.imbalance",
            {"column": column, "label": rarest.group, "share": rarest.share},
        )
    ]


# --- helpers --------------------------------------------------------------------------------


def _metrics(
    name: str, truth: np.ndarray, predicted: np.ndarray, actual: np.ndarray, chosen: np.ndarray
) -> GroupMetrics:
    count = len(truth)
    if count == 0:
        return GroupMetrics(name, 0, None, None, None, None)
    tn, fp, fn, tp = confusion_matrix(actual, chosen, labels=[False, True]).ravel()
    return GroupMetrics(
        group=name,
        count=count,
        accuracy=float(accuracy_score(truth, predicted)),
        selection_rate=float(chosen.mean()),
        tpr=float(tp / (tp + fn)) if tp + fn else None,
        fpr=float(fp / (fp + tn)) if fp + tn else None,
    )


def _positive_label(truth: np.ndarray, requested: object) -> str:
    labels = sorted(set(truth.tolist()))
    if requested is not None:
        text = _text(requested)
        if text not in labels:
            raise UserError(
                "fairness.error.unknown_positive", label=text, labels=", ".join(labels[:10])
            )
        return text
    for candidate in ("1", "True", "true", "yes", "Yes", "是"):
        if candidate in labels:
            return candidate
    values, counts = np.unique(truth, return_counts=True)
    return str(values[int(np.argmin(counts))])


def _text(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def _as_text(values: Sequence | np.ndarray) -> np.ndarray:
    return np.array([_text(value) for value in list(values)], dtype=object)


def _as_groups(values: Sequence | np.ndarray | pd.Series) -> np.ndarray:
    return np.array(
        [MISSING_GROUP if _is_missing(value) else _text(value) for value in list(values)],
        dtype=object,
    )


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _selection(metrics: GroupMetrics) -> float:
    """A compared group's selection rate (defined: compared groups have at least one row)."""
    assert metrics.selection_rate is not None, metrics.group
    return metrics.selection_rate
