"""The pipeline object: splits, preprocessing fitted on the training rows only, model-ready arrays.

`prepare()` is the one way a dataset and a `PreprocessSpec` become a `Prepared`; every later step
(train, evaluate, deploy, compliance) consumes a `Prepared` and never refits the preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.prep.preprocessing import Preprocessor, PreprocessSpec, Splits, split_frame


@dataclass(frozen=True, eq=False)
class Prepared:
    """Splits, the preprocessing fitted on the training rows only, and the model-ready arrays."""

    spec: PreprocessSpec
    splits: Splits
    preprocessor: Preprocessor
    X_train: np.ndarray
    X_val: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray

    @property
    def feature_names(self) -> list[str]:
        """Names of the model's input columns after preprocessing."""
        return list(self.preprocessor.feature_names_)


def prepare(frame: pd.DataFrame, spec: PreprocessSpec) -> Prepared:
    """Split by the spec, fit the preprocessing on the training split only, transform all three."""
    splits = split_frame(frame, spec)
    preprocessor = Preprocessor(spec).fit(splits.X_train, splits.y_train)
    return Prepared(
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
