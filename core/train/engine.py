"""Training settings and the background training job: live history, Stop, queueing, runs.

A `TrainingJob` trains in its own thread and never touches streamlit: the page polls
`snapshot()`. Same specs and the same seed give the same history, also when several jobs train
at once, because every random part takes an explicit seed (docs/ARCHITECTURE.md, "Background jobs").
TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from core.i18n import Message, UserError
from core.train.jobs import JobLimiter
from core.train.loop import (
    CompiledLoop,
    GradientFn,
    TargetScale,
    fit_targets,
    fold_target_scale,
    initial_output_bias,
    loss_factor,
    next_block,
    output_parameters,
    set_output_bias,
    target_scale_for,
)
from core.train.models import (
    TASKS,
    ModelSpec,
    build_model,
    derive_seed,
    known_fields,
    main_metric,
    resolved_loss,
)
from core.train.optimizers import REGISTRY as OPTIMIZER_REGISTRY
from core.train.optimizers import optimizer, optimizer_names

# The plateau constants are the policy's; codegen reads them here too.
from core.train.policy import MIN_LEARNING_RATE as MIN_LEARNING_RATE
from core.train.policy import PLATEAU_FACTOR as PLATEAU_FACTOR
from core.train.policy import EpochPolicy
from core.train.privacy import (
    DEFAULT_CLIP_NORM,
    DEFAULT_EPSILON,
    DPGradients,
    DPSettings,
    check_model_for_dp,
    dp_settings,
    validate_dp_fields,
)
from core.train.status import RunStatus

if TYPE_CHECKING:
    import keras

SCHEDULES: tuple[str, ...] = ("constant", "plateau", "cosine")
LEARNING_RATE_RANGE: tuple[float, float] = (1e-5, 1.0)
EPOCHS_RANGE: tuple[int, int] = (1, 500)
# Powers of two for the batch-size slider; None ("full batch") is plain gradient descent.
BATCH_SIZES: tuple[int | None, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, None)
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class TrainSpec:
    """How to train: optimizer, learning rate, batches, epochs, stopping rules, schedule, seed."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int | None = 32
    epochs: int = 50
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = True
    schedule: str = "constant"
    class_weights: bool = False
    seed: int = 0
    # Differentially private SGD (core.train.privacy): off by default. A noise multiplier, when
    # given, is used as is; otherwise σ is calibrated so the planned epochs spend dp_epsilon.
    # dp_delta None means 1/n rounded down to a power of ten.
    dp: bool = False
    dp_epsilon: float | None = DEFAULT_EPSILON
    dp_noise_multiplier: float | None = None
    dp_delta: float | None = None
    dp_clip_norm: float = DEFAULT_CLIP_NORM

    def __post_init__(self) -> None:
        _validate_train_spec(self)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        """A spec from `to_dict` output (or a config file); unknown fields are an error."""
        return cls(**known_fields(cls, data, "training"))


def first_train_spec() -> TrainSpec:
    """Training for the classic first model: plain SGD on MSE, slow enough to watch w and b."""
    # Safe for the y = 2x + 1 sample (x in -5..5, unscaled): the largest stable step is about
    # 2 / (2·E[x²]) ≈ 0.12, so 0.01 converges smoothly without overshooting.
    return TrainSpec(optimizer="sgd", learning_rate=0.01, batch_size=32, epochs=100, seed=0)


def make_optimizer(spec: TrainSpec, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """The Keras optimizer for the spec; a cosine schedule decays over all of its steps."""
    import keras

    learning_rate: Any = spec.learning_rate
    if spec.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            spec.learning_rate, decay_steps=max(1, spec.epochs * steps_per_epoch)
        )
    return optimizer(spec.optimizer).build(learning_rate)


def enable_determinism() -> None:
    """Ask TensorFlow for deterministic kernels (process-wide, idempotent)."""
    import tensorflow as tf

    # Also turns off XLA auto-compilation in Keras, for every model in the process.
    tf.config.experimental.enable_op_determinism()


