"""Differentially private training (DP-SGD) and its accounting, with Google's dp-accounting.

DP-SGD (Abadi et al. 2016) changes one thing in the compiled loop (docs/ARCHITECTURE.md,
"Background jobs"): how a step's gradient is made.

- **Sampling.** Each step takes every training row independently with probability
  q = batch size / rows (Poisson sampling), as the accountant assumes. The loop gathers the
  sampled rows (a variable-size batch, plus one padding row of weight 0 so a step never has an
  empty batch); the draw is a stateless uniform seeded by (run seed, step).
- **Per-example gradients.** One forward pass over the batch, then the Jacobian of the
  per-example losses with respect to the weights (`GradientTape.jacobian`, vectorised with
  pfor inside the `tf.function`), so each row's gradient is its own.
- **Clipping.** Each row's gradient (all weights together) is scaled to norm <= C.
- **Noise.** The clipped gradients are summed, Gaussian noise N(0, σ²C²) is added to every
  weight, and the sum is divided by the expected batch size q·n (not the sampled size, which
  would leak it). The noise is a stateless normal seeded by (run seed, step), so the same seed
  gives the same history. The L2 penalty depends on no row; its gradient is added unclipped.
- **Accounting.** Each step is `PoissonSampledDpEvent(q, GaussianDpEvent(σ))`; a run of T steps
  is their `SelfComposedDpEvent`, and the RDP accountant turns it into the ε spent at a given δ.
  A target ε becomes σ with `calibrate_dp_mechanism` over the planned steps. Stop and early
  stopping count the steps actually taken, so the ε reported is the ε spent.

Batch normalisation mixes rows within a batch, so per-example gradients are undefined with it:
DP training refuses it. TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from core.i18n import UserError

ACCOUNTANT = "rdp"
# Target ε, noise multiplier, clipping norm and δ a person (or a config file) may ask for.
EPSILON_RANGE: tuple[float, float] = (0.01, 100.0)
NOISE_RANGE: tuple[float, float] = (0.0, 100.0)
CLIP_RANGE: tuple[float, float] = (1e-4, 1e4)
DELTA_RANGE: tuple[float, float] = (1e-12, 0.5)
DEFAULT_EPSILON = 3.0
DEFAULT_CLIP_NORM = 1.0
# Noise multipliers tried by the calibration: below the lowest, any target ε is exceeded.
_CALIBRATION_LOW = 1e-3
_CALIBRATION_GUESS = 1.0


def default_delta(rows: int) -> float:
    """δ = 10^-k with k the smallest integer (at least 1) such that 10^k >= rows (1/n, rounded
    down to a power of ten)."""
    k = 1
    while 10**k < rows:
        k += 1
    return float(10.0**-k)


def sampling_rate(rows: int, batch_size: int | None) -> float:
    """q: the chance each row is in a step's batch (expected batch size / rows, at most 1)."""
    batch = batch_size or rows
    return min(1.0, batch / max(rows, 1))


def dp_event(noise_multiplier: float, rate: float, steps: int) -> Any:
    """The dp-accounting event of `steps` Poisson-sampled Gaussian steps."""
    import dp_accounting

    step = dp_accounting.PoissonSampledDpEvent(
        rate, dp_accounting.GaussianDpEvent(noise_multiplier)
    )
    return dp_accounting.SelfComposedDpEvent(step, steps)


@functools.lru_cache(maxsize=1024)  # a live job's snapshot asks for the same steps often
def epsilon_spent(noise_multiplier: float, rate: float, steps: int, delta: float) -> float:
    """The ε the RDP accountant gives for `steps` steps at (σ, q), at δ (0 before any step)."""
    from dp_accounting import rdp

    if steps <= 0:
        return 0.0
    if noise_multiplier <= 0:
        return math.inf
    accountant = rdp.RdpAccountant()
    accountant.compose(dp_event(noise_multiplier, rate, steps))
    return float(accountant.get_epsilon(delta))


def noise_for_epsilon(target_epsilon: float, rate: float, steps: int, delta: float) -> float:
    """The smallest σ whose `steps` steps at rate q spend at most `target_epsilon` at δ."""
    import dp_accounting
    from dp_accounting import rdp

    return float(
        dp_accounting.calibrate_dp_mechanism(
            rdp.RdpAccountant,
            lambda sigma: dp_event(sigma, rate, steps),
            target_epsilon,
            delta,
            dp_accounting.LowerEndpointAndGuess(_CALIBRATION_LOW, _CALIBRATION_GUESS),
        )
    )


