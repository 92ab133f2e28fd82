"""Model specs and the Keras models built from them: linear / logistic and MLPs for tabular data.

TensorFlow is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from core.i18n import Message, UserError

if TYPE_CHECKING:
    import keras

TASKS: tuple[str, ...] = ("regression", "binary", "multiclass")
KINDS: tuple[str, ...] = ("linear", "mlp", "tabm")
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid", "gelu", "selu")
MAX_HIDDEN_LAYERS = 6
MAX_UNITS = 1024
MAX_DROPOUT = 0.9
MAX_L2 = 1.0
DEFAULT_ENSEMBLE_SIZE = 32  # TabM's k (Gorishniy et al., ICLR 2025)
MAX_ENSEMBLE_SIZE = 64
# The layer that averages a TabM model's heads; its input is the heads' own predictions.
ENSEMBLE_MEAN_LAYER = "ensemble_mean"

# The losses that fit each task; the first one is the task's default.
LOSSES: dict[str, tuple[str, ...]] = {
    "regression": ("mse", "mae", "huber"),
    "binary": ("binary_crossentropy", "binary_focal_crossentropy"),
    "multiclass": ("categorical_crossentropy", "categorical_focal_crossentropy"),
}
ALL_LOSSES: tuple[str, ...] = tuple(loss for losses in LOSSES.values() for loss in losses)
# The curve drawn next to the loss: what a person judges the model by.
MAIN_METRICS: dict[str, str] = {"regression": "mae", "binary": "accuracy", "multiclass": "accuracy"}
LAYER_TABLE_COLUMNS: tuple[str, ...] = ("layer", "type", "output_shape", "params")


@dataclass(frozen=True)
class ModelSpec:
    """What to build: linear / logistic (no hidden layer), an MLP, or a TabM ensemble of MLPs,
    and the loss to train on.

    `ensemble_size` (k) and `adapters` shape a "tabm" model only: k heads share one MLP; with
    adapters each head has its own BatchEnsemble multipliers (r before, s after every shared
    hidden layer, and its own biases), and its own output layer; each head trains on its own
    loss and the model predicts the heads' mean.
    """

    kind: str = "mlp"
    hidden_layers: tuple[int, ...] = (32, 16)
    activation: str = "relu"
    dropout: float = 0.0
    l2: float = 0.0
    batch_norm: bool = False
    loss: str | None = None
    ensemble_size: int = DEFAULT_ENSEMBLE_SIZE
    adapters: bool = True

    def __post_init__(self) -> None:
        # JSON gives lists; a spec is hashable and comparable only with a tuple.
        if not isinstance(self.hidden_layers, list | tuple):
            raise UserError("train.error.hidden_layers_list", value=self.hidden_layers)
        object.__setattr__(self, "hidden_layers", tuple(self.hidden_layers))
        _validate_model_spec(self)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data."""
        data = asdict(self)
        data["hidden_layers"] = list(self.hidden_layers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """A spec from `to_dict` output (or a config file); unknown fields are an error."""
        return cls(**known_fields(cls, data, "model"))


def default_loss(task: str) -> str:
    """The loss a task trains on unless the person picks another."""
    _check_task(task)
    return LOSSES[task][0]


def allowed_losses(task: str) -> tuple[str, ...]:
    """Losses that can train a model for `task`: its own, plus regression losses on classifiers."""
    _check_task(task)
    if task == "regression":
        return LOSSES["regression"]
    # Allowed so people can see for themselves why it trains badly (loss_warnings says why).
    return LOSSES[task] + LOSSES["regression"]


def resolved_loss(spec: ModelSpec, task: str) -> str:
    """The loss the model trains on: the spec's choice, or the task's default."""
    loss = spec.loss or default_loss(task)
    if loss not in allowed_losses(task):
        raise UserError(
            "train.error.loss_for_task", loss=loss, allowed=", ".join(allowed_losses(task))
        )
    return loss


def loss_warnings(spec: ModelSpec, task: str) -> list[Message]:
    """Warnings for a loss that trains but fits the task badly (e.g. MSE on a classifier)."""
    loss = resolved_loss(spec, task)
    if task != "regression" and loss in LOSSES["regression"]:
        return [Message(f"train.warning.{loss}_classifier")]
    return []


def main_metric(task: str) -> str:
    """The Keras metric name drawn next to the loss: accuracy for classifiers, MAE otherwise."""
    _check_task(task)
    return MAIN_METRICS[task]


def first_model_spec() -> ModelSpec:
    """The classic first model: one Dense unit, no hidden layer, trained on MSE."""
    return ModelSpec(kind="linear", hidden_layers=(), loss="mse")


def derive_seed(seed: int, purpose: str) -> int:
    """A stable 31-bit seed for one random thing (an initializer, a Dropout, the shuffle)."""
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1)


