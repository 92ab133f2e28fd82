"""The compiled training loop a `TrainingJob` runs: many batches per call, over tensors in memory.

Keras' `model.fit` spends most of an epoch on a small table in its own machinery (iterators,
callbacks, a separate `evaluate`), not in arithmetic. Here one `tf.function`, traced once per
job, runs a block of batches per call: it gathers each batch from an epoch's permutation of the
rows, takes the gradients, applies them with the Keras optimizer, and returns one loss and one
metric sum per batch. The model, optimizer, losses and the saved `.keras` file are plain Keras.

- **Order.** Each epoch's order is a stateless permutation seeded by (shuffle seed, epoch), so
  the same seed gives the same batches in any thread, whatever `tf.random.set_seed` says
  elsewhere in the process.
- **Blocks.** The caller picks how many batches a call runs (`TrainingJob` aims at about
  `BLOCK_SECONDS` per call, a whole epoch on small tables, so Stop lands quickly and progress
  updates often). The epoch's numbers are summed in numpy in batch order, so the grouping, which
  depends on timing, never changes the history.
- **Validation** loss and metric come from one more call at the end of an epoch (training
  flags off: Dropout off, BatchNormalization's moving statistics used).
- **The gradient hook.** `compute_gradients(model, loss_fn, x, y, sample_weight)` is the one
  function that turns a batch into `(loss, predictions, gradients)`; the loss includes the L2
  penalty, as Keras reports it. Differentially private SGD (core.train.privacy) passes its own
  function with the same signature as `TrainingJob(..., gradients=...)` (per-example gradients,
  clipping, noise); it runs inside the compiled loop, so it must be traceable TensorFlow.
- **Target scale.** A regression target is standardised on the training rows
  (`TargetScale`); the network trains on z = (y - mean) / std and `fold_target_scale` folds the
  scale into the output Dense layer at the end (W' = std·W, b' = std·b + mean), so the saved model
  predicts in the target's own units and nothing downstream changes. Losses and the MAE curve are
  reported in the target's units (MSE × std², MAE × std); Huber, which is not scale-free, is
  reported on the standardised scale.
- **Output bias** starts at the training targets' prior (`initial_output_bias`): 0 on the
  standardised scale for regression (the mean), the log prior odds for binary, log class shares
  for multiclass, so epoch 1 starts at the majority/mean baseline instead of below it.

TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

# A call of the compiled loop aims at about this long, so Stop lands within ~100 ms.
BLOCK_SECONDS = 0.05
# A block grows at most this many times from one call to the next (the first includes tracing).
BLOCK_GROWTH = 4
# Smallest class share used for the initial output bias (a class with no training rows).
MIN_PRIOR = 1e-3

GradientFn = Callable[[Any, Any, Any, Any, Any], tuple[Any, Any, Any]]

_LOSS_CLASSES: dict[str, str] = {
    "mse": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "huber": "Huber",
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
}


def compute_gradients(model: Any, loss_fn: Any, x: Any, y: Any, sample_weight: Any) -> tuple:
    """The default gradient hook: (loss with the L2 penalty, predictions, gradients)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        predictions = model(x, training=True)
        loss = loss_fn(y, predictions, sample_weight=sample_weight)
        if model.losses:
            loss = loss + tf.add_n(model.losses)
    return loss, predictions, tape.gradient(loss, model.trainable_variables)


def ensemble_gradients(heads: Any) -> GradientFn:
    """The gradient hook of a TabM model: each head trains on its own loss.

    `heads` is the model's heads as a model sharing its layers (`core.train.models.heads_model`),
    returning (rows, k, outputs). The targets (and row weights) are repeated for every head, so
    the Keras loss's mean over rows and heads is the mean of the k heads' losses; the predictions
    the loop's metric sees are the heads' mean, what the model itself predicts.
    """
    import tensorflow as tf

    def hook(model: Any, loss_fn: Any, x: Any, y: Any, sample_weight: Any) -> tuple:
        with tf.GradientTape() as tape:
            outputs = heads(x, training=True)
            k = tf.shape(outputs)[1]
            targets = tf.repeat(tf.expand_dims(y, 1), k, axis=1)
            weight = (
                None
                if sample_weight is None
                else tf.repeat(tf.expand_dims(sample_weight, 1), k, axis=1)
            )
            loss = loss_fn(targets, outputs, sample_weight=weight)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        return loss, tf.reduce_mean(outputs, axis=1), gradients

    return hook


