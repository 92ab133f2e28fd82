"""Displays that must not mislead: a prediction's precision, the "no better than the majority
class / the mean" verdict, and the four-fifths rule read for the favourable outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.compliance.fairness import fairness_report, guess_favourable
from core.deploy.predict_form import regression_text
from core.evaluate.metrics import Estimate, run_trivial_verdict, trivial_baseline_verdict
from tests.unit.quick_training import trained


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        (10.0412, 0.11, "10.04"),  # one decimal beyond the error's leading digit
        (10.0, 0.11, "10.00"),  # never "10"
        (9.87654, None, "9.88"),  # three significant digits at least
        (0.012345, None, "0.0123"),
        (253_412.7, 31_000.0, "253,413"),
        (-4.5, 2.0, "-4.50"),
        (0.0, None, "0.00"),
    ],
)
def test_regression_text_keeps_the_digits_the_error_warrants(value, error, text):
    assert regression_text(value, error) == text


BASELINES = {"majority": {"accuracy": 0.7}, "logistic": {"accuracy": 0.8}}


def test_no_better_than_the_majority_class_when_it_is_inside_the_interval():
    inside = trivial_baseline_verdict("binary", Estimate(0.72, 0.66, 0.78), BASELINES)
    assert inside is not None and inside.key == "special.verdict.no_better_majority"
    for lang in ("en", "zh"):
        assert "0.720" in inside.text(lang) or "0.72" in inside.text(lang)
    assert trivial_baseline_verdict("binary", Estimate(0.85, 0.80, 0.90), BASELINES) is None
    below = trivial_baseline_verdict("multiclass", Estimate(0.60), BASELINES)
    assert below is not None  # no interval: the point value decides
    mean = trivial_baseline_verdict("regression", Estimate(0.01, -0.05, 0.07), {"mean": {"r2": 0}})
    assert mean is not None and mean.key == "special.verdict.no_better_mean"
    assert trivial_baseline_verdict("regression", Estimate(None), {"mean": {"r2": 0}}) is None


def test_a_model_on_noise_is_called_no_better_than_the_majority_class():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=300), "b": rng.normal(size=300), "y": (rng.random(300) < 0.8)}
    )
    prepared, run, _ = trained(frame.astype({"y": int}), "y", epochs=2)
    verdict = run_trivial_verdict(prepared, run, n_resamples=200)
    assert verdict is not None and verdict.key == "special.verdict.no_better_majority"


def test_a_learned_line_is_better_than_the_mean():
    x = np.linspace(0, 1, 300)
    frame = pd.DataFrame({"x": x, "y": 3 * x + 1})
    prepared, run, _ = trained(frame, "y", epochs=40)
    assert run_trivial_verdict(prepared, run, n_resamples=200) is None


@pytest.mark.parametrize(
    ("target", "labels", "favourable"),
    [
        ("deny", ["no", "yes"], "no"),
        ("approved", ["0", "1"], None),  # nothing says which way: the positive label stands
        ("decision", ["approve", "deny"], "approve"),
        ("是否违约", ["否", "是"], "否"),
        ("status", ["default", "paid"], "paid"),
    ],
)
def test_the_favourable_outcome_is_guessed_from_the_names(target, labels, favourable):
    assert guess_favourable(target, labels)[0] == favourable


def test_the_four_fifths_rule_reads_right_when_the_positive_class_is_adverse():
    # Group a is denied 60% of the time, group b 20%: a is approved at 40/80 = 50% of b's rate.
    group = ["a"] * 10 + ["b"] * 10
    denied = ["yes"] * 6 + ["no"] * 4 + ["yes"] * 2 + ["no"] * 8
    report = fairness_report(denied, denied, group, favourable_label="no", min_group_size=5)
    assert report.four_fifths_ok is False
    assert report.favourable_ratio == pytest.approx(0.5)
    (finding,) = [f for f in report.findings if f.key == "special.fairness.four_fifths"]
    assert finding.params["low"] == "a" and finding.params["high"] == "b"
    text = finding.text("en")
    assert "a receive the favourable outcome (no)" in text and "50%" in text
    # Read with "yes" as if it were favourable, the rule would blame group b instead.
    plain = fairness_report(denied, denied, group, min_group_size=5)
    assert plain.findings[0].params["low"] == "b"
