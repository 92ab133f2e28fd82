"""Hyperparameter search: Optuna trials that are ordinary training jobs, with a live leaderboard.

- **Trials are training jobs.** Each trial is a `RunConfig` (the person's own config with the
  trial's hyperparameters) started by `core.train.runner.start_training`, so it trains in the
  compiled loop, queues in the server's `JobLimiter` with everyone else's runs, and runs on the
  Ray cluster when `MODELDESK_RAY_ADDRESS` is set, like any run.
- **Fair share.** A search runs at most `slots` trials at once (`MODELDESK_SEARCH_MAX_SLOTS`,
  default half the server's job slots, at least one), each admitted under its own owner name
  (`<session>#search<slot>`), so a session's search never takes every slot in a shared room.
- **Optuna** (imported only when a search starts): a seeded TPE sampler proposes each trial's
  hyperparameters; a successive-halving (or Hyperband) pruner reads the validation loss after
  every epoch (from the job's live history) and stops trials that trail the others.
- **Validation only.** Trials are ranked by their best validation loss; nothing here looks at
  the test rows. The test split is touched once, by the trial a person promotes (Evaluate) or by
  the CLI's winner.
- **Stop** ends the running trials (each keeps its best weights) and every finished trial.
- **Memory.** A finished trial keeps its weights only while it is among the best `KEEP_WEIGHTS`
  trials; its Keras model is always dropped (rebuilt from the weights when promoted).

With one slot and a trial count (no time budget), the same seed gives the same leaderboard.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.i18n import Message, UserError
from core.prep.pipeline import Prepared, prepare
from core.train.engine import BATCH_SIZES, EPOCHS_RANGE, JobLimiter, Run
from core.train.models import KINDS, MAX_ENSEMBLE_SIZE, MAX_HIDDEN_LAYERS, MAX_UNITS, main_metric
from core.train.runner import RunConfig, start_training

if TYPE_CHECKING:
    import optuna

PARAM_NAMES: tuple[str, ...] = (
    "kind",
    "layers",
    "units",
    "dropout",
    "l2",
    "learning_rate",
    "batch_size",
    "ensemble_size",
    "numeric_encoding",
)
PARAM_TYPES: tuple[str, ...] = ("float", "int", "categorical")
ENCODINGS: tuple[str, ...] = ("base", "ple")  # numbers as the plan says, or piecewise-linear
PRUNERS: tuple[str, ...] = ("halving", "hyperband", "none")
STATES: tuple[str, ...] = ("running", "complete", "pruned", "stopped", "failed")
MAX_TRIALS = 1000
MAX_BUDGET_SECONDS = 24 * 3600
KEEP_WEIGHTS = 5  # finished trials that keep their weights (the best ones), for "Use this trial"
POLL_S = 0.05  # how often a slot reads its running trial's history
RELEASE_WAIT_S = 10.0  # at most this long for an ended trial to give its server slot back
SMALL_TABLE_ROWS = 2000


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: a range (float, int; log scale or not) or a list of choices."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        _validate_param(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = asdict(self)
        data["choices"] = list(self.choices)
        return data


@dataclass(frozen=True)
class SearchSpace:
    """The hyperparameters a search tries; the rest of each trial's config is the person's."""

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        names = [param.name for param in self.params]
        if len(set(names)) != len(names):
            raise UserError("search.error.repeated_param")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (what the page shows as an editable table)."""
        return {"params": [param.to_dict() for param in self.params]}

    @classmethod
    def from_dict(cls, data: Any) -> SearchSpace:
        """A space from `to_dict` output; anything malformed is a UserError."""
        if not isinstance(data, dict) or not isinstance(data.get("params"), list):
            raise UserError("search.error.space_not_object")
        params = []
        for item in data["params"]:
            if not isinstance(item, dict) or set(item) - {f for f in Param.__dataclass_fields__}:
                raise UserError("search.error.space_not_object")
            try:
                params.append(Param(**item))
            except TypeError:
                raise UserError("search.error.space_not_object") from None
        return cls(tuple(params))


