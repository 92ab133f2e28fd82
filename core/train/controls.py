"""The Train page's controls, written once: what each one sets, the values it offers, how it is
drawn, its widget key, whether a lesson may preset it and whether a reloaded tab gets it back.

Every consumer reads this registry: the Train page draws its widgets from it (pages/train.py),
lessons validate their presets and their locked/hidden names against it
(core.workshop.lessons), lessons, setup links and the first-model preset set the widgets
through `widget_values`, and a reloaded tab restores the keys `resume_key_pattern` matches
(ui/state.py). A control added here is drawn, presettable and restored with no other list to
update; its texts are the catalog keys it names.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from core.i18n import t
from core.train.engine import BATCH_SIZES, EPOCHS_RANGE, MAX_SEED, SCHEDULES
from core.train.models import (
    ACTIVATIONS,
    KINDS,
    MAX_DROPOUT,
    MAX_ENSEMBLE_SIZE,
    MAX_HIDDEN_LAYERS,
    default_loss,
)
from core.train.optimizers import optimizer_names
from core.train.privacy import CLIP_RANGE, DELTA_RANGE, EPSILON_RANGE

LEARNING_RATES: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
L2_VALUES: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
UNIT_CHOICES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
PATIENCE_SLIDER: tuple[int, int] = (1, 50)
DROPOUT_STEP = 0.05

Widget = Literal["radio", "selectbox", "slider", "select_slider", "checkbox", "number"]


@dataclass(frozen=True)
class Control:
    """One control of the Train page.

    `name` is the ModelSpec/TrainSpec field it sets (the name lessons use), except for a
    page-only control such as one layer's units. `key` is the widget key; `{task}` and
    `{index}` in it are filled in where the page draws it (one loss widget per task, one units
    widget per layer). `choices` are the options of a radio, select box or select slider (a
    function where the list is a registry of its own, read when drawn); `low`, `high` and
    `step` bound a slider or a number input. An option's label is the catalog key
    `option_label` with the option in place of `{}`, `none_label` for None, else the number
    written short; `number_format` is a number input's printf format.
    """

    name: str
    spec: Literal["model", "train", "page"]
    widget: Widget
    key: str
    label: str
    help: str
    choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    option_label: str | None = None
    none_label: str | None = None
    number_format: str | None = None
    presettable: bool = True  # a lesson may preset, lock or hide it
    resumable: bool = True  # a reloaded tab gets its value back

    def options(self) -> tuple[Any, ...]:
        """The values a radio, select box or select slider offers now."""
        return self.choices() if callable(self.choices) else self.choices

    def option_text(self, value: Any, lang: str) -> str:
        """How one option reads on the page, in `lang`."""
        if value is None and self.none_label is not None:
            return t(self.none_label, lang)
        if self.option_label is not None:
            return t(self.option_label.replace("{}", str(value)), lang)
        return short_number(value) if isinstance(value, float) else str(value)

    def widget_key(self, *, task: str | None = None, index: int | None = None) -> str:
        """The widget key, with the task or layer index filled in where it has a place."""
        return self.key.replace("{task}", str(task)).replace("{index}", str(index))

    def offers(self, value: Any) -> bool:
        """Whether the control can show `value` (a lesson's preset must be one it can)."""
        if value is None:
            return self.widget == "number" or None in self.options()
        if self.widget in ("radio", "selectbox", "select_slider"):
            return value in self.options()
        if self.widget == "checkbox":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        if self.widget == "slider" and self.step is not None and self.low is not None:
            steps = (value - self.low) / self.step
            return math.isclose(steps, round(steps), abs_tol=1e-9)
        return True


def short_number(value: float) -> str:
    """A rate or a penalty as the page writes it: 0, 0.001, 1e-05."""
    return "0" if value == 0 else f"{value:g}"


CONTROLS: tuple[Control, ...] = (
    # The model column.
    Control("kind", "model", "radio", "train_kind", "train.label.kind", "train.explain.kind",
            KINDS, option_label="train.kind.{}"),
    Control("hidden_layers", "model", "slider", "train_layers", "train.label.hidden_layers",
            "train.explain.hidden_layers", low=0, high=MAX_HIDDEN_LAYERS, step=1),
    Control("units", "page", "select_slider", "train_units_{index}", "train.label.units",
            "train.explain.units", UNIT_CHOICES, presettable=False),
    Control("activation", "model", "selectbox", "train_activation", "train.label.activation",
            "train.explain.activation", ACTIVATIONS, option_label="train.activation.{}"),
    Control("dropout", "model", "slider", "train_dropout", "train.label.dropout",
            "train.explain.dropout", low=0.0, high=MAX_DROPOUT, step=DROPOUT_STEP),
    Control("batch_norm", "model", "checkbox", "train_batch_norm", "train.label.batch_norm",
            "train.explain.batch_norm"),
    # TabM's own controls, shown when the model is a tabular ensemble.
    Control("ensemble_size", "model", "slider", "train_ensemble_size",
            "tabular.field.ensemble_size", "tabular.field.ensemble_size_help",
            low=1, high=MAX_ENSEMBLE_SIZE, step=1),
    Control("adapters", "model", "checkbox", "train_adapters", "tabular.field.adapters",
            "tabular.field.adapters_help"),
    Control("l2", "model", "select_slider", "train_l2", "train.label.l2", "train.explain.l2",
            L2_VALUES),
    # The loss offers the task's losses (core.train.models.allowed_losses): one widget per task.
    Control("loss", "model", "selectbox", "train_loss_{task}", "train.label.loss",
            "train.explain.loss", option_label="train.loss.{}"),
    # The training column.
    Control("optimizer", "train", "selectbox", "train_optimizer", "train.label.optimizer",
            "train.explain.optimizer", optimizer_names, option_label="train.optimizer.{}"),
    Control("learning_rate", "train", "select_slider", "train_lr", "train.label.learning_rate",
            "train.explain.learning_rate", LEARNING_RATES),
    Control("batch_size", "train", "select_slider", "train_batch", "train.label.batch_size",
            "train.explain.batch_size", BATCH_SIZES, none_label="train.batch.full"),
    Control("epochs", "train", "slider", "train_epochs", "train.label.epochs",
            "train.explain.epochs", low=EPOCHS_RANGE[0], high=EPOCHS_RANGE[1], step=1),
    Control("early_stopping", "train", "checkbox", "train_early", "train.label.early_stopping",
            "train.explain.early_stopping"),
    Control("patience", "train", "slider", "train_patience", "train.label.patience",
            "train.explain.patience", low=PATIENCE_SLIDER[0], high=PATIENCE_SLIDER[1], step=1),
    Control("restore_best", "train", "checkbox", "train_restore", "train.label.restore_best",
            "train.explain.restore_best"),
    Control("schedule", "train", "selectbox", "train_schedule", "train.label.schedule",
            "train.explain.schedule", SCHEDULES, option_label="train.schedule.{}"),
    Control("class_weights", "train", "checkbox", "train_class_weights",
            "train.label.class_weights", "train.explain.class_weights"),
    Control("seed", "train", "number", "train_seed", "train.label.seed", "train.explain.seed",
            low=0, high=MAX_SEED, step=1),
    # Private training (core.train.privacy).
    Control("dp", "train", "checkbox", "train_dp", "dp.label.dp", "dp.explain.dp"),
    Control("dp_epsilon", "train", "number", "train_dp_epsilon", "dp.label.epsilon",
            "dp.explain.epsilon", low=EPSILON_RANGE[0], high=EPSILON_RANGE[1], step=0.5),
    # δ's suggested value, step and help depend on the rows: the page supplies them.
    Control("dp_delta", "train", "number", "train_dp_delta", "dp.label.delta", "dp.explain.delta",
            low=DELTA_RANGE[0], high=DELTA_RANGE[1], number_format="%.0e"),
    Control("dp_clip_norm", "train", "number", "train_dp_clip", "dp.label.clip",
            "dp.explain.clip", low=CLIP_RANGE[0], high=CLIP_RANGE[1], step=0.1),
)  # fmt: skip
BY_NAME: dict[str, Control] = {control.name: control for control in CONTROLS}


def control(name: str) -> Control:
    """The registry's control `name`."""
    return BY_NAME[name]


def presettable_names() -> frozenset[str]:
    """Names a lesson may preset, lock or hide."""
    return frozenset(c.name for c in CONTROLS if c.presettable)


def off_the_controls(model: Any, train: Any) -> list[str]:
    """Fields of a ModelSpec/TrainSpec whose value the Train page's controls cannot show (a
    field no control sets counts as one, unless it holds its default)."""
    from core.train.engine import TrainSpec
    from core.train.models import ModelSpec

    values = {**model.to_dict(), **train.to_dict()}
    defaults = {**ModelSpec().to_dict(), **TrainSpec().to_dict()}
    wrong = []
    for name, value in values.items():
        entry = BY_NAME.get(name)
        if entry is None or not entry.presettable:
            if value != defaults[name]:
                wrong.append(name)
        elif name == "hidden_layers":
            if not entry.offers(len(value)) or not all(BY_NAME["units"].offers(u) for u in value):
                wrong.append(name)
        elif name == "loss":
            continue  # checked against the task by the spec itself, once the task is known
        elif not entry.offers(value):
            wrong.append(name)
    return wrong


def widget_values(model: Any, train: Any, task: str | None) -> dict[str, Any]:
    """The Train page's widget values (by key) that show a ModelSpec and a TrainSpec: what a
    lesson, a setup link and the first-model preset set. The loss is set for `task` only; a
    number left unset in the spec (δ chosen from the rows) keeps the page's suggestion."""
    values = {**model.to_dict(), **train.to_dict()}
    widgets: dict[str, Any] = {}
    for entry in CONTROLS:
        if not entry.presettable:
            continue
        value = values[entry.name]
        if entry.name == "hidden_layers":
            widgets[entry.key] = len(value)
            units = BY_NAME["units"]
            widgets.update({units.widget_key(index=i): n for i, n in enumerate(value)})
        elif entry.name == "loss":
            if task is not None:
                widgets[entry.widget_key(task=task)] = value or default_loss(task)
        elif value is None and entry.widget == "number":
            continue
        else:
            widgets[entry.key] = value
    return widgets


@functools.cache
def resume_key_pattern() -> re.Pattern[str]:
    """Widget keys a reloaded tab gets back: every resumable control's, for any task or layer.
    Never a button's (Streamlit refuses to set those)."""
    keys = [
        re.escape(c.key).replace(r"\{task\}", "[a-z]+").replace(r"\{index\}", r"\d+")
        for c in CONTROLS
        if c.resumable
    ]
    return re.compile(rf"^(?:{'|'.join(keys)})$")
