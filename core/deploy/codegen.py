""" "Show me the code": a standalone training script that trains a run again, in plain Python.

The script is written for one run: its settings appear as literals (layers, optimizer, loss,
each column's scikit-learn steps), so a person can read what the app did and change it. It needs
only pandas, numpy, scikit-learn and Keras, reads the CSV the run was trained on, splits it the
way the app does (same shares, seed, stratification, classes moved into training), fits the same
preprocessing on the training rows, trains the same architecture with the same optimizer and
loss, and prints the held-out test metrics. Batches are shuffled by Keras, not by the app's
seeded pipeline, so the numbers are close to the app's, not bit-identical.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from typing import TYPE_CHECKING

from core.prep.preprocessing import PLE_BINS, ColumnPlan, PreprocessSpec, prepare_frame
from core.train.engine import MIN_LEARNING_RATE, PLATEAU_FACTOR, TrainSpec
from core.train.models import ModelSpec, output_layer, resolved_loss
from core.train.optimizers import optimizer

if TYPE_CHECKING:
    from core.train.runner import RunConfig

SCRIPT_FILE = "train_model.py"
SCALERS = {"standard": "StandardScaler()", "minmax": "MinMaxScaler()", "robust": "RobustScaler()"}
INITIALIZERS = {
    "relu": "he_uniform",
    "gelu": "he_uniform",
    "selu": "lecun_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
}
MAIN_METRICS = {"regression": "mae", "binary": "accuracy", "multiclass": "accuracy"}


def training_script(config: RunConfig, n_classes: int, run_name: str = "") -> str:
    """The standalone training script for a run's config (its text, ready to save and run)."""
    spec, model, train = config.preprocess, config.model, config.train
    prepare = textwrap.dedent(inspect.getsource(prepare_frame))
    parts = [
        _header(run_name or spec.target),
        _dp_note(train),
        _settings(spec, train),
        _MAIN,
        _SPLIT,
        _preprocessing(spec),
        _build_model(model, spec.task, n_classes),
        _compile_and_fit(model, train, spec.task),
        _METRICS,
        prepare,
        _FOOTER,
    ]
    return "\n\n".join(part.strip("\n") for part in parts if part) + "\n"


# --- the script's parts ------------------------------------------------------------------------


def _header(name: str) -> str:
    # The name is user text inside a docstring: its repr, with backslashes and double quotes
    # escaped, reads back as that repr and can never close the docstring (a run named
    # 'x"""...' stays text).
    quoted = repr(name).replace("\\", "\\\\").replace('"', '\\"')
    return f'''\
"""Train {quoted} again with plain pandas, scikit-learn and Keras (written by ModelDesk).

    pip install pandas numpy scikit-learn keras tensorflow
    python {SCRIPT_FILE} DATA.csv

The same split, preprocessing, architecture, optimizer and loss as the run in ModelDesk (its
config.json). Keras shuffles the batches here, so the numbers come out close to the app's, not
bit-identical.
"""

from __future__ import annotations

import math
import sys
import warnings

import keras
import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.class_weight import compute_class_weight'''


def _settings(spec: PreprocessSpec, train: TrainSpec) -> str:
    schema = [
        {
            "name": plan.name,
            "kind": plan.kind,
            "parts": list(plan.datetime_parts) if plan.kind == "datetime" else [],
        }
        for plan in spec.kept
    ]
    schema_lines = ",\n".join(f"    {json.dumps(item, ensure_ascii=False)}" for item in schema)
    return f"""\
TARGET = {spec.target!r}
TASK = {spec.task!r}  # regression, binary or multiclass
VAL_SHARE = {spec.val_share!r}
TEST_SHARE = {spec.test_share!r}
SPLIT_SEED = {spec.seed!r}
STRATIFY = {spec.stratify!r}
SEED = {train.seed!r}
EPOCHS = {train.epochs!r}
BATCH_SIZE = {train.batch_size!r}  # None: the whole training split in one batch
# The input columns the model uses, how each is read, and which parts of a date it sees.
SCHEMA = [
{schema_lines}
]"""