def class_weights_for(y: np.ndarray, n_classes: int) -> dict[int, float]:
    """Balanced class weights (n / (k · count)); a class missing from y keeps weight 1."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    result = {code: 1.0 for code in range(n_classes)}
    result.update({int(code): float(weight) for code, weight in zip(present, weights, strict=True)})
    return result


def training_dataset(
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    n_classes: int,
    spec: TrainSpec,
    shuffle: bool = True,
) -> Any:
    """The tf.data pipeline a job trains on: seeded per-epoch shuffles, batches, class weights."""
    import tensorflow as tf

    targets = fit_targets(y, task, n_classes)
    batch = spec.batch_size or len(X)
    tensors: tuple[np.ndarray, ...] = (X, targets)
    if shuffle and spec.class_weights and task != "regression":
        weights = class_weights_for(y, n_classes)
        tensors = (X, targets, np.asarray([weights[int(c)] for c in y], dtype=np.float32))
    if not shuffle:
        return tf.data.Dataset.from_tensor_slices(tensors).batch(batch)
    # One dataset for all epochs (fit needs steps_per_epoch), each epoch a stateless permutation
    # seeded by (run seed, epoch). Dataset.shuffle(seed=...) would also mix in TensorFlow's
    # global seed, so a tf.random.set_seed anywhere in the process would change the batches.
    seed = derive_seed(spec.seed, "shuffle")
    rows = len(X)
    constants = tuple(tf.constant(array) for array in tensors)

    def epoch_batches(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(rows, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch)

    def gather(indices: Any) -> Any:
        return tuple(tf.gather(array, indices) for array in constants)

    return (
        tf.data.Dataset.range(spec.epochs)
        .flat_map(epoch_batches)
        .map(gather)
        .prefetch(tf.data.AUTOTUNE)
    )


@dataclass(frozen=True)
class Formula:
    """One update rule or loss in use: a title, LaTeX, and what its slider changes."""

    name: str
    latex: str
    title: Message
    explanation: Message


def formulas_for(model_spec: ModelSpec, train_spec: TrainSpec, task: str) -> list[Formula]:
    """The loss, gradient and update rules a run uses, for the page's 'how it learns' expander."""
    names = [resolved_loss(model_spec, task)]
    if model_spec.l2 > 0:
        names.append("l2")
    names.append("gradient_full" if train_spec.batch_size is None else "gradient_batch")
    if train_spec.dp:
        names.append("dp_sgd")
    names.append(train_spec.optimizer)
    if train_spec.schedule != "constant":
        names.append(f"schedule_{train_spec.schedule}")
    return [
        Formula(
            name,
            formula_latex(name),
            Message(f"train.formula.{name}.title"),
            Message(f"train.formula.{name}.explain"),
        )
        for name in names
    ]


def formula_latex(name: str) -> str:
    """The LaTeX of a rule `formulas_for` names: an optimizer's update rule from its registry
    entry, any other rule from FORMULAS."""
    entry = OPTIMIZER_REGISTRY.get(name)
    return entry.latex if entry is not None else FORMULAS[name]


@dataclass(frozen=True)
class JobSnapshot:
    """What a page draws: status, progress, history (copied), time left, queue place, message."""

    status: RunStatus
    epoch: int
    epochs: int
    batch: int
    batches_per_epoch: int
    history: dict[str, list[float]]
    elapsed: float
    eta_seconds: float | None
    queue_position: int | None
    message: Message | None
    # The linear model's weight(s) and bias after each epoch ("w", "b"; "w1", "w2", ... when
    # there are several); empty for other models.
    parameters: dict[str, list[float]]
    # A DP-SGD job's privacy block so far (ε spent for the steps taken); None without DP.
    privacy: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        """Whether the job has ended (stopped, finished or failed)."""
        return self.status.done

    @property
    def progress(self) -> float:
        """Fraction of the planned batches done, 0..1."""
        if self.status == RunStatus.FINISHED:
            return 1.0
        steps = self.epoch + (self.batch / self.batches_per_epoch if self.batches_per_epoch else 0)
        return min(1.0, steps / self.epochs)


