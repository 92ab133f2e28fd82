"""The values the Train page's controls offer (sliders snap to these), shared with lessons and
setup links so a preset is always one the page can show."""

from __future__ import annotations

from typing import Any

from core.train.engine import BATCH_SIZES

LEARNING_RATES: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
L2_VALUES: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
UNIT_CHOICES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
EPOCHS_SLIDER: tuple[int, int] = (1, 500)
PATIENCE_SLIDER: tuple[int, int] = (1, 50)
DROPOUT_STEP = 0.05


def off_the_controls(model: Any, train: Any) -> list[str]:
    """Fields of a ModelSpec/TrainSpec whose value the Train page's controls cannot show."""
    wrong = []
    if model.l2 not in L2_VALUES:
        wrong.append("l2")
    if any(units not in UNIT_CHOICES for units in model.hidden_layers):
        wrong.append("hidden_layers")
    if abs(model.dropout / DROPOUT_STEP - round(model.dropout / DROPOUT_STEP)) > 1e-9:
        wrong.append("dropout")
    if train.learning_rate not in LEARNING_RATES:
        wrong.append("learning_rate")
    if train.batch_size not in BATCH_SIZES:
        wrong.append("batch_size")
    if not EPOCHS_SLIDER[0] <= train.epochs <= EPOCHS_SLIDER[1]:
        wrong.append("epochs")
    if not PATIENCE_SLIDER[0] <= train.patience <= PATIENCE_SLIDER[1]:
        wrong.append("patience")
    return wrong