def build_model(
    spec: ModelSpec, n_features: int, task: str, n_classes: int, seed: int
) -> keras.Model:
    """An uncompiled Keras model for the spec; every random part is seeded from `seed`."""
    import keras

    _check_task(task)
    _check_classes(task, n_classes)
    if n_features < 1:
        raise UserError("train.error.no_features")
    resolved_loss(spec, task)  # a loss that cannot fit the task fails before any building

    # Seeds go to each initializer and Dropout: process-wide seeding is not safe with
    # concurrent jobs (docs/ARCHITECTURE.md, "Background jobs").
    if spec.kind == "tabm":
        return _build_tabm(spec, n_features, task, n_classes, seed)
    regularizer = keras.regularizers.L2(spec.l2) if spec.l2 > 0 else None
    layers: list[Any] = [keras.Input(shape=(n_features,), name="features")]
    hidden = spec.hidden_layers if spec.kind == "mlp" else ()
    for index, units in enumerate(hidden, start=1):
        layers.append(
            keras.layers.Dense(
                units,
                activation=spec.activation,
                kernel_initializer=_initializer(
                    spec.activation, derive_seed(seed, f"dense_{index}")
                ),
                kernel_regularizer=regularizer,
                name=f"hidden_{index}",
            )
        )
        layers.extend(_between_layers(spec, index, seed))
    units, activation = output_layer(task, n_classes)
    layers.append(
        keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=derive_seed(seed, "output")),
            kernel_regularizer=regularizer,
            name="output",
        )
    )
    return keras.Sequential(layers, name=spec.kind)


def _between_layers(spec: ModelSpec, index: int, seed: int) -> list[Any]:
    """Batch normalisation and dropout after hidden layer `index`, as the spec asks."""
    import keras

    layers: list[Any] = []
    if spec.batch_norm:
        layers.append(keras.layers.BatchNormalization(name=f"batch_norm_{index}"))
    if spec.dropout > 0:
        layers.append(
            keras.layers.Dropout(
                spec.dropout, seed=derive_seed(seed, f"dropout_{index}"), name=f"dropout_{index}"
            )
        )
    return layers


def _build_tabm(
    spec: ModelSpec, n_features: int, task: str, n_classes: int, seed: int
) -> keras.Model:
    """A TabM model from Keras' own layers, so it saves, loads with safe_mode and converts to
    TFLite like any other model: RepeatVector makes k copies of each row; per hidden layer,
    with adapters, an elementwise EinsumDense multiplies each head's copy by its r, a shared
    Dense (no bias) transforms all heads, and an elementwise EinsumDense multiplies by each
    head's s and adds its bias (BatchEnsemble: ((x * r) W) * s + b); the output EinsumDense
    holds one output layer per head; GlobalAveragePooling1D averages the heads' predictions.

    Without adapters and with k = 1 the layers compute exactly the plain MLP's function with
    the same initial weights (the output kernel's scale is Glorot's for one head's shape).
    """
    import keras

    k = spec.ensemble_size
    regularizer = keras.regularizers.L2(spec.l2) if spec.l2 > 0 else None
    layers: list[Any] = [
        keras.Input(shape=(n_features,), name="features"),
        keras.layers.RepeatVector(k, name="ensemble_copies"),
    ]
    width = n_features
    for index, units in enumerate(spec.hidden_layers, start=1):
        initializer = _initializer(spec.activation, derive_seed(seed, f"dense_{index}"))
        if spec.adapters:
            layers += [
                keras.layers.EinsumDense(
                    "bki,ki->bki",
                    output_shape=(k, width),
                    kernel_initializer="ones",
                    name=f"adapter_r_{index}",
                ),
                keras.layers.Dense(
                    units,
                    use_bias=False,
                    kernel_initializer=initializer,
                    kernel_regularizer=regularizer,
                    name=f"hidden_{index}",
                ),
                keras.layers.EinsumDense(
                    "bko,ko->bko",
                    output_shape=(k, units),
                    bias_axes="ko",
                    activation=spec.activation,
                    kernel_initializer="ones",
                    name=f"adapter_s_{index}",
                ),
            ]
        else:
            layers.append(
                keras.layers.Dense(
                    units,
                    activation=spec.activation,
                    kernel_initializer=initializer,
                    kernel_regularizer=regularizer,
                    name=f"hidden_{index}",
                )
            )
        layers.extend(_between_layers(spec, index, seed))
        width = units
    units, activation = output_layer(task, n_classes)
    layers += [
        keras.layers.EinsumDense(
            "bki,kio->bko",
            output_shape=(k, units),
            bias_axes="ko",
            activation=activation,
            # Glorot's limit for one head's (width, units) kernel: Keras counts the k heads into
            # both fans of a 3-d kernel, which scale = k undoes.
            kernel_initializer=keras.initializers.VarianceScaling(
                float(k), "fan_avg", "uniform", seed=derive_seed(seed, "output")
            ),
            kernel_regularizer=regularizer,
            name="output",
        ),
        keras.layers.GlobalAveragePooling1D(name=ENSEMBLE_MEAN_LAYER),
    ]
    model = keras.Sequential(layers, name="tabm")
    if spec.adapters and spec.hidden_layers:
        # The copies entering the first layer are identical; TabM starts each head's first r at
        # random signs so the heads differ from the first step (the later ones start at 1).
        first = model.get_layer("adapter_r_1")
        signs = np.random.default_rng(derive_seed(seed, "adapter_signs")).choice(
            np.array([-1.0, 1.0], dtype=np.float32), size=(k, n_features)
        )
        first.kernel.assign(signs)
    return model


