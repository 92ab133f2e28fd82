"""Group fairness metrics on a hand-checked example; representation and class balance."""

import numpy as np
import pytest

from core.compliance.fairness import (
    MISSING_GROUP,
    class_balance,
    fairness_report,
    representation,
    representation_findings,
)
from core.i18n import UserError

# Group A: TP 3, FN 1, FP 1, TN 5.  Group B: TP 1, FN 1, FP 0, TN 8.
A_TRUE, A_PRED = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]
B_TRUE, B_PRED = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
Y_TRUE, Y_PRED = [*A_TRUE, *B_TRUE], [*A_PRED, *B_PRED]
GROUP = ["A"] * 10 + ["B"] * 10


def test_per_group_metrics_by_hand():
    report = fairness_report(Y_TRUE, Y_PRED, GROUP, sensitive="gender")
    a, b = report.groups
    assert (a.group, a.count) == ("A", 10)
    assert a.accuracy == pytest.approx(0.8)
    assert a.selection_rate == pytest.approx(0.4)
    assert a.tpr == pytest.approx(3 / 4)
    assert a.fpr == pytest.approx(1 / 6)
    assert b.accuracy == pytest.approx(0.9)
    assert b.selection_rate == pytest.approx(0.1)
    assert b.tpr == pytest.approx(1 / 2)
    assert b.fpr == pytest.approx(0.0)
    assert report.overall.selection_rate == pytest.approx(0.25)
    assert report.overall.accuracy == pytest.approx(0.85)


def test_gaps_and_the_four_fifths_rule_by_hand():
    report = fairness_report(Y_TRUE, Y_PRED, GROUP, sensitive="gender")
    assert report.positive_label == "1"
    assert report.demographic_parity_difference == pytest.approx(0.3)
    assert report.demographic_parity_ratio == pytest.approx(0.25)
    assert report.equalized_odds_difference == pytest.approx(0.25)  # TPR gap .25 > FPR gap 1/6
    assert report.four_fifths_ok is False
    assert report.findings[0].key == "fairness.finding.four_fifths"
    assert report.findings[0].params["low"] == "B"
    assert report.to_dict()["four_fifths_ok"] is False


def test_equal_treatment_passes():
    report = fairness_report([1, 0] * 20, [1, 0] * 20, ["x", "x", "y", "y"] * 10)
    assert report.demographic_parity_difference == 0
    assert report.demographic_parity_ratio == 1
    assert report.equalized_odds_difference == 0
    assert report.four_fifths_ok is True
    assert report.findings == ()


def test_string_labels_and_a_chosen_positive_label():
    truth = np.array(["approve", "deny"] * 10)
    pred = np.array(["approve"] * 20)
    report = fairness_report(truth, pred, ["a"] * 10 + ["b"] * 10, positive_label="approve")
    assert report.overall.selection_rate == 1.0
    assert report.overall.fpr == 1.0
    with pytest.raises(UserError):
        fairness_report(truth, pred, ["a"] * 20, positive_label="maybe")


def test_small_groups_are_listed_but_left_out_of_the_gaps():
    report = fairness_report([*Y_TRUE, 1, 1], [*Y_PRED, 0, 0], [*GROUP, "C", "C"])
    assert report.compared_groups == ("A", "B")
    assert report.demographic_parity_difference == pytest.approx(0.3)
    assert any(m.key == "fairness.finding.small_groups" for m in report.findings)


def test_mismatched_lengths_are_a_user_error():
    with pytest.raises(UserError):
        fairness_report([1, 0], [1], ["a", "b"])


def test_representation_and_under_represented_groups():
    values = ["M"] * 60 + ["F"] * 37 + ["X"] * 2 + [None]
    shares = representation(values)
    assert [(s.group, s.count) for s in shares] == [
        ("M", 60),
        ("F", 37),
        ("X", 2),
        (MISSING_GROUP, 1),
    ]
    assert shares[0].share == pytest.approx(0.6)
    (finding,) = representation_findings(values, "gender")
    assert finding.params["group"] == "X"


def test_class_balance_flags_a_rare_class():
    assert class_balance([0] * 95 + [1] * 5, "churn")[0].params["label"] == "1"
    assert class_balance([0] * 60 + [1] * 40, "churn") == []