@dataclass(frozen=True)
class DPSettings:
    """What one DP run trains with: σ, C, δ, q, the planned steps and the ε asked for."""

    noise_multiplier: float
    clip_norm: float
    delta: float
    sampling_rate: float
    expected_batch: float
    planned_steps: int
    target_epsilon: float | None

    def epsilon(self, steps: int) -> float:
        """ε spent after `steps` steps."""
        return epsilon_spent(self.noise_multiplier, self.sampling_rate, steps, self.delta)

    def report(self, steps: int) -> dict[str, Any]:
        """The run's privacy block (metrics.json, model card, compliance report)."""
        epsilon = self.epsilon(steps)
        return {
            "dp": True,
            "epsilon": epsilon if math.isfinite(epsilon) else None,
            "delta": self.delta,
            "noise_multiplier": self.noise_multiplier,
            "clip_norm": self.clip_norm,
            "sampling_rate": self.sampling_rate,
            "steps": int(steps),
            "planned_steps": int(self.planned_steps),
            "target_epsilon": self.target_epsilon,
            "accountant": ACCOUNTANT,
        }


def dp_settings(spec: Any, rows: int, steps_per_epoch: int) -> DPSettings | None:
    """The DP settings of a TrainSpec on `rows` training rows; None when DP is off."""
    if not spec.dp:
        return None
    delta = spec.dp_delta if spec.dp_delta is not None else default_delta(rows)
    rate = sampling_rate(rows, spec.batch_size)
    planned = spec.epochs * steps_per_epoch
    if spec.dp_noise_multiplier is not None:
        noise, target = float(spec.dp_noise_multiplier), None
    else:
        target = float(spec.dp_epsilon)
        noise = noise_for_epsilon(target, rate, planned, delta)
    return DPSettings(
        noise_multiplier=noise,
        clip_norm=float(spec.dp_clip_norm),
        delta=float(delta),
        sampling_rate=rate,
        expected_batch=rate * rows,
        planned_steps=planned,
        target_epsilon=target,
    )


def validate_dp_fields(spec: Any) -> None:
    """UserError for a DP field of a TrainSpec out of range (checked whether DP is on or not)."""
    if not isinstance(spec.dp, bool):
        raise UserError("train.error.not_boolean", field="dp", value=spec.dp)
    checks = (
        ("dp_epsilon", spec.dp_epsilon, EPSILON_RANGE, True),
        ("dp_noise_multiplier", spec.dp_noise_multiplier, NOISE_RANGE, True),
        ("dp_delta", spec.dp_delta, DELTA_RANGE, True),
        ("dp_clip_norm", spec.dp_clip_norm, CLIP_RANGE, False),
    )
    for name, value, (low, high), optional in checks:
        if value is None and optional:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not low <= value <= high:
            raise UserError(
                "dp.error.range", field=name, value=value, low=f"{low:g}", high=f"{high:g}"
            )
    if spec.dp and spec.dp_epsilon is None and spec.dp_noise_multiplier is None:
        raise UserError("dp.error.no_budget")


def check_model_for_dp(model_spec: Any) -> None:
    """UserError when the model cannot train privately (batch normalisation mixes rows)."""
    if model_spec.batch_norm:
        raise UserError("dp.error.batch_norm")


def per_example_gradients(
    model: Any, loss_fn: Any, x: Any, y: Any, sample_weight: Any, clip_norm: float
) -> tuple[Any, Any, list[Any], list[Any], Any]:
    """(weighted per-example losses, predictions, per-example gradients clipped to norm <= C,
    the L2 penalty's gradients, the L2 penalty). Gradients have the batch as their first axis."""
    import tensorflow as tf

    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        predictions = model(x, training=True)
        losses = loss_fn.call(y, predictions)
        if sample_weight is not None:
            losses = losses * tf.cast(sample_weight, losses.dtype)
    # (UnconnectedGradients.ZERO fails on Keras 3 variables; a weight no loss reaches gets 0.)
    jacobians = [
        tf.zeros(tf.concat([tf.shape(losses)[:1], tf.shape(v)], 0)) if j is None else j
        for j, v in zip(tape.jacobian(losses, variables), variables, strict=True)
    ]
    penalty_gradients, penalty = _penalty_gradients(model)
    squares = tf.add_n(
        [tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(g)[0], -1]), axis=1) for g in jacobians]
    )
    norms = tf.sqrt(squares)
    factor = tf.minimum(1.0, clip_norm / tf.maximum(norms, 1e-12))
    clipped = [
        g * tf.reshape(factor, tf.concat([[-1], tf.ones(tf.rank(g) - 1, tf.int32)], 0))
        for g in jacobians
    ]
    return losses, predictions, clipped, penalty_gradients, penalty


def _penalty_gradients(model: Any) -> tuple[list[Any], Any]:
    # The L2 penalty depends on the weights only (Keras computes it from them when asked).
    import tensorflow as tf

    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        penalty = tf.add_n(model.losses) if model.losses else tf.constant(0.0)
    gradients = [
        tf.zeros(tf.shape(v)) if g is None else g
        for g, v in zip(tape.gradient(penalty, variables), variables, strict=True)
    ]
    return gradients, penalty