_MAIN = """\
def main(path: str) -> None:
    keras.utils.set_random_seed(SEED)
    frame = pd.read_excel(path) if path.lower().endswith(".xlsx") else pd.read_csv(path)
    X_train, X_val, X_test, y_train, y_val, y_test = split(frame)
    print(f"rows: {len(X_train)} training, {len(X_val)} validation, {len(X_test)} test")
    classes = class_labels(y_train) if TASK != "regression" else []

    # Preprocessing is fitted on the training rows only, then applied to all three splits.
    transformer = preprocessing(prepare_frame(X_train, SCHEMA))
    transformer.fit(prepare_frame(X_train, SCHEMA))

    def features(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(transformer.transform(prepare_frame(X, SCHEMA)), dtype=np.float32)

    train, val, test = features(X_train), features(X_val), features(X_test)
    model = build_model(train.shape[1])
    fit(model, train, codes(y_train, classes), val, codes(y_val, classes), classes)
    scores = np.asarray(model.predict(test, verbose=0), dtype=np.float64)
    for name, value in test_metrics(codes(y_test, classes), scores).items():
        print(f"test {name}: {value:.4f}")"""

_SPLIT = '''\
def split(frame: pd.DataFrame) -> tuple:
    """Train/validation/test rows: the test share first, then validation from the rest."""
    frame = frame[frame[TARGET].notna()]
    X, y = frame.drop(columns=[TARGET]), frame[TARGET]
    stratify = STRATIFY and TASK != "regression"
    X_rest, X_test, y_rest, y_test = split_off(X, y, TEST_SHARE, stratify)
    X_train, X_val, y_train, y_val = split_off(
        X_rest, y_rest, VAL_SHARE / (1 - TEST_SHARE), stratify
    )
    if TASK != "regression":
        # A class missing from training can't be learned: move its rows into training.
        seen = {plain(v) for v in y_train.tolist()}
        parts = []
        for X_part, y_part in ((X_val, y_val), (X_test, y_test)):
            unseen = np.array([plain(v) not in seen for v in y_part.tolist()], dtype=bool)
            X_train = pd.concat([X_train, X_part.iloc[unseen]])
            y_train = pd.concat([y_train, y_part.iloc[unseen]])
            parts.append((X_part.iloc[~unseen], y_part.iloc[~unseen]))
        (X_val, y_val), (X_test, y_test) = parts
    return X_train, X_val, X_test, y_train, y_val, y_test


def split_off(X: pd.DataFrame, y: pd.Series, share: float, stratify: bool) -> tuple:
    if share <= 0:
        return X, X.iloc[:0], y, y.iloc[:0]
    if stratify:
        labels = pd.factorize(pd.Series([str(plain(v)) for v in y.tolist()]))[0]
        try:
            return tuple(
                train_test_split(X, y, test_size=share, random_state=SPLIT_SEED, stratify=labels)
            )
        except ValueError:
            pass  # a class too small to stratify: split at random instead
    return tuple(train_test_split(X, y, test_size=share, random_state=SPLIT_SEED))


def plain(value: object) -> object:
    """A label as a plain Python value; whole floats as ints (1.0 and 1 are one class)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def class_labels(y: pd.Series) -> list:
    labels = {plain(v) for v in y.dropna().tolist()}
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def codes(y: pd.Series, classes: list) -> np.ndarray:
    """Class codes in `classes` order, or the regression target as numbers."""
    if TASK == "regression":
        return pd.to_numeric(y).to_numpy(dtype=np.float32)
    code = {label: i for i, label in enumerate(classes)}
    return np.array([code[plain(v)] for v in y.tolist()], dtype=np.int64)


def clip_to_quantiles(values: pd.Series, low: float, high: float):
    """Clip to quantiles of the training rows (numbers learned here, applied everywhere)."""
    present = values.dropna().to_numpy()
    if present.size == 0:
        return "passthrough"
    a_min, a_max = np.quantile(present, [low, high])
    return FunctionTransformer(
        np.clip, kw_args={"a_min": float(a_min), "a_max": float(a_max)}
    )


def piecewise_linear(values: pd.Series, bins: int, clip: tuple | None = None):
    """Piecewise-linear encoding: one feature per quantile bin of the training rows, the value
    clipped to the bin and mapped onto 0..1 (1, ..., 1, its place in its bin, 0, ..., 0)."""
    present = values.dropna().to_numpy(dtype=np.float64)
    if clip is not None and present.size:
        present = np.clip(present, *np.quantile(present, clip))
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1))) if present.size else []
    if len(edges) < 3:
        return StandardScaler()
    return FeatureUnion(
        [
            (
                f"bin{t}",
                Pipeline(
                    [
                        ("clip", FunctionTransformer(
                            np.clip, kw_args={"a_min": float(low), "a_max": float(high)}
                        )),
                        ("unit", MinMaxScaler()),
                    ]
                ),
            )
            for t, (low, high) in enumerate(zip(edges[:-1], edges[1:]), start=1)
        ]
    )'''


