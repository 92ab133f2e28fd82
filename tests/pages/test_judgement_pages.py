"""Data and Preprocess pages: special categories, identifiers and groups are flagged; split by
group is proposed, explained and compared with a row split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from apptest_helpers import open_app

from core.data.loading import load_bytes
from core.data.profile import profile_frame
from core.i18n import t


def panel_csv() -> bytes:
    rng = np.random.default_rng(0)
    persons, years = 60, 5
    rows = persons * years
    regions = rng.choice(["north_east", "south", "rural_area"], persons)
    frame = pd.DataFrame(
        {
            "nr": np.repeat(np.arange(1000, 1000 + persons), years),
            "black": np.repeat(rng.integers(0, 2, persons), years),
            "residence": np.repeat(regions, years),
            "exper": rng.integers(0, 20, rows),
            "wage": np.repeat(rng.normal(10, 2, persons), years) + rng.normal(0, 0.3, rows),
        }
    )
    return frame.to_csv(index=False).encode()


def _state() -> dict:
    dataset = load_bytes(panel_csv(), "panel.csv")
    return {"dataset": dataset, "profile": profile_frame(dataset.frame)}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_data_page_flags_groups_special_categories_and_regions(lang: str):
    at = open_app(lang, "pages/data.py", state=_state())
    table = next(
        df.value for df in at.dataframe if t("special.page.col.flags", lang) in df.value.columns
    )
    names = table[t("datapage.col.name", lang)].tolist()
    flags = dict(zip(names, table[t("special.page.col.flags", lang)], strict=True))
    roles = dict(zip(names, table[t("datapage.col.role", lang)], strict=True))
    assert roles["nr"] == t("profile.role.group", lang)
    assert t("privacy.category.ethnicity", lang) in flags["black"]
    assert flags["residence"] == t("special.page.quasi_identifier", lang)
    assert any("nr" in w.value for w in at.warning), "the group alert names the column"


def test_preprocess_proposes_split_by_group_explains_it_and_compares():
    at = open_app("en", "pages/preprocess.py", state=_state())
    target = next(s for s in at.selectbox if s.label == t("preppage.target", "en"))
    assert target.value == "wage", "never the grouping key"
    group = next(s for s in at.selectbox if s.label == t("special.page.split_by_group", "en"))
    assert group.value == "nr"
    assert any("Split by nr" in c.value for c in at.caption)
    at.button(key="pp_compare_splits").click().run()
    assert not at.exception, at.exception
    assert any("groups sit in both training and test" in i.value for i in at.info)
    at.button(key="pp_prepare").click().run()
    prepared = at.session_state["prepared"]
    assert prepared.spec.group == "nr"
    train = set(prepared.splits.X_train["nr"])
    assert not train & set(prepared.splits.X_test["nr"])
