"""Magnitude pruning: fine-tune a trained model while the smallest weights of every Dense kernel
are set to exactly zero, up to a target sparsity, on a polynomial schedule (Zhu & Gupta 2017,
as TensorFlow Model Optimization's PolynomialDecay: s_t = s_f·(1 - (1 - t/T)^3)).

It runs in the same compiled loop as training (core.train.loop.CompiledLoop): after every
optimizer step a traced hook recomputes the masks while the schedule is still rising (the
|w| ranks of each kernel) and multiplies every kernel by its mask, so a pruned weight stays zero
through the rest of fine-tuning whatever the optimizer's momentum says. The last third of the
steps keeps the final masks fixed and lets the remaining weights recover. Biases, batch-norm and
the output bias are left dense: they are a tiny share of the parameters.

The result is a new Run (the original is untouched) whose kernels hold at least the target share
of exact zeros: ceil(sparsity · size) per kernel. TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core.i18n import UserError
from core.train.engine import Run, class_weights_for, enable_determinism, make_optimizer
from core.train.loop import (
    CompiledLoop,
    TargetScale,
    fit_targets,
    fold_target_scale,
    target_scale_for,
)
from core.train.models import build_model, derive_seed, resolved_loss

if TYPE_CHECKING:
    from core.prep.pipeline import Prepared

DEFAULT_EPOCHS = 12
POWER = 3  # the schedule's exponent: prune fast while the weights are redundant, then slowly
PRUNE_SHARE = 2 / 3  # of the fine-tuning steps during which sparsity rises; then masks are fixed
MAX_SPARSITY = 0.99
# Fewest optimizer steps a fine-tune takes (more epochs on a small table): pruned too quickly,
# the remaining weights have no time to take over and the metric drops.
MIN_STEPS = 400


@dataclass(frozen=True)
class PruneSpec:
    """Target sparsity (share of each Dense kernel's weights set to zero) and fine-tune epochs."""

    sparsity: float
    epochs: int = DEFAULT_EPOCHS

    def __post_init__(self) -> None:
        ok = isinstance(self.sparsity, int | float) and not isinstance(self.sparsity, bool)
        if not ok or not 0 < self.sparsity <= MAX_SPARSITY:
            raise UserError("pruning.error.sparsity", value=self.sparsity, max=MAX_SPARSITY)
        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 1:
            raise UserError("pruning.error.epochs", value=self.epochs)


def sparsity_at(step: Any, total: Any, target: float) -> Any:
    """The schedule: target · (1 - (1 - step/total)^3), reaching `target` at `total` (traced)."""
    import tensorflow as tf

    progress = tf.minimum(tf.cast(step, tf.float32) / tf.cast(total, tf.float32), 1.0)
    return target * (1.0 - tf.pow(1.0 - progress, POWER))


class MagnitudePruner:
    """Masks for every Dense kernel of `model` and the hook that keeps them applied."""

    def __init__(self, model: Any, target: float, prune_steps: int) -> None:
        import keras
        import tensorflow as tf

        self.target = float(target)
        self.prune_steps = max(1, int(prune_steps))
        self.kernels = [
            layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)
        ]
        self.masks = [tf.Variable(tf.ones_like(k), trainable=False) for k in self.kernels]
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)

    def after_step(self) -> None:
        """Traced after each optimizer step: update the masks while the schedule rises, then
        zero the pruned weights."""
        import tensorflow as tf

        self.step.assign_add(1)
        share = sparsity_at(self.step, self.prune_steps, self.target)
        rising = self.step <= self.prune_steps
        for kernel, mask in zip(self.kernels, self.masks, strict=True):
            mask.assign(
                tf.cond(rising, lambda k=kernel, m=mask: _mask(k, m, share), lambda m=mask: m)
            )
            kernel.assign(kernel * mask)


def _mask(kernel: Any, mask: Any, share: Any) -> Any:
    """Zeros at the ceil(share · size) smallest |w| (already-pruned weights are the smallest)."""
    import tensorflow as tf

    flat = tf.reshape(tf.abs(kernel * mask), [-1])
    size = tf.size(flat)
    count = tf.cast(tf.math.ceil(share * tf.cast(size, tf.float32) - 1e-6), tf.int32)
    count = tf.clip_by_value(count, 0, size)
    smallest = tf.argsort(flat, stable=True)[:count]
    ones = tf.ones_like(flat)
    zeros = tf.zeros([count], flat.dtype)
    return tf.reshape(tf.tensor_scatter_nd_update(ones, smallest[:, None], zeros), tf.shape(kernel))


def prune_run(prepared: Prepared, run: Run, spec: PruneSpec) -> Run:
    """A copy of `run` fine-tuned with magnitude pruning to `spec.sparsity` (a new Run)."""
    train = run.train_spec
    task = run.task
    enable_determinism()
    source = run.build_model()
    model = build_model(run.model_spec, run.n_features, task, run.n_classes, train.seed)
    model.set_weights(source.get_weights())
    scale = target_scale_for(task, prepared.y_train)
    if scale is not None:  # fine-tune on the standardised target, as training did
        fold_target_scale(model, TargetScale(-scale.mean / scale.std, 1.0 / scale.std))

    def targets(y: np.ndarray) -> np.ndarray:
        return fit_targets(y if scale is None else scale.standardise(y), task, run.n_classes)

    row_weights = None
    if train.class_weights and task != "regression":
        weights = class_weights_for(prepared.y_train, run.n_classes)
        row_weights = np.asarray([weights[int(c)] for c in prepared.y_train], dtype=np.float32)
    batch = train.batch_size or len(prepared.X_train)
    steps_per_epoch = max(1, math.ceil(len(prepared.X_train) / batch))
    epochs = max(spec.epochs, math.ceil(MIN_STEPS / steps_per_epoch))
    total = steps_per_epoch * epochs
    pruner = MagnitudePruner(model, spec.sparsity, round(total * PRUNE_SHARE))
    optimizer = make_optimizer(replace(train, schedule="constant", dp=False), steps_per_epoch)
    loop = CompiledLoop(
        model,
        optimizer,
        resolved_loss(run.model_spec, task),
        task,
        prepared.X_train,
        targets(prepared.y_train),
        row_weights,
        batch,
        derive_seed(train.seed, "prune-shuffle"),
        after_step=pruner.after_step,
    )
    for epoch in range(epochs):
        order = loop.order(epoch)
        losses, _metrics = loop.run(order, 0, loop.steps, epoch)
        if not np.isfinite(losses).all():
            raise UserError("pruning.error.diverged", sparsity=spec.sparsity)
    if scale is not None:
        fold_target_scale(model, scale)
    for kernel, mask in zip(pruner.kernels, pruner.masks, strict=True):
        kernel.assign(kernel * mask)  # folding the scale keeps zeros zero; this makes it certain
    return replace(
        run,
        run_id=uuid.uuid4().hex,
        name=f"{run.name} · pruned {spec.sparsity:.0%}",
        model=model,
        weights=model.get_weights(),
        metrics={},
    )


def kernel_sparsity(model: Any) -> dict[str, float]:
    """Each Dense layer's share of kernel weights that are exactly zero."""
    import keras

    return {
        layer.name: float(np.mean(np.asarray(layer.kernel) == 0))
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    }