def _preprocessing(spec: PreprocessSpec) -> str:
    entries = []
    for index, plan in enumerate(spec.kept):
        columns = (
            [f"{plan.name}::{part}" for part in plan.datetime_parts]
            if plan.kind == "datetime"
            else [plan.name]
        )
        steps = _value_steps(plan)
        if steps:
            lines = "".join(f"                        {step},\n" for step in steps)
            value = (
                f"Pipeline(\n                    [\n{lines}                    ]\n                )"
            )
        else:
            value = '"passthrough"'
        entries.append(
            f"(\n                {f'v{index}'!r},\n                {value},\n"
            f"                {columns!r},\n            )"
        )
        if plan.add_indicator:
            entries.append(f"({f'm{index}'!r}, MissingIndicator(features='all'), {columns[:1]!r})")
    body = "".join(f"            {entry},\n" for entry in entries)
    return f'''\
def preprocessing(train: pd.DataFrame) -> ColumnTransformer:
    """One scikit-learn step per input column, as planned on the Preprocess page."""
    return ColumnTransformer(
        [
{body}        ],
        sparse_threshold=0.0,
    )'''


def _value_steps(plan: ColumnPlan) -> list[str]:
    steps: list[str] = []
    if plan.impute != "none":
        fill = f", fill_value={plan.fill_value!r}" if plan.impute == "constant" else ""
        steps.append(
            f'("impute", SimpleImputer(strategy={plan.impute!r}{fill}, keep_empty_features=True))'
        )
    if plan.kind == "categorical":
        cap = (
            f"max_categories={plan.max_categories!r}, min_frequency={plan.min_frequency or None!r}"
        )
        if plan.encoding == "onehot":
            steps.append(
                '("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", '
                f"sparse_output=False, {cap}))"
            )
            return steps
        steps.append(
            '("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, '
            f"encoded_missing_value=-1, {cap}))"
        )
    elif plan.kind == "numeric" and plan.clip is not None:
        low, high = plan.clip
        steps.append(f'("clip", clip_to_quantiles(train[{plan.name!r}], {low!r}, {high!r}))')
    if plan.scale == "ple":
        clip = f", {tuple(plan.clip)!r}" if plan.clip is not None else ""
        steps.append(f'("scale", piecewise_linear(train[{plan.name!r}], {PLE_BINS}{clip}))')
    elif plan.scale != "none":
        steps.append(f'("scale", {SCALERS[plan.scale]})')
    return steps


def _build_model(model: ModelSpec, task: str, n_classes: int) -> str:
    if model.kind == "tabm":
        return _build_tabm(model, task, n_classes)
    units, activation = output_layer(task, n_classes)
    regularizer = f"keras.regularizers.L2({model.l2!r})" if model.l2 > 0 else "None"
    lines = ["        keras.Input(shape=(n_features,)),"]
    hidden = model.hidden_layers if model.kind == "mlp" else ()
    for units_hidden in hidden:
        lines.append(
            f"        keras.layers.Dense({units_hidden}, activation={model.activation!r}, "
            f"kernel_initializer={INITIALIZERS[model.activation]!r}, "
            "kernel_regularizer=regularizer),"
        )
        if model.batch_norm:
            lines.append("        keras.layers.BatchNormalization(),")
        if model.dropout > 0:
            lines.append(f"        keras.layers.Dropout({model.dropout!r}),")
    lines.append(
        f"        keras.layers.Dense({units}, activation={activation!r}, "
        'kernel_regularizer=regularizer, name="output"),'
    )
    body = "\n".join(lines)
    return f'''\
def build_model(n_features: int) -> keras.Model:
    """{model.kind}: {len(hidden)} hidden layer(s), then the {activation} output."""
    regularizer = {regularizer}
    return keras.Sequential(
        [
{body}
        ]
    )'''