@dataclass(frozen=True)
class SearchSettings:
    """The budget (trials and/or seconds), seed, epochs per trial, pruner and parallel slots."""

    trials: int = 20
    budget_seconds: float | None = 60.0
    seed: int = 0
    max_epochs: int = 60
    patience: int = 8
    pruner: str = "halving"
    slots: int = 1

    def __post_init__(self) -> None:
        if not _is_int(self.trials) or not 1 <= self.trials <= MAX_TRIALS:
            raise UserError("search.error.trials", value=self.trials, max=MAX_TRIALS)
        budget = self.budget_seconds
        if budget is not None and (
            not isinstance(budget, int | float)
            or isinstance(budget, bool)
            or not math.isfinite(budget)
            or not 1 <= budget <= MAX_BUDGET_SECONDS
        ):
            raise UserError("search.error.budget", value=budget, max=MAX_BUDGET_SECONDS)
        if not _is_int(self.seed) or not 0 <= self.seed <= 2**31 - 1:
            raise UserError("train.error.seed", value=self.seed, max=2**31 - 1)
        if not _is_int(self.max_epochs) or not 1 <= self.max_epochs <= EPOCHS_RANGE[1]:
            raise UserError("train.error.epochs", value=self.max_epochs, max=EPOCHS_RANGE[1])
        if not _is_int(self.patience) or not 1 <= self.patience <= EPOCHS_RANGE[1]:
            raise UserError("train.error.patience", value=self.patience, max=EPOCHS_RANGE[1])
        if self.pruner not in PRUNERS:
            raise UserError("search.error.pruner", value=self.pruner, allowed=", ".join(PRUNERS))
        if not _is_int(self.slots) or self.slots < 1:
            raise UserError("search.error.slots", value=self.slots)


def default_space(task: str, n_rows: int) -> SearchSpace:
    """A search space that suits the task and the table's size.

    Small tables (under SMALL_TABLE_ROWS training rows) get small batches, narrower layers and
    more regularisation, where noise and overfitting decide; larger ones get bigger batches and
    wider layers, where capacity and steps per second do. The numbers' encoding and the model
    family (plain MLP or TabM) are searched on every table: which wins depends on the table.
    """
    small = n_rows < SMALL_TABLE_ROWS
    batches = (16, 32, 64) if small else (64, 128, 256, 512)
    return SearchSpace(
        (
            Param("kind", "categorical", choices=("mlp", "tabm")),
            Param("layers", "int", 1, 3),
            Param("units", "int", 16 if small else 64, 128 if small else 512, log=True),
            Param("dropout", "float", 0.0, 0.3),
            Param("l2", "float", 1e-6, 1e-2, log=True),
            Param("learning_rate", "float", 3e-4, 1e-2, log=True),
            Param("batch_size", "categorical", choices=batches),
            Param("ensemble_size", "categorical", choices=(8, 16, 32)),
            Param("numeric_encoding", "categorical", choices=ENCODINGS),
        )
    )


