"""A ModelDesk bundle as an MLflow pyfunc model (MLflow's "models from code").

MLflow copies this file into the logged model and runs it when the model is loaded
(`mlflow.pyfunc.load_model`); nothing is pickled. The model takes raw rows, as the app's Deploy
page and `python -m core predict` do, and answers with the same table: the prediction, each
class's probability and why a row could not be predicted, from the bundle's own loader and
predictor (core.deploy.bundle), so it reproduces the app's predictions. The `core` package travels
with the model (`code_paths`). Only MLflow imports this module: it imports MLflow at the top.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

BUNDLE_ARTIFACT = "bundle"


class BundleModel(PythonModel):
    """Raw rows in, the bundle's predictions table out."""

    def load_context(self, context: Any) -> None:
        from core.deploy.bundle import read_bundle

        self.bundle = read_bundle(context.artifacts[BUNDLE_ARTIFACT])

    # No type hints here: MLflow would read them as a second, conflicting input schema.
    def predict(self, context, model_input, params=None):
        from core.deploy.bundle import predict_frame

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return predict_frame(self.bundle, frame)


mlflow.models.set_model(BundleModel())
