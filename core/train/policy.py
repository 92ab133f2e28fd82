"""What happens after each epoch, for every training loop: one pure policy, no TensorFlow.

The compiled loop of a thread job (core.train.engine) and each worker of a multi-worker run
(core.train.multiworker) feed it the epoch's monitored loss and learning rate and do what it
says, so both keep the same best weights, stop early at the same epoch, lower the rate on a
plateau at the same epoch, fail a blown-up loss with the same message, and end with the same
status:

- **Best weights**: the epoch with the lowest monitored loss (validation loss when there are
  validation rows, else the training loss); the caller copies the weights when told.
- **Early stopping** as `keras.callbacks.EarlyStopping` (min_delta 0): `patience` epochs
  without a new best end training (never after the first epoch).
- **Plateau schedule** as `keras.callbacks.ReduceLROnPlateau`: `patience // 2` epochs (at
  least 1) without an improvement of `PLATEAU_MIN_DELTA` multiply the rate by
  `PLATEAU_FACTOR`, down to `MIN_LEARNING_RATE`.
- **NaN verdict**: a loss that is not finite fails the run, with a message that names the
  epoch, the value, the rate and a rate ten times lower to try.
- **Outcome**: failed, stopped (by the user) or finished (early or not); a stopped or failed
  run keeps its best weights (so its model is usable), a finished one when `restore_best`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.i18n import Message
from core.train.status import RunStatus

PLATEAU_FACTOR = 0.5
MIN_LEARNING_RATE = 1e-7
PLATEAU_MIN_DELTA = 1e-4


class PolicySettings(Protocol):
    """The training settings the policy reads (a `TrainSpec` has them)."""

    @property
    def learning_rate(self) -> float: ...
    @property
    def early_stopping(self) -> bool: ...
    @property
    def patience(self) -> int: ...
    @property
    def schedule(self) -> str: ...
    @property
    def restore_best(self) -> bool: ...


@dataclass(frozen=True)
class EpochVerdict:
    """What to do after an epoch: keep its weights, stop, set a new learning rate."""

    improved: bool
    stop: bool
    learning_rate: float | None = None


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its status and message, and whether to restore the best weights."""

    status: RunStatus
    message: Message | None
    restore_best: bool
    kept_epoch: int | None


def first_non_finite_loss(logs: Mapping[str, float]) -> float | None:
    """The first loss value (loss, val_loss) in an epoch's logs that is not finite, else None."""
    return next((v for k, v in logs.items() if "loss" in k and not math.isfinite(v)), None)


class EpochPolicy:
    """One run's per-epoch decisions (see the module docstring); epochs count from 1."""

    def __init__(self, settings: PolicySettings, lowest_learning_rate: float) -> None:
        self.settings = settings
        # The smallest rate the controls allow: the NaN message never suggests less.
        self.lowest_learning_rate = lowest_learning_rate
        self.best = math.inf
        self.best_epoch: int | None = None
        self.epochs_done = 0
        self.early_stopped: int | None = None
        self.bad_loss: tuple[int, float] | None = None
        self._early_wait = 0
        self._plateau_best = math.inf
        self._plateau_wait = 0

    def fail(self, epoch: int, value: float) -> None:
        """Record a loss that is not finite (in a batch or an epoch's numbers)."""
        if self.bad_loss is None:
            self.bad_loss = (epoch, float(value))

    def check_epoch(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Whether an epoch's numbers may be recorded; False (and the run fails) on a loss that
        is not finite."""
        bad = first_non_finite_loss(logs)
        if bad is not None:
            self.fail(epoch, bad)
            return False
        self.epochs_done = epoch
        return True

    def after_epoch(self, epoch: int, monitored: float, learning_rate: float) -> EpochVerdict:
        """The decisions after a recorded epoch, from its monitored loss and current rate."""
        settings = self.settings
        improved = monitored < self.best
        if improved:
            self.best, self.best_epoch = monitored, epoch
        self._early_wait = 0 if improved else self._early_wait + 1
        if settings.early_stopping and self._early_wait >= settings.patience and epoch > 1:
            self.early_stopped = epoch
            return EpochVerdict(improved, stop=True)
        new_rate = None
        if settings.schedule == "plateau":
            if monitored < self._plateau_best - PLATEAU_MIN_DELTA:
                self._plateau_best, self._plateau_wait = monitored, 0
            else:
                self._plateau_wait += 1
                if self._plateau_wait >= max(1, settings.patience // 2) and learning_rate > float(
                    np.float32(MIN_LEARNING_RATE)
                ):
                    new_rate = max(learning_rate * PLATEAU_FACTOR, MIN_LEARNING_RATE)
                    self._plateau_wait = 0
        return EpochVerdict(improved, stop=False, learning_rate=new_rate)

    def outcome(self, stopped: bool, has_best_weights: bool) -> Outcome:
        """How the run ended; `stopped` when the user asked it to stop."""
        settings = self.settings
        if self.bad_loss is not None:
            epoch, value = self.bad_loss
            status = RunStatus.FAILED
            suggested = max(settings.learning_rate / 10, self.lowest_learning_rate)
            message: Message | None = Message(
                "train.message.nan_loss",
                {
                    "value": str(value),
                    "epoch": epoch,
                    "lr": f"{settings.learning_rate:g}",
                    "suggested": f"{suggested:g}",
                },
            )
        elif stopped:
            status = RunStatus.STOPPED
            message = (
                Message("train.message.stopped_no_epoch")
                if self.best_epoch is None
                else Message(
                    "train.message.stopped", {"epoch": self.epochs_done, "best": self.best_epoch}
                )
            )
        elif self.early_stopped is not None:
            status = RunStatus.FINISHED
            message = Message(
                "train.message.early_stopped",
                {"epoch": self.early_stopped, "patience": settings.patience},
            )
        else:
            status, message = RunStatus.FINISHED, None
        # Stop keeps the best weights seen; so does a blown-up run, so its model is usable.
        keep_best = status != RunStatus.FINISHED or settings.restore_best
        restore = keep_best and has_best_weights
        kept = self.best_epoch if restore else (self.epochs_done or None)
        return Outcome(status, message, restore, kept)
