"""The editable plan table round-trips to a spec, and prepare() fits on training rows only."""

import numpy as np
import pandas as pd
import pytest

from core.i18n import UserError
from core.prep.pipeline import prepare
from core.prep.plan_table import apply_plan_table, plan_table
from core.prep.preprocessing import USER_CHOICE, default_spec


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            "joined": pd.date_range("2020-01-01", periods=n, freq="D"),
            "bought": rng.choice(["yes", "no"], n),
        }
    )


def test_unedited_table_gives_back_the_same_spec(frame):
    spec = default_spec(frame, "bought")
    assert apply_plan_table(spec, plan_table(spec)) == spec


def test_table_shows_reasons_in_the_chosen_language(frame):
    spec = default_spec(frame, "bought")
    english, chinese = plan_table(spec, "en"), plan_table(spec, "zh")
    assert list(english["column"]) == ["age", "city", "joined"]
    assert english["reason"].tolist() != chinese["reason"].tolist()


def test_an_edit_changes_only_that_column_and_marks_it_as_the_users(frame):
    spec = default_spec(frame, "bought")
    table = plan_table(spec)
    table.loc[table["column"] == "age", ["scale", "clip_low", "clip_high"]] = ["minmax", 0.05, 0.95]
    edited = apply_plan_table(spec, table)
    age = edited.column("age")
    assert (age.scale, age.clip, age.reason) == ("minmax", (0.05, 0.95), USER_CHOICE)
    assert edited.column("city") == spec.column("city")


def test_switching_kind_completes_dependent_choices(frame):
    spec = default_spec(frame, "bought")
    table = plan_table(spec)
    table.loc[table["column"] == "age", "kind"] = "categorical"
    age = apply_plan_table(spec, table).column("age")
    assert age.kind == "categorical" and age.impute == "most_frequent"


def test_invalid_edit_is_a_user_error(frame):
    spec = default_spec(frame, "bought")
    table = plan_table(spec)
    table.loc[table["column"] == "age", ["clip_low", "clip_high"]] = [0.9, 0.1]
    with pytest.raises(UserError):
        apply_plan_table(spec, table)


def test_prepare_gives_model_ready_arrays_from_training_statistics(frame):
    spec = default_spec(frame, "bought")
    prepared = prepare(frame, spec)
    total = len(prepared.y_train) + len(prepared.y_val) + len(prepared.y_test)
    assert total == len(frame)
    assert prepared.X_train.dtype == np.float32
    assert prepared.X_train.shape[1] == len(prepared.feature_names)
    # Standard scaling learned on the training rows: their mean is 0, the others' need not be.
    age = prepared.feature_names.index(next(n for n in prepared.feature_names if "age" in n))
    assert abs(prepared.X_train[:, age].mean()) < 1e-5
    assert set(np.unique(prepared.y_train)) == {0, 1}