def is_ensemble(model: keras.Model) -> bool:
    """Whether the model averages several heads (a TabM model)."""
    return any(layer.name == ENSEMBLE_MEAN_LAYER for layer in model.layers)


def heads_model(model: keras.Model) -> keras.Model:
    """A TabM model's heads as a model sharing its layers: (rows, k, outputs), before the mean."""
    import keras

    return keras.Model(model.inputs[0], model.get_layer("output").output, name="tabm_heads")


def head_outputs(model: keras.Model, X: Any) -> Any:
    """Each head's predictions for rows X: float64 numpy of shape (rows, k, outputs)."""
    return model_outputs(heads_model(model), X)


PREDICT_BATCH = 4096  # rows per forward pass when scoring a table


def model_outputs(model: keras.Model, X: Any, batch: int = PREDICT_BATCH) -> Any:
    """The model's outputs for rows X (float64 numpy, one row per row of X), in blocks of
    `batch` rows, each a plain inference call `model(block, training=False)`.

    Not `model.predict`: every call of it builds a tf.data pipeline and may retrace its predict
    function, about 75 ms per call where the arithmetic of a small table takes well under one;
    scoring a finished run called it four times, so collecting one run cost ~0.4 s of mostly
    GIL-held work (bench/workshop_load.py's room of 20 collected twenty at once). The forward
    pass is the same layers in inference mode (dropout off, batch norm's moving statistics).
    """
    X = np.asarray(X, dtype=np.float32)
    blocks = [
        np.asarray(model(X[start : start + batch], training=False), dtype=np.float64)
        for start in range(0, len(X), batch)
    ]
    return np.concatenate(blocks) if blocks else np.empty((0, *model.outputs[0].shape[1:]))


def layer_table(model: keras.Model) -> list[dict[str, Any]]:
    """One row per layer (input first): name, type, output shape and parameter count."""
    rows = [
        {
            "layer": "input",
            "type": "Input",
            "output_shape": _shape_text(model.inputs[0].shape),
            "params": 0,
        }
    ]
    for layer in model.layers:
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output_shape": _shape_text(layer.output.shape),
                "params": int(layer.count_params()),
            }
        )
    return rows


def parameter_count(model: keras.Model) -> dict[str, int]:
    """Parameters in total, trainable and not (BatchNormalization's moving statistics)."""
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    frozen = sum(math.prod(weight.shape) for weight in model.non_trainable_weights)
    return {
        "total": int(trainable + frozen),
        "trainable": int(trainable),
        "non_trainable": int(frozen),
    }


def work_per_epoch(
    model: keras.Model, n_rows: int, batch_size: int | None = None
) -> dict[str, int]:
    """Approximate multiply-adds per epoch (forward + backward) and batches per epoch."""
    import keras

    forward = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            # A Dense layer applied to each of a TabM model's k copies works k times.
            copies = math.prod(layer.input.shape[1:-1]) if len(layer.input.shape) > 2 else 1
            forward += math.prod(layer.kernel.shape) * int(copies)
        elif isinstance(layer, keras.layers.EinsumDense):
            forward += math.prod(layer.kernel.shape)
    return _work(forward, n_rows, batch_size)


def _work(forward: int, n_rows: int, batch_size: int | None) -> dict[str, int]:
    # Backward costs about twice the forward pass: one product for the gradient of the
    # weights, one for the gradient flowing to the layer below.
    per_row = 3 * forward
    batches = 1 if not batch_size else math.ceil(n_rows / batch_size)
    return {
        "forward_per_row": int(forward),
        "multiply_adds_per_epoch": int(per_row * n_rows),
        "batches_per_epoch": int(max(batches, 1)),
    }


DESCRIBE_CACHE_SIZE = 32
_DESCRIBE_LOCK = threading.Lock()


