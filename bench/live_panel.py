"""What one participant costs the server, per piece, against the raw library beside it.

A room of 20 shares one Python process, so every millisecond a session holds the GIL is taken
from the others, from the training jobs and from the web server's event loop. This prints, in
one run on this machine:

1. One redraw of the live curves (100 epochs of loss and metric, and w and b): plotly figures
   built afresh each tick (what the Train page did) against `LiveFigure`, which updates the
   points of the figure it built last time, and the serialisation Streamlit does either way.
2. Scoring a finished run for its history (test and validation sets, and the membership
   attack's two sets): Keras `model.predict` (what collecting a run did) against
   `model_outputs` (plain inference calls), and the forward pass's arithmetic alone.
3. The Train page's architecture summary: a Keras build per participant against
   `describe_architecture`'s process-wide cache.

    .venv/bin/python bench/live_panel.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(action, repeat: int) -> float:
    """Median milliseconds of `action()` over `repeat` calls, after one warm-up call."""
    action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def curves(repeat: int) -> None:
    import plotly.io

    from core.train.figures import (
        LiveFigure,
        live_parameter_curves,
        live_training_curves,
        parameter_curves_figure,
        training_curves_figure,
    )

    epochs = 100
    history = {
        key: [1.0 / (e + 1) + (0.1 if key.startswith("val_") else 0) for e in range(epochs)]
        for key in ("loss", "val_loss", "mae", "val_mae")
    }
    parameters = {"w": [2 - 1 / (e + 1) for e in range(epochs)], "b": [1.0] * epochs}
    targets = {"w": 2.0, "b": 1.0}
    curves_live, parameters_live = LiveFigure(), LiveFigure()
    tick = {"n": 0}

    def fresh():
        training_curves_figure(history, "regression", "en", "mse")
        parameter_curves_figure(parameters, targets, "en")

    def live():
        # A new epoch's point each tick, as while training.
        tick["n"] += 1
        history["loss"][-1] = 1.0 / tick["n"]
        live_training_curves(curves_live, history, "regression", "en", "mse")
        live_parameter_curves(parameters_live, parameters, targets, "en")

    figure = training_curves_figure(history, "regression", "en", "mse")
    built, updated = timed(fresh, repeat), timed(live, repeat)
    serialised = timed(lambda: plotly.io.to_json(figure, validate=False), repeat)
    print("1. One redraw of the live curves (two figures, 100 epochs), median of", repeat)
    print(f"   built afresh (plotly validates every property): {built:7.2f} ms")
    print(f"   LiveFigure (points updated in place):            {updated:7.2f} ms")
    print(
        f"   plotly.io.to_json of one figure (Streamlit's share, either way): {serialised:.2f} ms"
    )
    print(
        f"   at 20 participants x 2 redraws a second: {20 * 2 * built / 1000:.2f} s of GIL per"
        f" second built afresh, {20 * 2 * updated / 1000:.2f} s with LiveFigure"
    )


def scoring(repeat: int) -> None:
    import numpy as np

    from core.train.models import ModelSpec, build_model, model_outputs

    model = build_model(ModelSpec(hidden_layers=(32, 16), dropout=0.1), 8, "binary", 2, seed=0)
    sets = [np.random.default_rng(i).normal(size=(60, 8)).astype(np.float32) for i in range(4)]
    weights = [w for w in model.get_weights() if w.ndim == 2]

    def by_predict():
        for X in sets:
            model.predict(X, batch_size=4096, verbose=0)

    def by_call():
        for X in sets:
            model_outputs(model, X)

    def arithmetic():  # the two hidden layers' and the output's matrix products, in numpy
        for X in sets:
            hidden = X
            for kernel in weights:
                hidden = np.maximum(hidden @ kernel, 0)

    print(f"\n2. Scoring a finished run: 4 sets of 60 rows, MLP 32-16, median of {repeat}")
    print(f"   Keras model.predict:                 {timed(by_predict, repeat):8.2f} ms")
    print(f"   model_outputs (model(X, training=False)): {timed(by_call, repeat):8.2f} ms")
    print(f"   the arithmetic alone (numpy matmuls):     {timed(arithmetic, repeat):8.3f} ms")


def summary(repeat: int) -> None:
    import core.train.models as models

    spec = models.ModelSpec(hidden_layers=(32, 16))

    def build_each_time():
        model = models.build_model(spec, 8, "binary", 2, 0)
        models.layer_table(model)
        models.parameter_count(model)

    cached = timed(lambda: models.describe_architecture(spec, 8, "binary", 2, 500, 32), repeat)
    builds = max(5, repeat // 10)
    print("\n3. The Train page's architecture summary, median of", builds)
    print(f"   a Keras build per participant:     {timed(build_each_time, builds):8.2f} ms")
    print(f"   describe_architecture, cached:     {cached:8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    curves(args.repeat)
    scoring(args.repeat)
    summary(args.repeat)


if __name__ == "__main__":
    main()