def max_slots(limiter: JobLimiter | None) -> int:
    """Trials one session's search may run at once: MODELDESK_SEARCH_MAX_SLOTS, else half the
    server's job slots (at least one), never more than the server has."""
    total = limiter.max_jobs if limiter is not None else (os.cpu_count() or 1)
    text = os.environ.get("MODELDESK_SEARCH_MAX_SLOTS", "").strip()
    try:
        wanted = int(text) if text else max(1, total // 2)
    except ValueError:
        wanted = max(1, total // 2)
    return max(1, min(wanted, total))


def trial_config(base: RunConfig, params: dict[str, Any], settings: SearchSettings) -> RunConfig:
    """The person's config with a trial's hyperparameters (and the search's epochs, early
    stopping on validation loss and seed)."""
    model, train, preprocess = base.model, base.train, base.preprocess
    kind = params.get("kind", model.kind if model.kind != "linear" else "mlp")
    width = params.get("units", model.hidden_layers[0] if model.hidden_layers else 32)
    depth = params.get("layers", len(model.hidden_layers) or 2)
    model = replace(
        model,
        kind=kind,
        hidden_layers=(int(width),) * int(depth),
        dropout=float(params.get("dropout", model.dropout)),
        l2=float(params.get("l2", model.l2)),
        ensemble_size=int(params.get("ensemble_size", model.ensemble_size)),
        batch_norm=model.batch_norm,
    )
    train = replace(
        train,
        learning_rate=float(params.get("learning_rate", train.learning_rate)),
        batch_size=params.get("batch_size", train.batch_size),
        epochs=settings.max_epochs,
        early_stopping=True,
        patience=settings.patience,
        restore_best=True,
        seed=settings.seed,
    )
    if params.get("numeric_encoding") == "ple":
        preprocess = with_piecewise_linear(preprocess)
    return RunConfig(preprocess, model, train)


def with_piecewise_linear(spec: Any) -> Any:
    """The plan with every kept, imputed numeric column encoded piecewise-linearly."""
    columns = tuple(
        replace(plan, scale="ple")
        if plan.action == "keep" and plan.kind == "numeric" and plan.impute != "none"
        else plan
        for plan in spec.columns
    )
    return replace(spec, columns=columns)


@dataclass
class TrialRecord:
    """One row of the leaderboard."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None  # best validation loss (what the search minimises)
    metric: float | None = None  # the main validation metric at that epoch (accuracy / MAE)
    epochs: int = 0  # epochs reached (a pruned trial: the epoch it was pruned at)
    seconds: float = 0.0
    finished_at: float | None = None  # seconds since the search started
    kept_weights: bool = False
    message: Message | None = None


@dataclass(frozen=True)
class SearchSnapshot:
    """What the page draws: status, trials so far (copies), the best trial, time."""

    status: str  # queued, running, stopped, finished, failed
    trials: list[TrialRecord]
    best: int | None
    elapsed: float
    message: Message | None
    metric: str
    planned: int

    @property
    def done(self) -> bool:
        """Whether the search has ended."""
        return self.status in ("stopped", "finished", "failed")


class Search:
    """An Optuna search in a background thread; its trials are training jobs."""

    def __init__(
        self,
        frame: pd.DataFrame,
        base: RunConfig,
        space: SearchSpace,
        settings: SearchSettings,
        *,
        limiter: JobLimiter | None = None,
        owner: str | None = None,
        prepared: Prepared | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.frame = frame
        self.base = base
        self.space = space
        self.settings = settings
        self.limiter = limiter
        self.owner = owner
        self.task = base.preprocess.task
        self.metric = main_metric(self.task)
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = "queued"
        self._message: Message | None = None
        self._records: dict[int, TrialRecord] = {}
        self._runs: dict[int, Run] = {}
        self._configs: dict[int, RunConfig] = {}
        self._jobs: dict[int, Any] = {}
        self._prepared: dict[str, Prepared] = {}
        if prepared is not None:
            self._prepared[_encoding_key(base.preprocess)] = prepared
        self._started: float | None = None
        self._ended: float | None = None
        self.study: optuna.Study | None = None
        self.slots = min(settings.slots, max_slots(limiter)) if limiter else settings.slots

    # --- control ------------------------------------------------------------------------

    def start(self) -> Search:
        """Start the search in a background thread (Optuna is imported there)."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("a Search can be started once")
            self._started = self._clock()
            self._thread = threading.Thread(target=self._work, name="search", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop: running trials end now (each keeps its best weights), finished ones stay."""
        self._stop.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the search to end; True if it has."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        """Whether the search has ended."""
        return self._done.is_set()

    def heartbeat(self) -> None:
        """The owner's page is still polling: keep the search's trial owners alive."""
        if self.limiter is None or self.owner is None:
            return
        for slot in range(self.slots):
            self.limiter.heartbeat(self._slot_owner(slot))

    def snapshot(self) -> SearchSnapshot:
        """A consistent copy of the leaderboard, safe to read from any thread."""
        with self._lock:
            records = [replace(r, params=dict(r.params)) for r in self._records.values()]
            status, message = self._status, self._message
            started, ended = self._started, self._ended
        records.sort(key=lambda r: r.number)
        now = ended if ended is not None else self._clock()
        return SearchSnapshot(
            status=status,
            trials=records,
            best=best_number(records),
            elapsed=0.0 if started is None else now - started,
            message=message,
            metric=self.metric,
            planned=self.settings.trials,
        )

    def trial_run(self, number: int) -> tuple[Run, Prepared, RunConfig]:
        """A finished trial's run (weights included), its data and its config, to promote it
        into the run history (UserError when the trial kept no weights)."""
        with self._lock:
            run = self._runs.get(number)
            config = self._configs.get(number)
        if run is None or run.weights is None or config is None:
            raise UserError("search.error.no_weights", number=number)
        prepared = self._prepared[_encoding_key(config.preprocess)]
        copy = replace(run, model=None, name=f"{run.name}", metrics={})
        return copy, prepared, config

    # --- the search thread -----------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._search()
        except UserError as error:
            self._end("failed", error.message)
        except Exception as error:  # the thread must always end the search, never hang it
            self._end("failed", Message("search.message.error", {"error": str(error)}))

    def _search(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with self._lock:
            self._status = "running"
        self.study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=self.settings.seed),
            pruner=_pruner(self.settings),
        )
        asked = [0]
        ask_lock = threading.Lock()

        def next_trial() -> Any:
            with ask_lock:
                if self._stop.is_set() or asked[0] >= self.settings.trials or self._out_of_time():
                    return None
                asked[0] += 1
                assert self.study is not None
                return self.study.ask()

        workers = [
            threading.Thread(target=self._slot, args=(slot, next_trial), daemon=True)
            for slot in range(self.slots)
        ]
        for worker in workers:
            worker.start()
        deadline = self._deadline()
        while any(worker.is_alive() for worker in workers):
            if deadline is not None and self._clock() >= deadline and not self._stop.is_set():
                self._stop.set()  # the time budget: running trials stop and keep their best
                with self._lock:
                    jobs = list(self._jobs.values())
                for job in jobs:
                    job.stop()
            for worker in workers:
                worker.join(timeout=0.1)
        user_stopped = self._stop.is_set() and not self._out_of_time()
        self._end("stopped" if user_stopped else "finished", None)

    def _slot(self, slot: int, next_trial: Callable[[], Any]) -> None:
        while True:
            trial = next_trial()
            if trial is None:
                return
            try:
                self._run_trial(slot, trial)
            except Exception as error:  # one broken trial must not end its slot or hang the search
                with self._lock:
                    record = self._records.get(int(trial.number))
                    if record is not None:
                        record.state = "failed"
                        record.message = Message("search.message.error", {"error": str(error)})
                self._fail_quietly(trial)

    def _run_trial(self, slot: int, trial: Any) -> None:
        params = suggest(trial, self.space)
        number = int(trial.number)
        record = TrialRecord(number, "running", params)
        with self._lock:
            self._records[number] = record
        started = self._clock()
        try:
            config = trial_config(self.base, params, self.settings)
            prepared = self._prepared_for(config)
            job = start_training(
                prepared,
                config.model,
                config.train,
                limiter=self.limiter,
                name=f"trial-{number}",
                owner=None if self.owner is None else self._slot_owner(slot),
            )
        except UserError as error:
            self._tell(trial, record, "failed", started, message=error.message)
            return
        with self._lock:
            self._jobs[number] = job
        pruned_at = self._follow(trial, job)
        run = job.result()
        # The slot's next trial starts only once this one has given its server slot back, so
        # the search never holds more slots than it may.
        released_by = self._clock() + RELEASE_WAIT_S
        while self.limiter is not None and self.limiter.holds(job) and self._clock() < released_by:
            time.sleep(0.01)
        with self._lock:
            self._jobs.pop(number, None)
        reason = None if self.limiter is None else self.limiter.stop_reason(job)
        if reason is not None:  # the server stopped it (session gone, time budget): so the search
            with self._lock:
                self._message = reason
            self.stop()
        history = run.history
        losses = history.get("val_loss") or history.get("loss") or []
        if pruned_at is not None:
            losses = losses[:pruned_at]
        if not losses or not any(map(math.isfinite, losses)):
            state = "stopped" if run.status == "stopped" else "failed"
            self._tell(trial, record, state, started, message=run.message)
            return
        best = int(np.nanargmin(np.asarray(losses, dtype=np.float64)))
        metrics = history.get(f"val_{self.metric}") or history.get(self.metric) or []
        record.value = float(losses[best])
        record.metric = float(metrics[best]) if best < len(metrics) else None
        record.epochs = pruned_at if pruned_at is not None else len(losses)
        state = "pruned" if pruned_at is not None else "complete"
        if pruned_at is None and run.status == "stopped":
            state = "stopped"
        if pruned_at is None:
            run.model = None  # the Keras model goes; weights stay while among the best
            with self._lock:
                self._runs[number] = run
                self._configs[number] = config
        self._tell(
            trial, record, state, started, message=run.message if state != "complete" else None
        )
        self._keep_best_weights()

    def _follow(self, trial: Any, job: Any) -> int | None:
        """Report each new epoch's validation loss to Optuna while the job trains; the epoch it
        was pruned at, or None. A pruned job is stopped at once."""
        reported = 0
        while True:
            finished = job.done
            snapshot = job.snapshot()
            history = snapshot.history
            losses = history.get("val_loss") or history.get("loss") or []
            with self._lock:
                record = self._records.get(int(trial.number))
                if record is not None:
                    record.epochs = len(losses)
                    record.seconds = round(snapshot.elapsed, 2)
            while reported < len(losses):
                value = float(losses[reported])
                reported += 1
                if not math.isfinite(value):
                    continue
                trial.report(value, reported)
                if trial.should_prune():
                    job.stop()
                    job.join()
                    return reported
            if finished:
                return None
            job.join(POLL_S)

    def _tell(
        self,
        trial: Any,
        record: TrialRecord,
        state: str,
        started: float,
        message: Message | None = None,
    ) -> None:
        import optuna

        optuna_state = {
            "complete": optuna.trial.TrialState.COMPLETE,
            "stopped": optuna.trial.TrialState.COMPLETE,
            "pruned": optuna.trial.TrialState.PRUNED,
            "failed": optuna.trial.TrialState.FAIL,
        }[state]
        if record.value is None and optuna_state != optuna.trial.TrialState.PRUNED:
            optuna_state = optuna.trial.TrialState.FAIL  # stopped before its first epoch
        assert self.study is not None
        if optuna_state == optuna.trial.TrialState.COMPLETE:
            self.study.tell(trial, record.value)
        else:
            self.study.tell(trial, state=optuna_state)
        with self._lock:
            record.state = state
            record.message = message
            record.seconds = round(self._clock() - started, 2)
            record.finished_at = round(self._clock() - (self._started or 0.0), 2)

    def _keep_best_weights(self) -> None:
        with self._lock:
            ranked = sorted(
                (
                    r
                    for r in self._records.values()
                    if r.number in self._runs and r.value is not None
                ),
                key=lambda r: (r.value, r.number),
            )
            keep = {r.number for r in ranked[:KEEP_WEIGHTS]}
            for record in ranked:
                record.kept_weights = record.number in keep
                if record.number not in keep:
                    self._runs.pop(record.number, None)
                    self._configs.pop(record.number, None)

    def _prepared_for(self, config: RunConfig) -> Prepared:
        key = _encoding_key(config.preprocess)
        with self._lock:
            found = self._prepared.get(key)
        if found is None:
            found = prepare(self.frame, config.preprocess)
            with self._lock:
                found = self._prepared.setdefault(key, found)
        return found

    def _fail_quietly(self, trial: Any) -> None:
        import optuna

        try:
            assert self.study is not None
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError, AssertionError):
            pass  # already told

    def _slot_owner(self, slot: int) -> str:
        return f"{self.owner}#search{slot}"

    def _deadline(self) -> float | None:
        budget = self.settings.budget_seconds
        return None if budget is None or self._started is None else self._started + budget

    def _out_of_time(self) -> bool:
        deadline = self._deadline()
        return deadline is not None and self._clock() >= deadline

    def _end(self, status: str, message: Message | None) -> None:
        with self._lock:
            self._status = status
            self._message = message or self._message
            self._ended = self._clock()
            self._jobs.clear()
        self._done.set()


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """The trial's hyperparameters, asked of Optuna in the space's order; TabM's ensemble size
    only when the trial is a TabM model (conditional, so it never muddies the MLP trials)."""
    params: dict[str, Any] = {}
    for param in space.params:
        if param.name == "ensemble_size" and params.get("kind", "tabm") != "tabm":
            continue
        if param.type == "categorical":
            value = trial.suggest_categorical(param.name, list(param.choices))
        elif param.type == "int":
            low, high = int(param.low or 0), int(param.high or 0)
            value = trial.suggest_int(param.name, low, high, log=param.log)
        else:
            value = trial.suggest_float(param.name, param.low, param.high, log=param.log)
        params[param.name] = value
    return params


def best_number(records: list[TrialRecord]) -> int | None:
    """The trial with the lowest validation loss among those that finished (not pruned)."""
    done = [r for r in records if r.state in ("complete", "stopped") and r.value is not None]
    return min(done, key=lambda r: (r.value, r.number)).number if done else None


def leaderboard(records: list[TrialRecord], space: SearchSpace, metric: str) -> pd.DataFrame:
    """One row per trial, ranked by validation loss (pruned and failed trials after): rank,
    number, state, each hyperparameter, validation loss and metric, epochs, seconds."""
    rows = []
    ranked = sorted(
        records,
        key=lambda r: (
            r.state not in ("complete", "stopped"),
            math.inf if r.value is None else r.value,
            r.number,
        ),
    )
    for rank, record in enumerate(ranked, start=1):
        row: dict[str, Any] = {"rank": rank, "number": record.number, "state": record.state}
        for param in space.params:
            row[param.name] = record.params.get(param.name)
        row["val_loss"] = record.value
        row[f"val_{metric}"] = record.metric
        row["epochs"] = record.epochs
        row["seconds"] = record.seconds
        rows.append(row)
    columns = ["rank", "number", "state", *[p.name for p in space.params]]
    columns += ["val_loss", f"val_{metric}", "epochs", "seconds"]
    return pd.DataFrame(rows, columns=columns)


def best_so_far(records: list[TrialRecord]) -> tuple[list[float], list[float]]:
    """(seconds since the start, best validation loss so far) at each finished trial."""
    finished = sorted(
        (r for r in records if r.finished_at is not None and r.value is not None),
        key=lambda r: (r.finished_at, r.number),
    )
    times, values, best = [], [], math.inf
    for record in finished:
        if record.state in ("complete", "stopped"):
            best = min(best, float(record.value or math.inf))
        if math.isfinite(best):
            times.append(float(record.finished_at or 0.0))
            values.append(best)
    return times, values


def importance_figure(study: Any) -> Any | None:
    """Optuna's hyperparameter-importance figure (plotly), or None with too few trials."""
    return _optuna_figure(study, "plot_param_importances")


def parallel_figure(study: Any) -> Any | None:
    """Optuna's parallel-coordinates figure (plotly), or None with too few trials."""
    return _optuna_figure(study, "plot_parallel_coordinate")


def _optuna_figure(study: Any, name: str) -> Any | None:
    if study is None:
        return None
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return None
    try:
        return getattr(optuna.visualization, name)(study)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None  # e.g. every trial had the same values: nothing to rank


def _pruner(settings: SearchSettings) -> Any:
    import optuna

    if settings.pruner == "none":
        return optuna.pruners.NopPruner()
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=settings.max_epochs, reduction_factor=3
        )
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=max(1, settings.max_epochs // 20), reduction_factor=3
    )


def _encoding_key(spec: Any) -> str:
    return spec.to_json()


def _validate_param(param: Param) -> None:
    if param.name not in PARAM_NAMES:
        raise UserError("search.error.param", value=param.name, allowed=", ".join(PARAM_NAMES))
    if param.type not in PARAM_TYPES:
        raise UserError("search.error.param_type", name=param.name, value=param.type)
    if not isinstance(param.log, bool):
        raise UserError("train.error.not_boolean", field=f"{param.name}.log", value=param.log)
    if param.type == "categorical":
        allowed = _allowed_choices(param.name)
        if not param.choices or any(not _choice_ok(value, allowed) for value in param.choices):
            raise UserError("search.error.choices", name=param.name)
        return
    low, high = param.low, param.high
    bounds = _RANGES.get(param.name)
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (low, high)
    )
    if bounds is None or not numbers:
        raise UserError("search.error.range", name=param.name)
    assert low is not None and high is not None
    if not bounds[0] <= low <= high <= bounds[1] or (param.log and low <= 0):
        raise UserError("search.error.range_bounds", name=param.name, low=bounds[0], high=bounds[1])
    if param.type == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise UserError("search.error.range", name=param.name)


_RANGES: dict[str, tuple[float, float]] = {
    "layers": (1, MAX_HIDDEN_LAYERS),
    "units": (1, MAX_UNITS),
    "dropout": (0.0, 0.9),
    "l2": (0.0, 1.0),
    "learning_rate": (1e-5, 1.0),
    "ensemble_size": (1, MAX_ENSEMBLE_SIZE),
}


def _allowed_choices(name: str) -> tuple[Any, ...] | None:
    return {
        "kind": tuple(k for k in KINDS if k != "linear"),
        "batch_size": tuple(b for b in BATCH_SIZES if b is not None),
        "numeric_encoding": ENCODINGS,
        "ensemble_size": tuple(range(1, MAX_ENSEMBLE_SIZE + 1)),
        "layers": tuple(range(1, MAX_HIDDEN_LAYERS + 1)),
        "units": tuple(range(1, MAX_UNITS + 1)),
    }.get(name)


def _choice_ok(value: Any, allowed: tuple[Any, ...] | None) -> bool:
    if allowed is None:
        return False
    if isinstance(value, bool):
        return False
    return value in allowed


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
