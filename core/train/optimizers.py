"""The optimizers a run may train with: one entry each, read by every place that needs one.

An entry names the Keras optimizer class and its options, and carries the update rule in LaTeX
(the Train page's "How it learns"). The engine builds the optimizer from the entry
(`Optimizer.build`), the standalone training script writes the same call
(`Optimizer.code`, core.deploy.codegen), specs validate against `optimizer_names()` and the
Train page offers the same names in the same order.

Adding an optimizer: one `Optimizer(...)` in `_OPTIMIZERS` below, and its texts in
core/locales/en/train.json and core/locales/zh/train.json: `optimizer.<name>` (its name on the
page), `formula.<name>.title` and `formula.<name>.explain` (its update rule's heading and
sentence). Nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.i18n import UserError

if TYPE_CHECKING:
    import keras

MOMENTUM = 0.9  # the momentum of the "momentum" and "nesterov" entries

_ADAM_MOMENTS = (
    r"\begin{aligned} m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, &"
    r" v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\"
    r" \hat{m}_t &= \frac{m_t}{1 - \beta_1^{\,t}}, &"
    r" \hat{v}_t &= \frac{v_t}{1 - \beta_2^{\,t}}"
)


@dataclass(frozen=True)
class Optimizer:
    """One optimizer: the Keras class and options it builds, and its update rule in LaTeX (as
    Keras computes it with these options and its own defaults)."""

    name: str
    keras_class: str  # a class in keras.optimizers
    latex: str
    options: dict[str, Any] = field(default_factory=dict)

    def build(self, learning_rate: Any) -> keras.optimizers.Optimizer:
        """The Keras optimizer at `learning_rate` (a number or a Keras schedule)."""
        import keras

        return getattr(keras.optimizers, self.keras_class)(learning_rate, **self.options)

    def code(self, learning_rate: str) -> str:
        """The same call as Python source, with `learning_rate` as the rate's expression."""
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        return f"keras.optimizers.{self.keras_class}({learning_rate}{options})"


_OPTIMIZERS = (
    Optimizer("sgd", "SGD", r"\theta_{t+1} = \theta_t - \eta\, g_t"),
    Optimizer(
        "momentum",
        "SGD",
        r"v_{t+1} = \mu\, v_t - \eta\, g_t,\qquad"
        r" \theta_{t+1} = \theta_t + v_{t+1},\quad \mu = 0.9",
        {"momentum": MOMENTUM},
    ),
    Optimizer(
        "nesterov",
        "SGD",
        r"v_{t+1} = \mu\, v_t - \eta\, g_t,\qquad"
        r" \theta_{t+1} = \theta_t + \mu\, v_{t+1} - \eta\, g_t,\quad \mu = 0.9",
        {"momentum": MOMENTUM, "nesterov": True},
    ),
    Optimizer(
        "adam",
        "Adam",
        _ADAM_MOMENTS + r" \\ \theta_t &= \theta_{t-1} - \eta\,"
        r" \frac{\hat{m}_t}{\sqrt{\hat{v}_t} + \epsilon} & \beta_1 &= 0.9,\ \beta_2 = 0.999"
        r" \end{aligned}",
    ),
    Optimizer(
        "adamw",
        "AdamW",
        _ADAM_MOMENTS + r" \\ \theta_t &= \theta_{t-1} - \eta\left("
        r"\frac{\hat{m}_t}{\sqrt{\hat{v}_t} + \epsilon} + \lambda\, \theta_{t-1}\right)"
        r" & \lambda &= 0.004 \end{aligned}",
    ),
    Optimizer(
        "rmsprop",
        "RMSprop",
        r"s_t = \rho\, s_{t-1} + (1 - \rho)\, g_t^2,\qquad"
        r" \theta_t = \theta_{t-1} - \frac{\eta\, g_t}{\sqrt{s_t + \epsilon}},\quad \rho = 0.9",
    ),
    Optimizer(
        "adagrad",
        "Adagrad",
        r"G_t = G_{t-1} + g_t^2,\qquad"
        r" \theta_t = \theta_{t-1} - \frac{\eta\, g_t}{\sqrt{G_t + \epsilon}},\quad G_0 = 0.1",
    ),
)
# The registry, in the order the Train page lists them.
REGISTRY: dict[str, Optimizer] = {optimizer.name: optimizer for optimizer in _OPTIMIZERS}


def optimizer_names() -> tuple[str, ...]:
    """Every optimizer's name, in the page's order (read at call time, never copied)."""
    return tuple(REGISTRY)


def optimizer(name: str) -> Optimizer:
    """The registry's entry for `name`; an unknown name is the spec's own error."""
    entry = REGISTRY.get(name)
    if entry is None:
        raise UserError("train.error.optimizer", value=name, allowed=", ".join(REGISTRY))
    return entry