@dataclass
class Run:
    """A finished, stopped or failed training run: specs, history, weights, status, duration."""

    run_id: str
    name: str
    model_spec: ModelSpec
    train_spec: TrainSpec
    task: str
    n_features: int
    n_classes: int
    history: dict[str, list[float]]
    status: RunStatus
    duration_s: float
    created_at: str
    weights: list[np.ndarray] | None = field(default=None, repr=False, compare=False)
    model: Any = field(default=None, repr=False, compare=False)
    metrics: dict[str, Any] = field(default_factory=dict)
    message: Message | None = None
    # The epoch whose weights the run keeps (the best one when restored, else the last).
    best_epoch: int | None = None
    parameters: dict[str, list[float]] = field(default_factory=dict)
    # The privacy block of a DP-SGD run (core.train.privacy.DPSettings.report: ε spent for the
    # steps taken, δ, σ, C, q, steps); None when the run trained without DP.
    privacy: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # A status read back from JSON (or given as its string) becomes the typed one.
        self.status = RunStatus(self.status)

    @property
    def epochs_trained(self) -> int:
        """Completed epochs recorded in the history."""
        return len(self.history.get("loss", []))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: everything but the weights and the Keras model."""
        return {
            "run_id": self.run_id,
            "name": self.name,
            "model_spec": self.model_spec.to_dict(),
            "train_spec": self.train_spec.to_dict(),
            "task": self.task,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "history": {key: list(values) for key, values in self.history.items()},
            "status": self.status,
            "duration_s": self.duration_s,
            "created_at": self.created_at,
            "metrics": dict(self.metrics),
            "message": None
            if self.message is None
            else {"key": self.message.key, "params": dict(self.message.params)},
            "best_epoch": self.best_epoch,
            "parameters": {key: list(values) for key, values in self.parameters.items()},
            "privacy": None if self.privacy is None else dict(self.privacy),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], weights: list[np.ndarray] | None = None) -> Run:
        """A run from `to_dict` output, with weights if they were saved separately."""
        message = data.get("message")
        return cls(
            run_id=data["run_id"],
            name=data["name"],
            model_spec=ModelSpec.from_dict(data["model_spec"]),
            train_spec=TrainSpec.from_dict(data["train_spec"]),
            task=data["task"],
            n_features=int(data["n_features"]),
            n_classes=int(data["n_classes"]),
            history={key: list(values) for key, values in data["history"].items()},
            status=data["status"],
            duration_s=float(data["duration_s"]),
            created_at=data["created_at"],
            weights=weights,
            metrics=dict(data.get("metrics", {})),
            message=None if message is None else Message(message["key"], dict(message["params"])),
            best_epoch=data.get("best_epoch"),
            parameters={key: list(v) for key, v in data.get("parameters", {}).items()},
            privacy=None if data.get("privacy") is None else dict(data["privacy"]),
        )

    def build_model(self) -> keras.Model:
        """The trained Keras model (rebuilt from the specs and weights if needed)."""
        if self.model is None:
            self.model = build_model(
                self.model_spec, self.n_features, self.task, self.n_classes, self.train_spec.seed
            )
            if self.weights is not None:
                self.model.set_weights(self.weights)
        return self.model


class Job(ABC):
    """The contract of a training job, whatever runs it: one run in the background, with Stop,
    a live history and a snapshot. Backends: `TrainingJob` (a thread in this process),
    `core.train.cluster.ClusterTrainingJob` (a Ray task), `core.train.multiworker.MultiWorkerJob`
    (local worker processes). The pages, the job queue (`JobLimiter`) and the CLI use only this.

    The shared parts live here once: the checked arrays and the run's name, the lock-protected
    status, history and parameters, `snapshot()`, the ETA, `join()`, the privacy report and the
    `Run` a job ends with. A backend implements `_work()` (run in the job's own thread by
    `start()`), reports through `_set_running()`, `_record_epoch()`, `_progress()` and ends with
    `_finish()` or `_adopt()`; it may add `_on_stop()` and `_queue_place()`.
    """

    thread_prefix = "job"

    def __init__(
        self,
        model_spec: ModelSpec,
        train_spec: TrainSpec,
        task: str,
        n_classes: int,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        limiter: JobLimiter | None = None,
        name: str = "",
    ) -> None:
        self.model_spec = model_spec
        self.train_spec = train_spec
        self.task = task
        self.n_classes = n_classes
        self.X_train, self.y_train = _checked_arrays(X_train, y_train, task, n_classes)
        self.X_val: np.ndarray | None = None
        self.y_val: np.ndarray | None = None
        if X_val is not None and y_val is not None and len(X_val):
            self.X_val, self.y_val = _checked_arrays(X_val, y_val, task, n_classes)
            if self.X_val.shape[1] != self.X_train.shape[1]:
                raise UserError(
                    "train.error.feature_mismatch",
                    train=self.X_train.shape[1],
                    val=self.X_val.shape[1],
                )
        resolved_loss(model_spec, task)
        if train_spec.dp:
            check_model_for_dp(model_spec)
        self.limiter = limiter
        self.run_id = uuid.uuid4().hex
        self.name = name or f"{model_spec.kind}-{self.run_id[:6]}"
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        n_rows = len(self.X_train)
        self.batches_per_epoch = math.ceil(n_rows / (train_spec.batch_size or n_rows))
        # Where the job trains, when not on this process's own device (a cluster's worker
        # reports it); None: here (core.train.devices.training_device).
        self.device: Message | None = None

        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._done_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = RunStatus.QUEUED
        self._message: Message | None = None
        self._history: dict[str, list[float]] = {}
        self._parameters: dict[str, list[float]] = {}
        self._batch = 0
        self._batches_seen = 0
        self._started: float | None = None
        self._training_started: float | None = None
        self._ended: float | None = None
        self._run: Run | None = None
        # A DP-SGD job's settings (core.train.privacy): the ε spent is computed when asked for
        # (snapshot, the run), never in the training loop.
        self._dp: DPSettings | None = None

    # --- control ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the job in its own thread (it may wait for a slot first); returns the job."""
        with self._lock:
            if self._thread is not None or self._status.done:
                raise RuntimeError("a training job can be started once")
            self._started = time.monotonic()
            self._thread = threading.Thread(
                target=self._guarded_work,
                name=f"{self.thread_prefix}-{self.run_id[:8]}",
                daemon=True,
            )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop soon; the best weights seen so far are kept."""
        self._stop_event.set()
        self._on_stop()
        with self._lock:
            never_started = self._thread is None and not self._status.done
        if never_started:
            self._finish(RunStatus.STOPPED, Message("train.message.stopped_before_start"))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True if it has."""
        return self._done_event.wait(timeout)

    @property
    def status(self) -> RunStatus:
        """Where the job stands now."""
        with self._lock:
            return self._status

    @property
    def running(self) -> bool:
        """Whether the job is queued or training (the page keeps polling while it is)."""
        return not self.status.done

    @property
    def done(self) -> bool:
        """Whether the job has ended (its run is ready)."""
        return self._done_event.is_set()

    @property
    def batches_seen(self) -> int:
        """Training batches run so far, over all epochs."""
        return self._batches_seen

    def snapshot(self) -> JobSnapshot:
        """A consistent copy of the job's state, safe to read from any thread; never waits on
        training or the network."""
        with self._lock:
            status = self._status
            history = {key: list(values) for key, values in self._history.items()}
            parameters = {key: list(values) for key, values in self._parameters.items()}
            message = self._message
            started, training_started, ended = self._started, self._training_started, self._ended
            batch = self._batch if status == RunStatus.RUNNING else 0
        epoch = len(history.get("loss", []))
        now = ended if ended is not None else time.monotonic()
        return JobSnapshot(
            status=status,
            epoch=epoch,
            epochs=self.train_spec.epochs,
            batch=batch,
            batches_per_epoch=self.batches_per_epoch,
            history=history,
            elapsed=0.0 if started is None else now - started,
            eta_seconds=self._eta(status, epoch, batch, training_started, now),
            queue_position=self._queue_place() if status == RunStatus.QUEUED else None,
            message=message,
            parameters=parameters,
            privacy=self.privacy_report(),
        )

    def privacy_report(self) -> dict[str, Any] | None:
        """The privacy block for the steps taken so far (None without DP)."""
        return None if self._dp is None else self._dp.report(self._batches_seen)

    def result(self) -> Run:
        """The run, once the job has ended (RuntimeError before)."""
        if not self._done_event.is_set() or self._run is None:
            raise RuntimeError("the training job has not ended yet")
        return self._run

    # --- what a backend implements ---------------------------------------------------------

    @abstractmethod
    def _work(self) -> None:
        """Train (in the job's thread) and end with `_finish` or `_adopt`."""

    def _on_stop(self) -> None:
        """Pass a Stop on to wherever the job trains (called at once by `stop()`)."""
        return None

    def _queue_place(self) -> int | None:
        """The job's place in its queue while queued (1 = next), None when unknown."""
        return None

    # --- what a backend reports with -------------------------------------------------------

    def _guarded_work(self) -> None:
        try:
            self._work()
        except UserError as error:
            self._finish(RunStatus.FAILED, error.message)
        except Exception as error:  # a job's thread must always end the job, never hang it
            self._finish(RunStatus.FAILED, Message("train.message.error", {"error": str(error)}))

    def _set_running(self) -> None:
        with self._lock:
            if self._status == RunStatus.QUEUED:
                self._status = RunStatus.RUNNING
                self._training_started = time.monotonic()

    def _progress(self, batch: int, batches_seen: int) -> None:
        with self._lock:
            self._batch, self._batches_seen = batch, batches_seen

    def _record_epoch(self, logs: dict[str, float], parameters: dict[str, float]) -> None:
        with self._lock:
            for key, value in logs.items():
                self._history.setdefault(key, []).append(value)
            for key, value in parameters.items():
                self._parameters.setdefault(key, []).append(value)
            self._batch = 0

    def _finish(
        self,
        status: RunStatus,
        message: Message | None,
        *,
        model: Any = None,
        weights: list[np.ndarray] | None = None,
        best_epoch: int | None = None,
    ) -> None:
        """End the job with a run made of what it recorded (once; later calls do nothing)."""
        if weights is None and model is not None:
            weights = model.get_weights()
        privacy = self.privacy_report()
        with self._lock:
            if self._done_event.is_set():
                return
            run = Run(
                run_id=self.run_id,
                name=self.name,
                model_spec=self.model_spec,
                train_spec=self.train_spec,
                task=self.task,
                n_features=int(self.X_train.shape[1]),
                n_classes=self.n_classes,
                history={key: list(values) for key, values in self._history.items()},
                status=status,
                duration_s=0.0,
                created_at=self.created_at,
                weights=weights,
                model=model,
                message=message,
                best_epoch=best_epoch,
                parameters={key: list(values) for key, values in self._parameters.items()},
                privacy=privacy,
            )
            self._end(run)

    def _adopt(self, run: Run) -> None:
        """End the job with a run trained elsewhere (its history replaces the live one)."""
        with self._lock:
            if self._done_event.is_set():
                return
            self._history = {key: list(values) for key, values in run.history.items()}
            self._parameters = {key: list(values) for key, values in run.parameters.items()}
            self._end(run)

    def _end(self, run: Run) -> None:
        # Called with the lock held. The run's duration is this side's, queue included.
        self._status, self._message = run.status, run.message
        self._ended = time.monotonic()
        started = self._started if self._started is not None else self._ended
        run.duration_s = round(self._ended - started, 3)
        self._run = run
        self._done_event.set()

    def _eta(
        self,
        status: RunStatus,
        epoch: int,
        batch: int,
        training_started: float | None,
        now: float,
    ) -> float | None:
        if status.done:
            return 0.0
        if status != RunStatus.RUNNING or training_started is None:
            return None
        done = epoch + batch / self.batches_per_epoch
        if done <= 0:
            return None
        per_epoch = (now - training_started) / done
        return max(0.0, per_epoch * (self.train_spec.epochs - done))