def describe_architecture(
    spec: ModelSpec,
    n_features: int,
    task: str,
    n_classes: int,
    n_rows: int,
    batch_size: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
    """layer_table, parameter_count and work_per_epoch of the model the spec builds.

    The Keras model is built once per architecture for the whole process, one build at a time:
    a build holds the GIL for a fraction of a second, and a room of 20 opening Train together
    built 20 identical models (bench/workshop_load.py). The key is the architecture alone (the
    spec and the model's input and output sizes), never a value from anyone's data, so what is
    shared across sessions is a layer table (docs/ARCHITECTURE.md, "Session state").
    """
    with _DESCRIBE_LOCK:  # one build at a time: callers of the same architecture wait for it
        rows, params, forward = _described(spec, n_features, task, n_classes)
    return [dict(row) for row in rows], dict(params), _work(forward, n_rows, batch_size)


@functools.lru_cache(maxsize=DESCRIBE_CACHE_SIZE)
def _described(spec: ModelSpec, n_features: int, task: str, n_classes: int) -> tuple:
    model = build_model(spec, n_features, task, n_classes, seed=0)
    forward = work_per_epoch(model, 1)["forward_per_row"]
    return tuple(layer_table(model)), parameter_count(model), forward


def known_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    """The fields of a spec dataclass from JSON data; not an object or unknown names are errors."""
    if not isinstance(data, dict):
        raise UserError(f"train.error.{what}_spec_not_object")
    names = {field.name for field in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"train.error.{what}_unknown_fields", fields=", ".join(unknown))
    return dict(data)


# --- helpers -----------------------------------------------------------------------------------


def _validate_model_spec(spec: ModelSpec) -> None:
    if spec.kind not in KINDS:
        raise UserError("train.error.kind", value=spec.kind, allowed=", ".join(KINDS))
    if spec.kind == "linear" and spec.hidden_layers:
        raise UserError("train.error.linear_hidden")
    if len(spec.hidden_layers) > MAX_HIDDEN_LAYERS:
        raise UserError(
            "train.error.hidden_layers", count=len(spec.hidden_layers), max=MAX_HIDDEN_LAYERS
        )
    for units in spec.hidden_layers:
        if not _is_int(units) or not 1 <= units <= MAX_UNITS:
            raise UserError("train.error.units", value=units, max=MAX_UNITS)
    if spec.activation not in ACTIVATIONS:
        raise UserError(
            "train.error.activation", value=spec.activation, allowed=", ".join(ACTIVATIONS)
        )
    if not _is_number(spec.dropout) or not 0 <= spec.dropout <= MAX_DROPOUT:
        raise UserError("train.error.dropout", value=spec.dropout, max=MAX_DROPOUT)
    if not _is_number(spec.l2) or not 0 <= spec.l2 <= MAX_L2:
        raise UserError("train.error.l2", value=spec.l2, max=MAX_L2)
    if not isinstance(spec.batch_norm, bool):
        raise UserError("train.error.not_boolean", field="batch_norm", value=spec.batch_norm)
    size = spec.ensemble_size
    if not _is_int(size) or not 1 <= size <= MAX_ENSEMBLE_SIZE:
        raise UserError("tabular.error.ensemble_size", value=size, max=MAX_ENSEMBLE_SIZE)
    if not isinstance(spec.adapters, bool):
        raise UserError("train.error.not_boolean", field="adapters", value=spec.adapters)
    if spec.loss is not None and spec.loss not in ALL_LOSSES:
        raise UserError("train.error.loss", value=spec.loss, allowed=", ".join(ALL_LOSSES))


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise UserError("train.error.task", value=task, allowed=", ".join(TASKS))


def _check_classes(task: str, n_classes: int) -> None:
    if task == "binary" and n_classes != 2:
        raise UserError("train.error.binary_classes", count=n_classes)
    if task == "multiclass" and n_classes < 2:
        raise UserError("train.error.multiclass_classes", count=n_classes)


def output_layer(task: str, n_classes: int) -> tuple[int, str]:
    """The output layer's units and activation for a task (the training script writes the same)."""
    # The output follows the task even under a regression loss, so MSE on a classifier still
    # compares probabilities with the 0/1 targets instead of unbounded scores.
    if task == "regression":
        return 1, "linear"
    if task == "binary":
        return 1, "sigmoid"
    return n_classes, "softmax"


def _initializer(activation: str, seed: int) -> Any:
    import keras

    # He for the ReLU family keeps activations' variance through depth; SELU needs LeCun normal
    # to self-normalize; Glorot suits the saturating tanh and sigmoid.
    if activation in ("relu", "gelu"):
        return keras.initializers.HeUniform(seed=seed)
    if activation == "selu":
        return keras.initializers.LecunNormal(seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("None" if size is None else str(size) for size in shape) + ")"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