def dense_only(model: Any) -> bool:
    """Whether every layer is Dense or Dropout (ModelDesk's MLPs): then the clipped sum has a
    closed form (`ghost_clipped_sum`)."""
    import keras

    return all(
        isinstance(layer, keras.layers.Dense | keras.layers.Dropout) for layer in model.layers
    )


def ghost_clipped_sum(
    model: Any, loss_fn: Any, x: Any, y: Any, sample_weight: Any, clip_norm: float
) -> tuple[Any, Any, list[Any], Any]:
    """(weighted per-example losses, predictions, the sum of per-example gradients each clipped
    to norm <= C, the per-example norms before clipping) for a model of Dense and Dropout layers.

    A Dense layer z = a·W + b gives row i the kernel gradient a_iᵀ δ_i and the bias gradient δ_i,
    with δ_i = ∂ℓ_i/∂z_i (one backward pass: row i's loss depends on row i only). So
    ‖g_i‖² = Σ_layers (‖a_i‖² + 1)·‖δ_i‖², and the clipped sum is Aᵀ·diag(c)·Δ per layer: the
    same numbers as per-example gradients (`per_example_gradients`), without materialising them
    ("ghost clipping", Goodfellow 2015; Lee & Kifer 2021)."""
    import keras
    import tensorflow as tf

    records = []
    with tf.GradientTape() as tape:
        a = tf.convert_to_tensor(x)
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                z = tf.matmul(a, layer.kernel)
                if layer.use_bias:
                    z = z + layer.bias
                records.append((a, z, layer))
                a = layer.activation(z)
            else:
                a = layer(a, training=True)
        predictions = a
        losses = loss_fn.call(y, predictions)
        if sample_weight is not None:
            losses = losses * tf.cast(sample_weight, losses.dtype)
        total = tf.reduce_sum(losses)
    deltas = tape.gradient(total, [z for _, z, _ in records])
    squares = tf.zeros(tf.shape(losses)[:1])
    for (a_in, _, layer), delta in zip(records, deltas, strict=True):
        delta_sq = tf.reduce_sum(tf.square(delta), axis=1)
        a_sq = tf.reduce_sum(tf.square(a_in), axis=1) + (1.0 if layer.use_bias else 0.0)
        squares += a_sq * delta_sq
    norms = tf.sqrt(squares)
    factor = tf.minimum(1.0, clip_norm / tf.maximum(norms, 1e-12))
    sums: dict[int, Any] = {}
    for (a_in, _, layer), delta in zip(records, deltas, strict=True):
        scaled = delta * factor[:, None]
        sums[id(layer.kernel)] = tf.matmul(a_in, scaled, transpose_a=True)
        if layer.use_bias:
            sums[id(layer.bias)] = tf.reduce_sum(scaled, axis=0)
    gradients = [sums[id(v)] for v in model.trainable_variables]
    return losses, predictions, gradients, norms


class DPGradients:
    """The DP-SGD gradient hook (core.train.loop's `compute_gradients` signature): clipped
    per-example gradients, summed, Gaussian noise σ·C added, divided by the expected batch."""

    def __init__(
        self, clip_norm: float, noise_multiplier: float, expected_batch: float, seed: int
    ) -> None:
        import tensorflow as tf

        self.clip_norm = float(clip_norm)
        self.noise_multiplier = float(noise_multiplier)
        self.expected_batch = float(expected_batch)
        self.seed = int(seed)
        # Counts steps, for the noise seed (stateless normal seeded by (seed + weight, step)).
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __call__(self, model: Any, loss_fn: Any, x: Any, y: Any, sample_weight: Any) -> tuple:
        import tensorflow as tf

        if dense_only(model):
            losses, predictions, sums, _ = ghost_clipped_sum(
                model, loss_fn, x, y, sample_weight, self.clip_norm
            )
            penalty_gradients, penalty = _penalty_gradients(model)
        else:
            losses, predictions, clipped, penalty_gradients, penalty = per_example_gradients(
                model, loss_fn, x, y, sample_weight, self.clip_norm
            )
            sums = [tf.reduce_sum(per_example, axis=0) for per_example in clipped]
        step = self.step.assign_add(1)
        gradients = []
        for index, (total, extra) in enumerate(zip(sums, penalty_gradients, strict=True)):
            if self.noise_multiplier > 0:
                seed = tf.stack([tf.constant(self.seed + index, tf.int64), step])
                total += tf.random.stateless_normal(
                    tf.shape(total), seed=seed, stddev=self.noise_multiplier * self.clip_norm
                )
            gradients.append(total / self.expected_batch + extra)
        loss = tf.reduce_sum(losses) / self.expected_batch + penalty
        return loss, predictions, gradients