def default_gradients(model: Any) -> GradientFn:
    """The gradient hook a model trains with unless a job brings its own (DP-SGD)."""
    from core.train.models import heads_model, is_ensemble

    return ensemble_gradients(heads_model(model)) if is_ensemble(model) else compute_gradients


@dataclass(frozen=True)
class TargetScale:
    """A regression target's mean and standard deviation on the training rows."""

    mean: float
    std: float

    @classmethod
    def fit(cls, y: np.ndarray) -> TargetScale:
        """The scale of y; a constant (or non-finite spread) target keeps std 1."""
        values = np.asarray(y, dtype=np.float64)
        mean = float(values.mean())
        std = float(values.std())
        if not math.isfinite(std) or std <= 0:
            std = 1.0
        return cls(mean, std)

    def standardise(self, y: np.ndarray) -> np.ndarray:
        """(y - mean) / std as float32."""
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready data."""
        return {"mean": self.mean, "std": self.std}


def target_scale_for(task: str, y: np.ndarray) -> TargetScale | None:
    """The scale a regression target trains on; None for classifiers."""
    return TargetScale.fit(y) if task == "regression" else None


def loss_factor(loss: str, scale: TargetScale | None) -> float:
    """What turns a loss on the standardised scale into the target's units (1 if it can't)."""
    if scale is None:
        return 1.0
    return {"mse": scale.std**2, "mae": scale.std}.get(loss, 1.0)


def initial_output_bias(
    task: str, y: np.ndarray, n_classes: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """The output bias that predicts the training prior (weighted by class weights if given)."""
    if task == "regression":
        return np.zeros(1, dtype=np.float32)  # the mean, on the standardised scale
    codes = np.asarray(y, dtype=np.int64)
    counts = np.bincount(
        codes, weights=None if weights is None else np.asarray(weights), minlength=n_classes
    )
    shares = np.clip(counts / max(counts.sum(), 1e-12), MIN_PRIOR, 1 - MIN_PRIOR)
    if task == "binary":
        return np.array([math.log(shares[1] / shares[0])], dtype=np.float32)
    return np.log(shares / shares.sum()).astype(np.float32)


def set_output_bias(model: Any, bias: np.ndarray) -> None:
    """Overwrite the output layer's bias (the model's config keeps its zeros initializer); a
    TabM model's heads each get it."""
    variable = model.get_layer("output").bias
    variable.assign(np.broadcast_to(np.asarray(bias, dtype=np.float32), tuple(variable.shape)))


def fold_target_scale(model: Any, scale: TargetScale) -> None:
    """Fold the target scale into the output layer, so the model predicts in target units."""
    layer = model.get_layer("output")
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    layer.set_weights(
        [
            (kernel * scale.std).astype(np.float32),
            (bias * scale.std + scale.mean).astype(np.float32),
        ]
    )


def output_parameters(model: Any, scale: TargetScale | None) -> dict[str, float]:
    """The output layer's weight(s) and bias ("w", "b"; "w1", ... when several), in target units."""
    kernel, bias = (np.ravel(w).astype(np.float64) for w in model.get_layer("output").get_weights())
    if scale is not None:
        kernel, bias = kernel * scale.std, bias * scale.std + scale.mean
    names = ["w"] if kernel.size == 1 else [f"w{i}" for i in range(1, kernel.size + 1)]
    values = dict(zip(names, map(float, kernel), strict=True))
    if bias.size == 1:
        values["b"] = float(bias[0])
    else:
        values.update({f"b{i}": float(b) for i, b in enumerate(bias, start=1)})
    return values


def loss_object(name: str, *, per_row: bool = False) -> keras.losses.Loss:
    """The Keras loss for a loss name: the mean over the batch with sample weights applied, or
    (per_row) one value a row, for a loop that averages over a batch split across workers."""
    import keras

    loss_class = getattr(keras.losses, _LOSS_CLASSES[name])
    return loss_class(reduction=None) if per_row else loss_class()