def _dp_note(train: TrainSpec) -> str:
    # DP-SGD lives in ModelDesk's engine (core.train.privacy); model.fit here has none of it.
    if not train.dp:
        return ""
    return (
        "# NOTE: ModelDesk trained this run with differentially private SGD (target epsilon "
        f"{train.dp_epsilon!r},\n# clipping norm {train.dp_clip_norm!r}). This script trains "
        "the same network WITHOUT differential\n# privacy (plain model.fit): its model has no "
        "privacy guarantee."
    )


def _build_tabm(model: ModelSpec, task: str, n_classes: int) -> str:
    """The TabM model from Keras' own layers, as ModelDesk builds it (core.train.models)."""
    units, activation = output_layer(task, n_classes)
    k = model.ensemble_size
    regularizer = f"keras.regularizers.L2({model.l2!r})" if model.l2 > 0 else "None"
    lines = [
        "        keras.Input(shape=(n_features,)),",
        f"        keras.layers.RepeatVector({k}),  # {k} copies of each row, one per head",
    ]
    width = "n_features"
    for index, hidden in enumerate(model.hidden_layers, start=1):
        init = INITIALIZERS[model.activation]
        if model.adapters:
            lines += [
                f'        keras.layers.EinsumDense("bki,ki->bki", output_shape=({k}, {width}), '
                f"kernel_initializer={'random_signs' if index == 1 else repr('ones')}"
                f"),  # each head's r",
                f"        keras.layers.Dense({hidden}, use_bias=False, kernel_initializer="
                f"{init!r}, kernel_regularizer=regularizer),  # shared by the heads",
                f'        keras.layers.EinsumDense("bko,ko->bko", output_shape=({k}, {hidden}), '
                f'bias_axes="ko", activation={model.activation!r}, kernel_initializer="ones"),'
                "  # each head's s and bias",
            ]
        else:
            lines.append(
                f"        keras.layers.Dense({hidden}, activation={model.activation!r}, "
                f"kernel_initializer={init!r}, kernel_regularizer=regularizer),"
            )
        if model.batch_norm:
            lines.append("        keras.layers.BatchNormalization(),")
        if model.dropout > 0:
            lines.append(f"        keras.layers.Dropout({model.dropout!r}),")
        width = str(hidden)
    lines += [
        f'        keras.layers.EinsumDense("bki,kio->bko", output_shape=({k}, {units}), '
        f'bias_axes="ko", activation={activation!r}, kernel_regularizer=regularizer, '
        f'kernel_initializer=keras.initializers.VarianceScaling({float(k)!r}, "fan_avg", '
        f'"uniform"), name="output"),  # one output layer per head',
        '        keras.layers.GlobalAveragePooling1D(name="ensemble_mean"),  # their mean',
    ]
    body = "\n".join(lines)
    return f'''\
def build_model(n_features: int) -> keras.Model:
    """TabM: {k} heads share {len(model.hidden_layers)} hidden layer(s); the model predicts the
    mean of the heads' {activation} outputs."""
    regularizer = {regularizer}
    return keras.Sequential(
        [
{body}
        ]
    )


def random_signs(shape, dtype=None):
    """The first layer's r: random signs, so the heads differ from the first step."""
    draws = keras.random.randint(shape, 0, 2, seed=SEED)
    return keras.ops.cast(draws, dtype or "float32") * 2.0 - 1.0'''


