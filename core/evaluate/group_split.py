"""The same table split by rows and by group, one quick model on each: the lesson of leakage.

When rows of one person (or town) sit on both sides of a row split, a model can score on the
test rows by remembering that person; split by person, it must generalise to new people. The two
test scores side by side show the gap. The model is scikit-learn's HistGradientBoosting (a
second, no TensorFlow), fitted on the training rows of each split through the same Preprocessor
the app uses, so only the split differs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.i18n import Message, UserError
from core.prep.pipeline import prepare
from core.prep.preprocessing import PreprocessSpec

BOOSTING_SEED = 0


@dataclass(frozen=True)
class SplitComparison:
    """Test scores of one model kind under a row split and under a group split."""

    metric: str  # "accuracy" or "r2"
    by_rows: float
    by_group: float
    shared_groups: int  # groups with rows in both training and test under the row split

    @property
    def message(self) -> Message:
        """One sentence on the gap."""
        return Message(
            f"special.lesson.comparison_{self.metric}",
            {
                "rows": round(self.by_rows, 3),
                "group": round(self.by_group, 3),
                "shared": self.shared_groups,
            },
        )


def compare_row_and_group_splits(frame: pd.DataFrame, spec: PreprocessSpec) -> SplitComparison:
    """Fit the same quick model on a row split and on `spec.group`'s split; both test scores."""
    if spec.group is None:
        raise UserError("special.error.no_group")
    by_group = prepare(frame, spec)
    by_rows = prepare(frame, replace(spec, group=None))
    train_groups = set(by_rows.splits.X_train[spec.group].astype(str))
    shared = len(train_groups & set(by_rows.splits.X_test[spec.group].astype(str)))
    metric = "r2" if spec.task == "regression" else "accuracy"
    return SplitComparison(metric, _score(by_rows), _score(by_group), shared)


def _score(prepared) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    regression = prepared.spec.task == "regression"
    model = (
        HistGradientBoostingRegressor(random_state=BOOSTING_SEED)
        if regression
        else HistGradientBoostingClassifier(random_state=BOOSTING_SEED)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(prepared.X_train, prepared.y_train)
    return float(model.score(prepared.X_test, np.asarray(prepared.y_test)))