def fit_targets(y: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """The array the loss compares with the output: one-hot rows for multiclass, else a column."""
    if task == "multiclass":
        return np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=np.int64)]
    return np.asarray(y, dtype=np.float32).reshape(-1, 1)


class CompiledLoop:
    """One job's compiled training block and validation pass over tensors in memory."""

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loss: str,
        task: str,
        X: np.ndarray,
        targets: np.ndarray,
        sample_weight: np.ndarray | None,
        batch_size: int,
        shuffle_seed: int,
        X_val: np.ndarray | None = None,
        val_targets: np.ndarray | None = None,
        gradients: GradientFn | None = None,
        poisson: tuple[float, int] | None = None,
        after_step: Callable[[], Any] | None = None,
    ) -> None:
        import tensorflow as tf

        self.model = model
        self.optimizer = optimizer
        self.task = task
        self.rows = len(X)
        self.batch_size = batch_size
        self.steps = max(1, math.ceil(self.rows / batch_size))
        self.batch_sizes = np.minimum(
            batch_size, self.rows - batch_size * np.arange(self.steps)
        ).astype(np.float64)
        self.shuffle_seed = shuffle_seed
        self.has_validation = X_val is not None and val_targets is not None and len(X_val) > 0
        self.val_rows = len(X_val) if self.has_validation and X_val is not None else 0
        self._loss_fn = loss_object(loss)
        self._gradients: GradientFn = gradients or default_gradients(model)
        # Traced after every optimizer step (magnitude pruning re-applies its masks there).
        self._after_step = after_step
        self._X = tf.constant(X, tf.float32)
        self._y = tf.constant(targets, tf.float32)
        self._w = None if sample_weight is None else tf.constant(sample_weight, tf.float32)
        self._X_val = tf.constant(X_val, tf.float32) if self.has_validation else None
        self._y_val = tf.constant(val_targets, tf.float32) if self.has_validation else None
        optimizer.build(model.trainable_variables)
        self._block = tf.function(
            self._block_fn,
            input_signature=[
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32),
            ],
        )
        self._validate = tf.function(self._validate_fn) if self.has_validation else None
        # DP-SGD (core.train.privacy): each step samples rows with probability q, seeded by
        # (sampling seed, step); the default path above is untouched.
        self._poisson = poisson
        if poisson is not None:
            self._block = tf.function(
                self._poisson_block_fn,
                input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int32)],
            )

    def order(self, epoch: int) -> Any:
        """The epoch's permutation of the training rows (stateless: seed and epoch only)."""
        return epoch_order(self.rows, self.shuffle_seed, epoch)

    def run(
        self, order: Any, first: int, count: int, epoch: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Train batches first .. first + count - 1 of an order: (losses, metric sums) per batch.

        With Poisson sampling (DP-SGD) the order is not used: step epoch·steps + first + i
        samples its own rows."""
        import tensorflow as tf

        if self._poisson is not None:
            step = epoch * self.steps + first
            losses, metric_sums = self._block(
                tf.constant(step, tf.int64), tf.constant(count, tf.int32)
            )
        else:
            losses, metric_sums = self._block(
                order, tf.constant(first, tf.int32), tf.constant(count, tf.int32)
            )
        return losses.numpy().astype(np.float64), metric_sums.numpy().astype(np.float64)

    def epoch_means(
        self, losses: list[np.ndarray], metric_sums: list[np.ndarray]
    ) -> tuple[float, float]:
        """An epoch's loss (batch losses weighted by batch size, as Keras reports) and metric."""
        per_batch = np.concatenate(losses)
        sizes = self.batch_sizes[: len(per_batch)]
        loss = float(np.sum(per_batch * sizes) / np.sum(sizes))
        metric = float(np.sum(np.concatenate(metric_sums)) / np.sum(sizes))
        return loss, metric

    def validate(self) -> tuple[float, float]:
        """Validation loss (with the L2 penalty, as Keras reports it) and metric mean."""
        if self._validate is None:
            raise RuntimeError("no validation rows")
        loss, metric_sum = self._validate()
        return float(loss), float(metric_sum) / self.val_rows

    # --- traced -------------------------------------------------------------------------------

    def _block_fn(self, order: Any, first: Any, count: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        variables = self.model.trainable_variables
        losses = tf.TensorArray(tf.float32, size=count)
        metric_sums = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            start = (first + i) * self.batch_size
            rows = order[start : tf.minimum(start + self.batch_size, self.rows)]
            x = tf.gather(self._X, rows)
            y = tf.gather(self._y, rows)
            weight = None if self._w is None else tf.gather(self._w, rows)
            loss, predictions, gradients = self._gradients(self.model, self._loss_fn, x, y, weight)
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
            if self._after_step is not None:
                self._after_step()
            losses = losses.write(i, loss)
            metric_sums = metric_sums.write(i, self._metric_sum(y, predictions))
        return losses.stack(), metric_sums.stack()

    def _poisson_block_fn(self, first_step: Any, count: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        assert self._poisson is not None
        rate, seed = self._poisson
        variables = self.model.trainable_variables
        # The hook has no tensor-dependent Python control flow: traced as written, not converted
        # by autograph (whose parsing of source, in this thread, can collide with a page
        # script's parsing in another: CPython 3.11 "AST constructor recursion depth mismatch").
        hook = tf.autograph.experimental.do_not_convert(self._gradients)
        losses = tf.TensorArray(tf.float32, size=count)
        metric_sums = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            step = first_step + tf.cast(i, tf.int64)
            draw = tf.random.stateless_uniform(
                [self.rows], seed=tf.stack([tf.constant(seed, tf.int64), step])
            )
            picked = tf.cast(tf.where(draw < rate)[:, 0], tf.int32)
            # One padding row of weight 0, so a step never has an empty batch.
            rows = tf.concat([picked, tf.zeros([1], tf.int32)], 0)
            mask = tf.concat([tf.ones(tf.shape(picked), tf.float32), tf.zeros([1])], 0)
            x = tf.gather(self._X, rows)
            y = tf.gather(self._y, rows)
            weight = mask if self._w is None else mask * tf.gather(self._w, rows)
            loss, predictions, gradients = hook(self.model, self._loss_fn, x, y, weight)
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
            if self._after_step is not None:
                self._after_step()
            losses = losses.write(i, loss)
            metric_sums = metric_sums.write(i, self._metric_sum(y, predictions, mask))
        return losses.stack(), metric_sums.stack()

    def _validate_fn(self) -> tuple[Any, Any]:
        import tensorflow as tf

        predictions = self.model(self._X_val, training=False)
        loss = self._loss_fn(self._y_val, predictions)
        if self.model.losses:
            loss = loss + tf.add_n(self.model.losses)
        return loss, self._metric_sum(self._y_val, predictions)

    def _metric_sum(self, y: Any, predictions: Any, mask: Any = None) -> Any:
        return metric_sum(self.task, y, predictions, mask)


def metric_sum(task: str, y: Any, predictions: Any, mask: Any = None) -> Any:
    """Sum over rows of the main metric: right answers (accuracy) or absolute errors (MAE);
    rows with mask 0 (DP-SGD's padding) count for nothing. Traceable TensorFlow."""
    import tensorflow as tf

    if task == "regression":
        values = tf.abs(predictions - y)
    elif task == "binary":
        values = tf.cast(tf.equal(tf.cast(predictions > 0.5, tf.float32), y), tf.float32)
    else:
        hits = tf.equal(tf.argmax(predictions, axis=-1), tf.argmax(y, axis=-1))
        values = tf.cast(hits, tf.float32)
    if mask is not None:
        values = tf.reshape(values, [tf.shape(mask)[0], -1]) * mask[:, None]
    return tf.reduce_sum(values)


def epoch_order(rows: int, seed: int, epoch: int) -> Any:
    """Epoch `epoch`'s permutation of `rows` rows (0-based epoch), from the shuffle seed alone:
    the same in any thread or worker process, whatever `tf.random.set_seed` says elsewhere."""
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(rows, dtype=tf.int32), seed=tf.constant([seed, epoch], tf.int64)
    )


def next_block(count: int, seconds: float, remaining: int) -> int:
    """How many batches the next call runs: about BLOCK_SECONDS' worth, growing gradually."""
    per_batch = seconds / max(count, 1)
    wanted = int(BLOCK_SECONDS / per_batch) if per_batch > 0 else remaining
    return max(1, min(wanted, BLOCK_GROWTH * count, remaining))
