"""What the learning curves say, in plain words, and what to try next.

Rules read a run's per-epoch history (training `loss`, and `val_loss` when there is one):
- learning rate too high: the training loss diverges (ends far above its best, or is not a
  number) or oscillates (rises often, and by a lot, from one epoch to the next);
- overfitting: the validation loss rose well above its best while the training loss kept falling;
- underfitting: the training loss ends close to the loss of always guessing the same answer;
- still learning: both losses were still falling clearly when training ended;
- good fit: none of the above.
Each finding is a catalog Message, so the page says it in the session's language.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.i18n import Message

KINDS: tuple[str, ...] = (
    "too_short",
    "diverging",
    "oscillating",
    "overfitting",
    "underfitting",
    "still_learning",
    "good_fit",
)
ADVICE: dict[str, tuple[str, ...]] = {
    "too_short": ("more_epochs",),
    "diverging": ("lower_learning_rate", "scale_inputs", "adaptive_optimizer"),
    "oscillating": ("lower_learning_rate", "larger_batch", "schedule"),
    "overfitting": ("early_stopping", "regularise", "smaller_model", "more_data"),
    "underfitting": ("bigger_model", "more_epochs", "higher_learning_rate", "check_features"),
    "still_learning": ("more_epochs", "higher_learning_rate"),
    "good_fit": ("compare_baselines", "another_seed"),
}
MIN_EPOCHS = 5  # fewer epochs than this are too few to read a trend from
DIVERGE_FACTOR = 1.5  # training loss ending this many times above its best: diverging
RISE_SHARE = 0.05  # an epoch-to-epoch rise counts as a jump above 5% of the loss
OSCILLATION_SHARE = 0.3  # ... and jumps in this share of epochs make the loss oscillate
OVERFIT_RISE = 0.10  # validation loss 10% above its best ...
OVERFIT_MIN_EPOCHS = 3  # ... for at least this many epochs after it (and 10% of them)
UNDERFIT_SHARE = 0.8  # training loss still at 80% of always guessing the same answer
STILL_LEARNING_DROP = 0.03  # both losses fell more than 3% over the last fifth of the epochs


@dataclass(frozen=True)
class Finding:
    """One thing the curves show: kind, whether it is good news, what it means, what to try."""

    kind: str
    good: bool
    message: Message
    advice: tuple[Message, ...]


def diagnose(
    history: Mapping[str, Sequence[float]],
    *,
    guessing_loss: float | None = None,
    best_epoch: int | None = None,
) -> list[Finding]:
    """Findings about a run's learning curves, the most important first (never empty).

    guessing_loss is the training loss of always predicting the same answer (see
    `guessing_loss`); without it, underfitting is not judged. best_epoch (1-based) is the epoch
    whose weights the run kept, mentioned when early stopping caught overfitting.
    """
    loss = np.asarray(history.get("loss", []), dtype=np.float64)
    val = np.asarray(history.get("val_loss", []), dtype=np.float64)
    if len(loss) < MIN_EPOCHS:
        return [_finding("too_short", epochs=len(loss), needed=MIN_EPOCHS)]
    findings: list[Finding] = []
    learning_rate = _learning_rate_problem(loss)
    if learning_rate is not None:
        findings.append(learning_rate)
    overfitting = _overfitting(loss, val, best_epoch)
    if overfitting is not None:
        findings.append(overfitting)
    if learning_rate is None and guessing_loss is not None and guessing_loss > 0:
        final = float(loss[-1])
        if final >= UNDERFIT_SHARE * guessing_loss:
            findings.append(
                _finding(
                    "underfitting", loss=final, guess=guessing_loss, share=final / guessing_loss
                )
            )
    if not findings and _still_falling(loss) and (len(val) == 0 or _still_falling(val)):
        findings.append(_finding("still_learning", epochs=len(loss)))
    if not findings:
        findings.append(_finding("good_fit", epochs=len(loss), loss=float(loss[-1])))
    return findings


def guessing_loss(loss: str, task: str, y_train: np.ndarray, n_classes: int) -> float | None:
    """The training loss of always giving the same answer (the mean, or the class shares), for
    the losses where that is simple to state; None for the others (Huber, focal losses)."""
    y = np.asarray(y_train, dtype=np.float64).reshape(-1)
    if len(y) == 0:
        return None
    if task == "regression":
        if loss == "mse":
            return float(np.var(y))
        if loss == "mae":
            return float(np.mean(np.abs(y - np.median(y))))
        return None
    shares = np.bincount(y.astype(np.int64), minlength=n_classes) / len(y)
    present = shares[shares > 0]
    entropy = float(-np.sum(present * np.log(present)))
    if loss in ("binary_crossentropy", "categorical_crossentropy"):
        return entropy
    if loss == "mse":
        # One sigmoid output (binary) or one-hot rows against softmax outputs (multiclass).
        if task == "binary":
            return float(shares[1] * (1 - shares[1])) if n_classes > 1 else 0.0
        return float(np.mean(shares * (1 - shares)))
    return None


def _learning_rate_problem(loss: np.ndarray) -> Finding | None:
    if not np.all(np.isfinite(loss)):
        epoch = int(np.argmin(np.isfinite(loss))) + 1
        return _finding("diverging", epoch=epoch, detail="nan")
    best = float(loss.min())
    final = float(loss[-1])
    if final > DIVERGE_FACTOR * best and final > loss[0] * 0.9 and best > 0:
        return _finding(
            "diverging", epoch=int(np.argmin(loss)) + 1, detail="rise", best=best, last=final
        )
    steps = np.diff(loss)
    previous = np.abs(loss[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        jumps = (steps > RISE_SHARE * previous) & (previous > 0)
    share = float(np.mean(jumps))
    if share >= OSCILLATION_SHARE:
        return _finding("oscillating", share=share, jumps=int(jumps.sum()), epochs=len(loss))
    return None


def _overfitting(loss: np.ndarray, val: np.ndarray, best_epoch: int | None) -> Finding | None:
    if len(val) < MIN_EPOCHS or not np.all(np.isfinite(val)):
        return None
    best = int(np.argmin(val))
    after = len(val) - 1 - best
    if after < max(OVERFIT_MIN_EPOCHS, math.ceil(0.1 * len(val))):
        return None
    lowest, last = float(val[best]), float(val[-1])
    rose = last > lowest * (1 + OVERFIT_RISE) and last - lowest > 1e-8
    train_fell = loss[-1] < loss[best]
    if not (rose and train_fell):
        return None
    kept = best_epoch is not None and best_epoch == best + 1
    return _finding(
        "overfitting",
        epoch=best + 1,
        best=lowest,
        last=last,
        kept="kept" if kept else "last",
    )


def _still_falling(values: np.ndarray) -> bool:
    tail = max(2, len(values) // 5)
    start, end = float(values[-tail]), float(values[-1])
    return start > 0 and (start - end) / start > STILL_LEARNING_DROP


def _finding(kind: str, **params: object) -> Finding:
    detail = params.pop("detail", None)
    kept = params.pop("kept", None)
    key = f"evaluation.diagnosis.{kind}"
    if detail is not None:
        key += f"_{detail}"
    if kept is not None:
        key += f"_{kept}"
    return Finding(
        kind=kind,
        good=kind == "good_fit",
        message=Message(key, params),
        advice=tuple(Message(f"evaluation.advice.{name}") for name in ADVICE[kind]),
    )