def _compile_and_fit(model: ModelSpec, train: TrainSpec, task: str) -> str:
    lr = repr(train.learning_rate)
    if train.schedule == "cosine":
        lr = f"keras.optimizers.schedules.CosineDecay({lr}, decay_steps=EPOCHS * steps)"
    optimizer_call = optimizer(train.optimizer).code(lr)
    callbacks = []
    if train.early_stopping:
        callbacks.append(
            f"keras.callbacks.EarlyStopping(monitor=monitor, patience={train.patience}, "
            f"restore_best_weights={train.restore_best!r})"
        )
    if train.schedule == "plateau":
        callbacks.append(
            f"keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor={PLATEAU_FACTOR}, "
            f"patience={max(1, train.patience // 2)}, min_lr={MIN_LEARNING_RATE})"
        )
    callback_lines = "".join(f"        {line},\n" for line in callbacks)
    steps_line = (
        "    steps = math.ceil(len(train) / batch)  # batches per epoch\n"
        if train.schedule == "cosine"
        else ""
    )
    weights = (
        "balanced_weights(y_train, len(classes))"
        if train.class_weights and task != "regression"
        else "None"
    )
    return f'''\
def fit(model, train, y_train, val, y_val, classes) -> None:
    batch = BATCH_SIZE or len(train)
    output = model.get_layer("output")
    heads = output.output.shape[1] if len(output.output.shape) == 3 else 0
    trainer, per_head = model, (lambda t: t)
    if heads:
        # TabM: each head trains on its own loss: fit the heads (before their mean) on the
        # targets repeated for every head; the mean of the heads' losses is the loss.
        trainer = keras.Model(model.inputs[0], output.output)
        per_head = lambda t: np.repeat(t[:, None, :], heads, axis=1)  # noqa: E731
{steps_line}    trainer.compile(
        optimizer={optimizer_call},
        loss={resolved_loss(model, task)!r},
        metrics=[{MAIN_METRICS[task]!r}],
    )
    # A regression target trains standardised on the training rows (any scale learns at the
    # same pace); the output bias starts at the training prior (the mean, or the class shares).
    mean, std = target_scale(y_train)
    output.bias.assign(np.broadcast_to(initial_bias(y_train, classes), output.bias.shape))
    validation = (val, per_head(targets(y_val, classes, mean, std))) if len(val) else None
    monitor = "val_loss" if validation else "loss"
    callbacks = [
{callback_lines}    ]
    trainer.fit(
        train,
        per_head(targets(y_train, classes, mean, std)),
        validation_data=validation,
        epochs=EPOCHS,
        batch_size=batch,
        class_weight={weights},
        callbacks=callbacks,
        verbose=2,
    )
    if TASK == "regression":
        # Fold the scale into the output layer: the model now predicts in the target's units.
        kernel, bias = output.get_weights()
        output.set_weights([kernel * std, bias * std + mean])


def target_scale(y: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a regression target on the training rows (else 0, 1)."""
    if TASK != "regression":
        return 0.0, 1.0
    std = float(np.std(y))
    return float(np.mean(y)), std if std > 0 else 1.0


def initial_bias(y: np.ndarray, classes: list) -> np.ndarray:
    """The output bias that predicts the training prior: 0 (the mean, standardised), the log
    prior odds (binary) or the log class shares (several classes)."""
    if TASK == "regression":
        return np.zeros(1, dtype=np.float32)
    shares = np.clip(np.bincount(y, minlength=len(classes)) / len(y), 1e-3, 1 - 1e-3)
    if TASK == "binary":
        return np.array([np.log(shares[1] / shares[0])], dtype=np.float32)
    return np.log(shares / shares.sum()).astype(np.float32)


def targets(y: np.ndarray, classes: list, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """What the output layer is compared with: one-hot rows for several classes, the
    standardised target for regression."""
    if TASK == "multiclass":
        return np.eye(len(classes), dtype=np.float32)[y]
    return ((y.astype(np.float64) - mean) / std).astype(np.float32).reshape(-1, 1)


def balanced_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    result = dict.fromkeys(range(n_classes), 1.0)
    result.update({{int(c): float(w) for c, w in zip(present, weights, strict=True)}})
    return result'''


_METRICS = '''\
def test_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Held-out metrics, computed by scikit-learn."""
    if TASK == "regression":
        predicted = scores.reshape(-1)
        return {
            "r2": metrics.r2_score(y_true, predicted),
            "rmse": metrics.root_mean_squared_error(y_true, predicted),
            "mae": metrics.mean_absolute_error(y_true, predicted),
        }
    if TASK == "binary":
        positive = scores.reshape(-1)
        predicted = (positive >= 0.5).astype(np.int64)
    else:
        predicted = np.argmax(scores, axis=1)
    found = {
        "accuracy": metrics.accuracy_score(y_true, predicted),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, predicted),
        "f1": metrics.f1_score(y_true, predicted, average="macro", zero_division=0),
    }
    if TASK == "binary" and len(np.unique(y_true)) == 2:
        found["roc_auc"] = metrics.roc_auc_score(y_true, positive)
    return found'''

_FOOTER = """\
if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} DATA.csv")
    warnings.filterwarnings("ignore", category=UserWarning)
    main(sys.argv[1])"""
