"""Benchmark: Shapley attributions on the original columns (core.evaluate.explain) against shap.

Run: .venv/bin/python bench/explain.py [--samples iris,tips] [--kernel-rows N] [--epochs E]

For every built-in sample (core.data.loading.SAMPLES) a default model is trained briefly, then
the same explained output (regression value, positive-class or predicted-class probability) is
explained against the same 50 background training rows by:

- ours: core.evaluate.explain.Explainer, on the original columns;
- shap.KernelExplainer on the encoded features with model.predict (what a user would write:
  `shap.KernelExplainer(f, background)`, nsamples="auto"). It is slow, so it explains
  --kernel-rows rows and its 200-row time is that per-row time x 200 (marked "~");
- shap.PermutationExplainer over the same grouped columns (each column's value is the index of
  the row it comes from, so shap's masker swaps whole columns): the maintained-library route.
  Its first call in a process JIT-compiles shap's masking with numba; that cold call is timed
  once, on the first sample, and shown apart. It explains --permutation-rows rows; its 200-row
  time is extrapolated the same way (marked "~").

Printed per sample: columns, encoded features, seconds for 1 row (median of 3) and for 200 rows
(test rows repeated up to 200), the largest additivity error |base + sum - output| (relative to
the output's range), and Kernel's time over ours. Targets: ours <= 1 s for one row and <= 30 s
for 200 rows on every sample, and >= 10x faster than KernelExplainer at the same additivity.
The load average is printed beside the figures: on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
ROWS = 200
REPEATS = 3


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="", help="comma-separated; default: every sample")
    parser.add_argument("--kernel-rows", type=int, default=3)
    parser.add_argument("--permutation-rows", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--no-permutation", action="store_true", help="skip shap Permutation")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("shap").setLevel(logging.ERROR)
    from core.data.loading import SAMPLES

    names = [n for n in args.samples.split(",") if n] or list(SAMPLES)
    print(f"cores: {os.cpu_count()}; load average at start {load()}")
    header = (
        f"{'sample':<14}{'task':<11}{'cols':>5}{'feats':>6} | {'ours 1':>7}{'ours 200':>9}"
        f"{'add.err':>9} | {'kernel 1':>9}{'kernel 200':>11}{'add.err':>9} | "
        f"{'perm 1':>7}{'perm 200':>9} | {'kern/ours':>9} | load"
    )
    print(header)
    print("-" * len(header))
    cold_note = ""
    for number, name in enumerate(names):
        result = bench_sample(name, args, first=number == 0 and not args.no_permutation)
        if result.get("perm_cold") is not None:
            cold_note = (
                f"shap Permutation's first call in this process (numba JIT included): "
                f"{result['perm_cold']:.2f} s for one row ({name})"
            )
        perm1 = "-" if result["perm_1"] is None else f"{result['perm_1']:.3f}"
        perm200 = "-" if result["perm_200"] is None else f"~{result['perm_200']:.0f}"
        print(
            f"{name:<14}{result['task']:<11}{result['columns']:>5}{result['features']:>6} | "
            f"{result['ours_1']:>7.3f}{result['ours_200']:>9.2f}{result['ours_error']:>9.1e} | "
            f"{result['kernel_1']:>9.2f}{'~' + format(result['kernel_200'], '.0f'):>11}"
            f"{result['kernel_error']:>9.1e} | {perm1:>7}{perm200:>9} | "
            f"{result['kernel_200'] / result['ours_200']:>8.0f}x | {load()}"
        )
    if cold_note:
        print(cold_note)
    print(f"load average at end {load()}")


def bench_sample(name: str, args: argparse.Namespace, *, first: bool) -> dict:
    from core.data.loading import SAMPLES, load_sample
    from core.evaluate.explain import Explainer, column_groups
    from core.prep.pipeline import prepare
    from core.train.runner import default_config, start_training

    frame = load_sample(name).frame
    config = default_config(frame, SAMPLES[name].target)
    train = replace(config.train, epochs=args.epochs, early_stopping=False)
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, train, name=name)
    assert job.join(timeout=600)
    run = job.result()
    model = run.build_model()
    explainer = Explainer(prepared.preprocessor, model, prepared.splits.X_train, seed=0)
    test = prepared.splits.X_test
    rows = pd.concat([test] * (ROWS // len(test) + 1)).iloc[:ROWS]
    one = rows.iloc[:1]
    explainer.explain(one)  # warm-up: TensorFlow's first calls at these shapes
    ours_1 = statistics.median(_seconds(lambda: explainer.explain(one)) for _ in range(REPEATS))
    start = time.perf_counter()
    explanation = explainer.explain(rows)
    ours_200 = time.perf_counter() - start
    spread = max(float(np.ptp(explanation.outputs)), 1e-12)
    result = {
        "task": prepared.spec.task,
        "columns": len(explanation.columns),
        "features": prepared.X_train.shape[1],
        "ours_1": ours_1,
        "ours_200": ours_200,
        "ours_error": explanation.additivity_error() / spread,
    }
    background = prepared.preprocessor.transform(explainer.background_sample)
    encoded = prepared.preprocessor.transform(rows)
    classes = _explained_classes(explanation, prepared)
    result |= _kernel(model, background, encoded, classes, args.kernel_rows, prepared.spec.task)
    result["kernel_error"] /= spread
    result |= {"perm_1": None, "perm_200": None, "perm_cold": None}
    if not args.no_permutation:
        groups = column_groups(prepared.preprocessor)
        result |= _permutation(
            explainer, groups, background, encoded, classes, args.permutation_rows, first=first
        )
    return result


def _explained_classes(explanation, prepared) -> np.ndarray:
    labels = [str(label) for label in prepared.preprocessor.classes_]
    if prepared.spec.task != "multiclass":
        return np.zeros(explanation.rows, dtype=np.int64)
    return np.array([labels.index(label) for label in explanation.explained_class])


def _scalar(scores: np.ndarray, task: str, code: int) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    return scores if task != "multiclass" else scores[:, code]


def _kernel(model, background, encoded, classes, count: int, task: str) -> dict:
    """shap.KernelExplainer on the encoded features, as a user would call it."""
    import shap

    seconds, errors = [], []
    for position in range(count):
        code = int(classes[position])

        def f(X: np.ndarray, code: int = code) -> np.ndarray:
            return _scalar(model.predict(X, verbose=0), task, code)

        start = time.perf_counter()
        kernel = shap.KernelExplainer(f, background)
        values = kernel.shap_values(encoded[position : position + 1], silent=True)
        seconds.append(time.perf_counter() - start)
        output = f(encoded[position : position + 1])[0]
        errors.append(abs(float(kernel.expected_value) + float(np.sum(values)) - output))
    per_row = statistics.median(seconds)
    return {"kernel_1": per_row, "kernel_200": per_row * ROWS, "kernel_error": max(errors)}


def _permutation(
    explainer, groups, background, encoded, classes, count: int, *, first: bool
) -> dict:
    """shap.PermutationExplainer over the grouped columns (row-index trick), same background."""
    import shap

    table = np.vstack([background, encoded]).astype(np.float32)
    g = len(groups)
    task = explainer.task

    def f(ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        mixed = np.empty((len(ids), table.shape[1]), dtype=np.float32)
        for column, group in enumerate(groups):
            mixed[:, group] = table[ids[:, column]][:, group]
        return explainer.outputs(mixed)

    def scalar_model(code: int):
        return lambda ids: _scalar(f(ids), task, code)

    background_ids = np.repeat(np.arange(len(background))[:, None], g, axis=1)
    row_ids = np.repeat(np.arange(len(background), len(table))[:, None], g, axis=1)
    masker = shap.maskers.Independent(background_ids, max_samples=len(background))
    result: dict = {"perm_cold": None}
    if first:
        start = time.perf_counter()
        shap.explainers.Permutation(scalar_model(0), masker, seed=0)(row_ids[:1], silent=True)
        result["perm_cold"] = time.perf_counter() - start

    def explain(count: int) -> None:
        # One explainer per explained class (multiclass rows explain their predicted class).
        for code in np.unique(classes[:count]):
            chosen = row_ids[:count][classes[:count] == code]
            explainer_ = shap.explainers.Permutation(scalar_model(int(code)), masker, seed=0)
            explainer_(chosen, max_evals=max(500, 2 * g + 1), silent=True)

    result["perm_1"] = statistics.median(_seconds(lambda: explain(1)) for _ in range(REPEATS))
    result["perm_200"] = _seconds(lambda: explain(count)) / count * ROWS
    return result


def _seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
