"""Benchmark: what DP-SGD buys and costs, for ε in {∞, 8, 3, 1}.

Run: .venv/bin/python bench/private_training.py [--epochs E] [--datasets breast_cancer,gapminder]

On the breast-cancer sample (569 rows, binary) and the gapminder panel (1,704 country-years,
regression on life expectancy), the same network is trained with the same seed, batch size and
epochs: without DP (ε = ∞), then with DP-SGD (core.train.privacy) at target ε = 8, 3 and 1
(δ = 1/n rounded down to a power of ten, clipping norm 1, σ calibrated by dp-accounting's RDP
accountant over the planned steps). The network is deliberately prone to memorise (two hidden
layers of 128, no L2, no early stopping, last epoch kept) so there is something for DP to take
away. For each it prints the test metric (accuracy or R²), the ε actually spent, the
loss-threshold membership-inference attack's AUC (± standard error) and TPR at 1% FPR on the
training rows against the validation and test rows (core.evaluate.membership), and the
training time (start() to join(), tracing included) relative to the non-private run; a warm-up
run of each kind goes first so TensorFlow's one-off start costs count for neither.
With --lira N it adds the online LiRA attack (N shadow models of the same network and
settings, each on a random half of all rows; core.evaluate.membership.lira_audit).
Targets: the attack AUC falls toward 0.5 as ε falls; DP at most 5x slower on breast_cancer.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPSILONS: tuple[float, ...] = (math.inf, 8.0, 3.0, 1.0)
TARGETS = {"breast_cancer": "diagnosis", "gapminder": "lifeExp"}
SLOWDOWN_TARGET = 5.0


def main() -> int:
    """Train each dataset at each ε and print one row per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--datasets", default="breast_cancer,gapminder")
    parser.add_argument(
        "--lira", type=int, default=0, help="also the LiRA attack with this many shadow models"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf
    from absl import logging as absl_logging

    tf.get_logger().setLevel("ERROR")  # Keras' retracing notes on predict, once per run
    absl_logging.set_verbosity(absl_logging.ERROR)  # dp-accounting's notes on skipped orders
    from core.data.loading import load_sample
    from core.evaluate.membership import lira_audit, membership_audit
    from core.evaluate.metrics import headline_metric, predict_scores, test_metrics
    from core.prep.pipeline import prepare
    from core.train.engine import TrainingJob, TrainSpec
    from core.train.models import ModelSpec
    from core.train.runner import default_config

    model_spec = ModelSpec(hidden_layers=(128, 128), l2=0.0)
    base = TrainSpec(
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=args.batch,
        epochs=args.epochs,
        restore_best=False,
        seed=0,
    )
    print(
        f"MLP {model_spec.hidden_layers}, no L2, Adam 1e-3, batch {args.batch}, "
        f"{args.epochs} epochs, clipping norm 1"
    )
    ok = True
    for name in args.datasets.split(","):
        dataset = load_sample(name)
        config = default_config(dataset.frame, TARGETS[name], seed=0)
        prepared = prepare(dataset.frame, config.preprocess)
        task = prepared.spec.task
        metric = headline_metric(task)
        n_classes = len(prepared.preprocessor.classes_)

        def train(spec: TrainSpec, prepared=prepared, task=task, n_classes=n_classes):
            job = TrainingJob(
                model_spec,
                spec,
                task,
                n_classes,
                prepared.X_train,
                prepared.y_train,
                prepared.X_val,
                prepared.y_val,
            )
            started = time.perf_counter()
            job.start().join()
            return job.result(), time.perf_counter() - started

        train(replace(base, epochs=2))  # warm-ups
        train(replace(base, epochs=2, dp=True, dp_epsilon=8.0))
        print(
            f"\n{name}: {len(prepared.y_train)} training rows, "
            f"{len(prepared.y_val) + len(prepared.y_test)} held out, test metric {metric}"
        )
        print(
            f"{'target ε':>9} {'ε spent':>8} {'δ':>7} {'σ':>6} {metric:>9} {'attack AUC':>15} "
            f"{'TPR@1%FPR':>10} {'time s':>7} {'x plain':>8}"
            + (f" {'LiRA AUC':>15} {'LiRA TPR':>9}" if args.lira else "")
        )
        plain_seconds = None
        for epsilon in EPSILONS:
            spec = base if math.isinf(epsilon) else replace(base, dp=True, dp_epsilon=epsilon)
            run, seconds = train(spec)
            if plain_seconds is None:
                plain_seconds = seconds
            value = test_metrics(task, prepared.y_test, predict_scores(run, prepared.X_test))
            audit = membership_audit(prepared, run)
            privacy = run.privacy or {}
            spent = privacy.get("epsilon")
            ratio = seconds / plain_seconds
            lira_text = ""
            if args.lira:  # computed first, so the row prints in one piece
                lira = lira_audit(prepared, run, shadows=args.lira)
                lira_text = f" {lira.auc:>8.3f} ± {lira.auc_se:.3f} {lira.tpr_at_1pct_fpr:>9.3f}"
            print(
                f"{epsilon:>9g} {'∞' if spent is None else f'{spent:.2f}':>8} "
                f"{privacy.get('delta', float('nan')):>7.0e} "
                f"{privacy.get('noise_multiplier', 0.0):>6.2f} {value[metric]:>9.4f} "
                f"{audit.auc:>8.3f} ± {audit.auc_se:.3f} {audit.tpr_at_1pct_fpr:>10.3f} "
                f"{seconds:>7.2f} {ratio:>8.2f}{lira_text}",
                flush=True,
            )
            if name == "breast_cancer" and ratio > SLOWDOWN_TARGET:
                ok = False
    print(
        "\nslowdown target met" if ok else f"\nDP slower than {SLOWDOWN_TARGET}x on breast_cancer"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