class TrainingJob(Job):
    """One training run in a background thread of this process: the compiled loop
    (core.train.loop) under the per-epoch policy (core.train.policy)."""

    thread_prefix = "training"

    def __init__(
        self,
        *args: Any,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        on_block: Callable[[int, int], None] | None = None,
        gradients: GradientFn | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Called in the training thread: on_epoch(epoch, logs) after each recorded epoch,
        # on_block(epoch, batches done in the epoch) after each compiled block. gradients
        # replaces the gradient hook (core.train.loop).
        self.on_epoch = on_epoch
        self.on_block = on_block
        self.gradients = gradients
        self.target_scale: TargetScale | None = None

    def _on_stop(self) -> None:
        if self.limiter is not None:
            self.limiter.wake()

    def _queue_place(self) -> int | None:
        return self.limiter.position(self) if self.limiter is not None else None

    def _work(self) -> None:
        if self.limiter is None:
            self._train()
            return
        if not self.limiter.acquire(self, self._stop_event):
            self._finish(RunStatus.STOPPED, Message("train.message.stopped_in_queue"))
            return
        try:
            self._train()
        finally:
            self.limiter.release(self)

    def _train(self) -> None:
        if self._stop_event.is_set():
            self._finish(RunStatus.STOPPED, Message("train.message.stopped_before_start"))
            return
        self._set_running()
        enable_determinism()
        spec, task = self.train_spec, self.task
        loss_name = resolved_loss(self.model_spec, task)
        scale = target_scale_for(task, self.y_train)
        row_weights = None
        if spec.class_weights and task != "regression":
            weights = class_weights_for(self.y_train, self.n_classes)
            row_weights = np.asarray([weights[int(c)] for c in self.y_train], dtype=np.float32)
        gradients, poisson = self.gradients, None
        if spec.dp:  # the model was checked for DP-SGD in __init__
            settings = dp_settings(spec, len(self.X_train), self.batches_per_epoch)
            assert settings is not None
            gradients = DPGradients(
                settings.clip_norm,
                settings.noise_multiplier,
                settings.expected_batch,
                derive_seed(spec.seed, "dp-noise"),
            )
            poisson = (settings.sampling_rate, derive_seed(spec.seed, "dp-sampling"))
            self._dp = settings
        model = build_model(self.model_spec, self.X_train.shape[1], task, self.n_classes, spec.seed)
        set_output_bias(model, initial_output_bias(task, self.y_train, self.n_classes, row_weights))
        optimizer = make_optimizer(spec, self.batches_per_epoch)

        def targets(y: np.ndarray) -> np.ndarray:
            return fit_targets(y if scale is None else scale.standardise(y), task, self.n_classes)

        loop = CompiledLoop(
            model,
            optimizer,
            loss_name,
            task,
            self.X_train,
            targets(self.y_train),
            row_weights,
            spec.batch_size or len(self.X_train),
            derive_seed(spec.seed, "shuffle"),
            self.X_val,
            None if self.y_val is None else targets(self.y_val),
            gradients=gradients,
            poisson=poisson,
        )
        metric = main_metric(task)
        # Reported in the target's units (MSE x std², MAE x std); decisions use the trained scale.
        loss_unit = loss_factor(loss_name, scale)
        metric_unit = scale.std if scale is not None and metric == "mae" else 1.0
        monitor_name = "val_loss" if loop.has_validation else "loss"
        policy = EpochPolicy(spec, LEARNING_RATE_RANGE[0])
        best_weights = None
        started = time.monotonic()
        block = 1
        for epoch in range(1, spec.epochs + 1):
            order = loop.order(epoch - 1)
            losses: list[np.ndarray] = []
            metric_sums: list[np.ndarray] = []
            done = 0
            while done < loop.steps and not self._stop_event.is_set():
                count = min(block, loop.steps - done)
                block_started = time.monotonic()
                batch_losses, batch_metrics = loop.run(order, done, count, epoch - 1)
                block = next_block(count, time.monotonic() - block_started, loop.steps)
                done += count
                self._progress(done, self._batches_seen + count)
                losses.append(batch_losses)
                metric_sums.append(batch_metrics)
                if not np.isfinite(batch_losses).all():
                    policy.fail(epoch, batch_losses[~np.isfinite(batch_losses)][0])
                    break
                if self.on_block is not None:
                    self.on_block(epoch, done)
            if policy.bad_loss is not None or done < loop.steps:
                break  # a cut epoch's numbers describe part of the data; keep them off the curves
            loss, metric_value = loop.epoch_means(losses, metric_sums)
            logs = {"loss": loss * loss_unit, metric: metric_value * metric_unit}
            decided = {"loss": loss}
            if loop.has_validation:
                val_loss, val_metric = loop.validate()
                logs.update(
                    {"val_loss": val_loss * loss_unit, f"val_{metric}": val_metric * metric_unit}
                )
                decided["val_loss"] = val_loss
            if not policy.check_epoch(epoch, logs):
                break
            rate = _current_learning_rate(optimizer)
            # float32 noise (0.0010000000474974513) would show on the page; 7 digits is exact.
            logs["learning_rate"] = float(f"{rate:.7g}")
            logs["time_s"] = round(time.monotonic() - started, 4)
            verdict = policy.after_epoch(epoch, decided[monitor_name], rate)
            if verdict.improved:
                best_weights = model.get_weights()
            parameters = output_parameters(model, scale) if self.model_spec.kind == "linear" else {}
            self._record_epoch(logs, parameters)
            if self.on_epoch is not None:
                self.on_epoch(epoch, dict(logs))
            if verdict.stop:
                break
            if verdict.learning_rate is not None:
                optimizer.learning_rate.assign(verdict.learning_rate)
            if self._stop_event.is_set():
                break

        outcome = policy.outcome(self._stop_event.is_set(), best_weights is not None)
        if outcome.restore_best and best_weights is not None:
            model.set_weights(best_weights)
        if scale is not None:
            fold_target_scale(model, scale)  # the saved model predicts in the target's units
        self.target_scale = scale
        self._finish(outcome.status, outcome.message, model=model, best_epoch=outcome.kept_epoch)


# The losses and the other rules besides the optimizer's own (core.train.optimizers holds those),
# as Keras computes them with its defaults (γ = 2, α = 0.25 for focal losses; δ = 1 for Huber).
FORMULAS: dict[str, str] = {
    "mse": r"L = \frac{1}{n}\sum_{i=1}^{n}\left(y_i - \hat{y}_i\right)^2",
    "mae": r"L = \frac{1}{n}\sum_{i=1}^{n}\left|y_i - \hat{y}_i\right|",
    "huber": (
        r"L = \frac{1}{n}\sum_{i=1}^{n}\begin{cases}\frac{1}{2}(y_i - \hat{y}_i)^2"
        r" & |y_i - \hat{y}_i| \le \delta \\"
        r" \delta\left(|y_i - \hat{y}_i| - \frac{1}{2}\delta\right)"
        r" & |y_i - \hat{y}_i| > \delta\end{cases},\quad \delta = 1"
    ),
    "binary_crossentropy": (
        r"L = -\frac{1}{n}\sum_{i=1}^{n}"
        r"\left[y_i \log \hat{p}_i + (1 - y_i)\log(1 - \hat{p}_i)\right]"
    ),
    "binary_focal_crossentropy": (
        r"L = -\frac{1}{n}\sum_{i=1}^{n}\left[y_i (1 - \hat{p}_i)^{\gamma}\log \hat{p}_i"
        r" + (1 - y_i)\,\hat{p}_i^{\gamma}\log(1 - \hat{p}_i)\right],\quad \gamma = 2"
    ),
    "categorical_crossentropy": (
        r"L = -\frac{1}{n}\sum_{i=1}^{n}\sum_{c=1}^{k} y_{ic}\log \hat{p}_{ic}"
    ),
    "categorical_focal_crossentropy": (
        r"L = -\frac{1}{n}\sum_{i=1}^{n}\sum_{c=1}^{k}\alpha\,(1 - \hat{p}_{ic})^{\gamma}"
        r"\,y_{ic}\log \hat{p}_{ic},\quad \alpha = 0.25,\ \gamma = 2"
    ),
    "l2": r"L_{\text{total}} = L + \lambda \sum_{j} w_j^2",
    "gradient_batch": (
        r"g_t = \frac{1}{|B_t|}\sum_{i \in B_t}"
        r" \nabla_{\theta}\, \ell\big(y_i, f_{\theta_t}(x_i)\big)"
    ),
    "gradient_full": (
        r"g_t = \frac{1}{n}\sum_{i=1}^{n} \nabla_{\theta}\, \ell\big(y_i, f_{\theta_t}(x_i)\big)"
    ),
    "dp_sgd": (
        r"\begin{aligned} &B_t = \{\, i : u_i < q \,\},\quad u_i \sim U(0, 1) \\"
        r" &\bar{g}_i = \nabla_{\theta}\, \ell\big(y_i, f_{\theta_t}(x_i)\big)"
        r" \cdot \min\!\left(1, \frac{C}{\lVert \nabla_{\theta}\, \ell_i \rVert_2}\right) \\"
        r" &g_t = \frac{1}{q\,n}\left(\sum_{i \in B_t} \bar{g}_i"
        r" + \mathcal{N}\!\left(0,\ \sigma^2 C^2 I\right)\right) \end{aligned}"
    ),
    "schedule_cosine": (r"\eta_t = \eta_0 \cdot \frac{1}{2}\left(1 + \cos\frac{\pi t}{T}\right)"),
    "schedule_plateau": (r"\eta \leftarrow \max\left(\tfrac{1}{2}\,\eta,\ 10^{-7}\right)"),
}


# --- helpers -----------------------------------------------------------------------------------


def _current_learning_rate(optimizer: Any) -> float:
    # A Variable (constant rate) or a tensor (schedule); .numpy() avoids Keras' np.array() path,
    # which warns under numpy 2.
    return float(optimizer.learning_rate.numpy())


def _checked_arrays(
    X: np.ndarray, y: np.ndarray, task: str, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    if task not in TASKS:
        raise UserError("train.error.task", value=task, allowed=", ".join(TASKS))
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] < 1:
        raise UserError("train.error.no_features")
    if len(X) == 0:
        raise UserError("train.error.no_rows")
    if len(X) != len(y):
        raise UserError("train.error.length_mismatch", rows=len(X), targets=len(y))
    if not np.isfinite(X).all():
        raise UserError("train.error.non_finite_features")
    if task == "regression":
        y = y.astype(np.float32)
        if not np.isfinite(y).all():
            raise UserError("train.error.non_finite_target")
        return X, y
    if task == "binary" and n_classes != 2:
        raise UserError("train.error.binary_classes", count=n_classes)
    if n_classes < 2:
        raise UserError("train.error.multiclass_classes", count=n_classes)
    codes = y.astype(np.int64) if np.issubdtype(y.dtype, np.number) else None
    if codes is None or not np.array_equal(codes, y) or codes.min() < 0 or codes.max() >= n_classes:
        raise UserError("train.error.class_codes", count=n_classes)
    return X, codes


def _validate_train_spec(spec: TrainSpec) -> None:
    if spec.optimizer not in optimizer_names():
        raise UserError(
            "train.error.optimizer", value=spec.optimizer, allowed=", ".join(optimizer_names())
        )
    low, high = LEARNING_RATE_RANGE
    rate = spec.learning_rate
    if not _is_number(rate) or not low * (1 - 1e-9) <= rate <= high * (1 + 1e-9):
        raise UserError("train.error.learning_rate", value=rate, low=f"{low:g}", high=f"{high:g}")
    if spec.batch_size is not None and (not _is_int(spec.batch_size) or spec.batch_size < 1):
        raise UserError("train.error.batch_size", value=spec.batch_size)
    if not _is_int(spec.epochs) or not EPOCHS_RANGE[0] <= spec.epochs <= EPOCHS_RANGE[1]:
        raise UserError("train.error.epochs", value=spec.epochs, max=EPOCHS_RANGE[1])
    if not _is_int(spec.patience) or not 1 <= spec.patience <= EPOCHS_RANGE[1]:
        raise UserError("train.error.patience", value=spec.patience, max=EPOCHS_RANGE[1])
    for name in ("early_stopping", "restore_best", "class_weights"):
        if not isinstance(getattr(spec, name), bool):
            raise UserError("train.error.not_boolean", field=name, value=getattr(spec, name))
    if spec.schedule not in SCHEDULES:
        raise UserError("train.error.schedule", value=spec.schedule, allowed=", ".join(SCHEDULES))
    if not _is_int(spec.seed) or not 0 <= spec.seed <= MAX_SEED:
        raise UserError("train.error.seed", value=spec.seed, max=MAX_SEED)
    validate_dp_fields(spec)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
