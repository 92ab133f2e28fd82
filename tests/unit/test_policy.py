"""The per-epoch policy every training loop follows, the run status, and the embedded Ray
cluster's start: plain Python, no TensorFlow, no cluster."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from core.i18n import UserError
from core.train import cluster
from core.train.engine import Run, TrainSpec
from core.train.models import ModelSpec
from core.train.policy import MIN_LEARNING_RATE, PLATEAU_FACTOR, EpochPolicy
from core.train.status import RunStatus
from core.workshop.challenges import validate_check

SPEC = TrainSpec(learning_rate=0.01, patience=4, schedule="plateau", early_stopping=True)


def test_statuses_keep_their_strings_and_one_rule_each_for_done_and_usable():
    assert [str(s) for s in RunStatus] == ["queued", "running", "stopped", "finished", "failed"]
    assert {s for s in RunStatus if s.done} == {"stopped", "finished", "failed"}
    assert {s for s in RunStatus if s.usable} == {"finished", "stopped"}
    run = Run("id", "n", ModelSpec(), SPEC, "binary", 2, 2, {}, "stopped", 0.0, "now")
    again = Run.from_dict(run.to_dict())
    assert again.status is RunStatus.STOPPED and again.to_dict()["status"] == "stopped"
    with pytest.raises(ValueError):
        replace(run, status="done")


def test_a_lesson_may_only_ask_for_a_status_that_exists():
    check = {"kind": "run", "where": {"status": ["finished", "stopped"]}}
    validate_check(check, "c")
    with pytest.raises(UserError):
        validate_check({"kind": "run", "where": {"status": ["finishd"]}}, "c")


def test_best_weights_early_stopping_and_the_plateau_follow_keras():
    policy = EpochPolicy(SPEC, 1e-5)
    losses = [1.0, 0.9, 0.95, 0.92, 0.91, 0.93]
    verdicts = []
    for epoch, loss in enumerate(losses, 1):
        assert policy.check_epoch(epoch, {"loss": loss})
        verdicts.append(policy.after_epoch(epoch, loss, 0.01))
    assert [v.improved for v in verdicts] == [True, True, False, False, False, False]
    # patience 4 // 2 = 2 epochs without an improvement of 1e-4 halve the rate, then wait again.
    assert [v.learning_rate for v in verdicts[:5]] == [
        None,
        None,
        None,
        0.01 * PLATEAU_FACTOR,
        None,
    ]
    assert verdicts[-1].stop and policy.early_stopped == 6
    outcome = policy.outcome(stopped=False, has_best_weights=True)
    assert outcome.status == RunStatus.FINISHED and outcome.restore_best
    assert outcome.kept_epoch == 2 and outcome.message.key == "train.message.early_stopped"


def test_the_rate_never_drops_below_the_floor():
    policy = EpochPolicy(replace(SPEC, early_stopping=False, patience=2), 1e-5)
    rate, seen = 3e-7, []
    for epoch in range(1, 6):
        policy.check_epoch(epoch, {"loss": 1.0})
        verdict = policy.after_epoch(epoch, 1.0, rate)
        rate = verdict.learning_rate or rate
        seen.append(rate)
    assert min(seen) == MIN_LEARNING_RATE and seen[-1] == MIN_LEARNING_RATE


def test_a_loss_that_is_not_finite_fails_with_a_lower_rate_to_try():
    policy = EpochPolicy(replace(SPEC, learning_rate=2e-5), 1e-5)
    assert policy.check_epoch(1, {"loss": 0.5, "accuracy": math.nan})  # only losses decide
    policy.after_epoch(1, 0.5, 2e-5)
    assert not policy.check_epoch(2, {"loss": 0.4, "val_loss": math.inf})
    outcome = policy.outcome(stopped=False, has_best_weights=True)
    assert outcome.status == RunStatus.FAILED and outcome.restore_best
    assert outcome.message.key == "train.message.nan_loss"
    assert outcome.message.params == {
        "value": "inf",
        "epoch": 2,
        "lr": "2e-05",
        "suggested": "1e-05",
    }
    assert outcome.kept_epoch == 1


def test_stop_keeps_the_best_epoch_and_says_which():
    policy = EpochPolicy(replace(SPEC, restore_best=False), 1e-5)
    for epoch, loss in enumerate([0.5, 0.4, 0.6], 1):
        policy.check_epoch(epoch, {"loss": loss})
        policy.after_epoch(epoch, loss, 0.01)
    outcome = policy.outcome(stopped=True, has_best_weights=True)
    assert outcome.status == RunStatus.STOPPED and outcome.restore_best and outcome.kept_epoch == 2
    assert outcome.message.params == {"epoch": 3, "best": 2}
    assert (
        EpochPolicy(SPEC, 1e-5).outcome(True, False).message.key == "train.message.stopped_no_epoch"
    )


class FlakyRay:
    """Stands in for `ray`: init fails `failures` times, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures, self.inits, self.shutdowns = failures, 0, 0

    def init(self, **options):
        self.inits += 1
        if self.inits <= self.failures:
            raise ConnectionError("Failed to connect to GCS within 60 seconds.\nmore")

    def shutdown(self):
        self.shutdowns += 1


def test_an_embedded_cluster_that_fails_to_start_is_started_again(monkeypatch):
    monkeypatch.setattr(cluster, "START_RETRY_S", 0.0)
    flaky = FlakyRay(failures=cluster.START_TRIES - 1)
    cluster._start_embedded(flaky, address="local")
    assert flaky.inits == cluster.START_TRIES and flaky.shutdowns == cluster.START_TRIES - 1
    broken = FlakyRay(failures=99)
    with pytest.raises(UserError) as refused:
        cluster._start_embedded(broken, address="local")
    assert broken.inits == cluster.START_TRIES
    message = refused.value.message
    assert message.key == "jobs.error.ray_start"
    assert "Failed to connect to GCS within 60 seconds." in message.text("en")
    assert "MODELDESK_RAY_ADDRESS" in message.text("en") and "Ray" in message.text("zh")


@pytest.mark.ray
def test_leaving_ray_at_exit_keeps_the_commands_code_and_output():
    pytest.importorskip("ray")
    script = (
        "import sys, ray, core.cli.main as cli\n"
        "cli.main = lambda: print('trained') or 3\n"
        "sys.exit(cli._run())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "trained\n"  # flushed before the process ended
