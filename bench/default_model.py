"""Benchmark: the default model against scikit-learn's LogisticRegression on the same split.

Run: .venv/bin/python bench/default_model.py [--seed N] [SAMPLE ...]

For each built-in classification sample, the config a user gets without touching a control
(core.train.runner.default_config) is trained through the page's own path (start_training), and its
held-out test accuracy is printed beside the baselines of core.evaluate.metrics.baseline_metrics,
fitted on the same training split and scored on the same test rows.
Target: the default model reaches at least LogisticRegression's test accuracy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ("iris", "wine", "breast_cancer")


def main() -> int:
    """Train each sample's default model; print accuracies; exit 1 if any falls short."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", default=list(SAMPLES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from core.data.loading import SAMPLES as BUILT_IN
    from core.data.loading import load_sample
    from core.evaluate.metrics import evaluate_run
    from core.prep.pipeline import prepare
    from core.train.runner import default_config, start_training

    header = (
        f"{'sample':<14} {'rows':>5} {'test':>5} {'epochs':>6} {'seconds':>7} "
        f"{'network':>8} {'logistic':>8} {'majority':>8} {'gap':>7}  verdict"
    )
    print(f"default model vs LogisticRegression, test accuracy, seed {args.seed}")
    print(header)
    short = []
    for name in args.samples:
        frame = load_sample(name).frame
        config = default_config(frame, BUILT_IN[name].target, seed=args.seed)
        prepared = prepare(frame, config.preprocess)
        started = time.perf_counter()
        job = start_training(prepared, config.model, config.train, name=name)
        job.join()
        run = job.result()
        seconds = time.perf_counter() - started
        result = evaluate_run(prepared, run)
        network = result["test"]["accuracy"]
        logistic = result["baselines"]["logistic"]["accuracy"]
        majority = result["baselines"]["majority"]["accuracy"]
        gap = network - logistic
        verdict = "ok" if gap >= -1e-12 else "SHORT"
        if verdict != "ok":
            short.append(name)
        print(
            f"{name:<14} {len(frame):>5} {len(prepared.y_test):>5} {run.epochs_trained:>6} "
            f"{seconds:>7.1f} {network:>8.4f} {logistic:>8.4f} {majority:>8.4f} {gap:>+7.4f}  "
            f"{verdict} ({run.status})"
        )
    print("target met" if not short else f"target missed on: {', '.join(short)}")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
