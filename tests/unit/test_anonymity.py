"""k-anonymity and l-diversity on tables small enough to check by hand; de-identification."""

import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import ric

from core.compliance.anonymity import (
    Action,
    DeidentifySpec,
    deidentify,
    generalise,
    k_anonymity,
    l_diversity,
    mask_values,
    new_pseudonym_key,
    pseudonymise,
    suggest_quasi_identifiers,
)
from core.i18n import UserError


@pytest.fixture
def patients() -> pd.DataFrame:
    # Groups on (age, gender, zip): (25,M,100) x2, (25,F,100) x1, (35,M,200) x3, (45,F,300) x1.
    return pd.DataFrame(
        {
            "age": [25, 25, 25, 35, 35, 35, 45],
            "gender": ["M", "M", "F", "M", "M", "M", "F"],
            "zip": ["100", "100", "100", "200", "200", "200", "300"],
            "disease": ["flu", "cold", "flu", "flu", "flu", "flu", "cancer"],
        }
    )


def test_k_anonymity_by_hand(patients):
    result = k_anonymity(patients, ["age", "gender", "zip"], k=2)
    assert result.k == 1
    assert result.groups == 4
    assert result.records == 7
    assert result.records_below_k == 2  # the two singletons
    assert result.unique_records == 2
    assert result.share_below_k == pytest.approx(2 / 7)
    assert result.unique_share == pytest.approx(2 / 7)
    assert not result.satisfied


def test_k_anonymity_counts_records_below_the_target(patients):
    result = k_anonymity(patients, ["age", "gender", "zip"], k=3)
    assert result.records_below_k == 4  # groups of 2, 1 and 1
    assert k_anonymity(patients, ["gender"], k=2).k == 2  # F x2, M x5
    assert k_anonymity(patients, ["gender"], k=2).satisfied


def test_missing_values_form_a_group_of_their_own():
    frame = pd.DataFrame({"zip": ["1", "1", None, None, np.nan]})
    result = k_anonymity(frame, ["zip"], k=2)
    assert (result.k, result.groups) == (2, 2)


def test_l_diversity_by_hand(patients):
    result = l_diversity(patients, ["age", "gender", "zip"], "disease", l=2)
    # (25,M): flu, cold -> 2; (25,F): 1; (35,M): flu x3 -> 1; (45,F): 1.
    assert result.l == 1
    assert result.groups == 4
    assert result.groups_below_l == 3
    assert result.records_below_l == 5
    assert result.share_below_l == pytest.approx(5 / 7)
    assert l_diversity(patients, ["age"], "disease", l=2).l == 1  # 35: flu only
    assert l_diversity(patients.iloc[:3], ["age"], "disease", l=2).satisfied


def test_unknown_columns_and_sensitive_as_quasi_are_user_errors(patients):
    with pytest.raises(UserError) as error:
        k_anonymity(patients, ["age", "postcode"])
    assert error.value.message.key == "anonymity.error.unknown_columns"
    with pytest.raises(UserError):
        l_diversity(patients, ["age", "disease"], "disease")


def test_quasi_identifier_suggestions_by_name_and_cardinality():
    frame = pd.DataFrame(
        {
            "年龄": [20 + i % 40 for i in range(100)],
            "sex": ["M", "F"] * 50,
            "postcode": [f"{i % 7:05d}" for i in range(100)],
            "city": ["Paris", "Lyon"] * 50,
            "customer_id": range(100),
            "score": np.linspace(0, 1, 100),
            "country": ["FR"] * 100,  # constant: no help in singling anyone out
        }
    )
    found = {s.column: s.kind for s in suggest_quasi_identifiers(frame)}
    assert found == {"年龄": "age", "sex": "gender", "postcode": "postcode", "city": "location"}
    assert all(
        s.reason.key.startswith("anonymity.quasi.reason_") for s in suggest_quasi_identifiers(frame)
    )


def test_mask_keeps_the_last_characters_and_missing_values():
    masked = mask_values(pd.Series(["13800138000", "abc", None]), keep_last=4)
    assert masked.tolist()[:2] == ["*******8000", "***"]
    assert masked.isna().tolist() == [False, False, True]
    assert mask_values(pd.Series(["secret"]), keep_last=0).tolist() == ["******"]


def test_keyed_pseudonyms_are_stable_per_key_and_differ_across_keys():
    key = b"k" * 32
    values = pd.Series(["alice", "bob", "alice", None])
    first = pseudonymise(values, key)
    assert first[0] == first[2] != first[1]
    assert pd.isna(first[3])
    expected = hmac.new(key, b"alice", hashlib.sha256).hexdigest()[:16]
    assert first[0] == expected
    assert pseudonymise(values, b"x" * 32)[0] != first[0]
    assert len(new_pseudonym_key()) == 32


def test_generalise_age_bands_years_and_resident_ids():
    assert generalise(pd.Series([5, 34, 39, None]), "age_band").tolist() == [
        "0-9",
        "30-39",
        "30-39",
        None,
    ]
    assert generalise(pd.Series([25, 47]), "age_band", band_width=5).tolist() == ["25-29", "45-49"]
    years = generalise(pd.Series(["1990-05-01", "2001-12-31", "not a date"]), "year")
    assert years.tolist()[:2] == [1990, 2001] and pd.isna(years[2])
    body = "11010519491231002"
    number = body + ric.calc_check_digit(body + "0")
    assert generalise(pd.Series([number, "123"]), "cn_id_region").tolist() == ["110000-1949", None]


def test_deidentify_returns_a_new_frame_and_never_changes_the_input(patients):
    frame = patients.assign(name=["A", "B", "C", "D", "E", "F", "G"])
    before = frame.copy()
    spec = DeidentifySpec(
        actions=(Action("name", "drop"), Action("age", "generalise", method="age_band")),
        quasi_identifiers=("age", "gender"),
        k=2,
        suppress=True,
    )
    result = deidentify(frame, spec, direct_identifiers=["name"])
    pd.testing.assert_frame_equal(frame, before)
    assert "name" not in result.frame.columns
    # (20-29,M) x2, (20-29,F) x1 -> suppressed, (30-39,M) x3, (40-49,F) x1 -> suppressed.
    assert result.suppressed == 2
    assert len(result.frame) == 5
    assert result.k_before.k == 1 and result.k_after.k == 2
    assert result.label == "anonymised"
    assert result.reason.key == "anonymity.reason.anonymised"


def test_pseudonymised_data_is_labelled_as_still_personal(patients):
    frame = patients.assign(email=[f"u{i}@example.com" for i in range(7)])
    spec = DeidentifySpec(
        actions=(Action("email", "pseudonymise"),), quasi_identifiers=("gender",), k=2
    )
    result = deidentify(frame, spec, key=b"session-key-32-bytes-long-000000")
    assert result.label == "pseudonymised"
    assert result.reason.key == "anonymity.reason.pseudonym"
    assert not result.frame["email"].str.contains("@").any()
    with pytest.raises(UserError):
        deidentify(frame, spec, key=None)


def test_identifiers_left_in_place_or_small_groups_mean_pseudonymised(patients):
    frame = patients.assign(email=[f"u{i}@example.com" for i in range(7)])
    kept = deidentify(frame, DeidentifySpec(quasi_identifiers=("gender",), k=2))
    assert kept.label == "pseudonymised"  # the scan of the output still finds the emails
    assert kept.reason.key == "anonymity.reason.identifiers_remain"
    small = deidentify(patients, DeidentifySpec(quasi_identifiers=("age", "zip"), k=2))
    assert small.label == "pseudonymised"
    assert small.reason.key == "anonymity.reason.k_not_met"
    no_quasi = deidentify(patients, DeidentifySpec())
    assert no_quasi.reason.key == "anonymity.reason.no_quasi"


def test_spec_round_trips_through_json_without_any_key():
    spec = DeidentifySpec(
        actions=(
            Action("phone", "mask", keep_last=3),
            Action("id", "generalise", method="cn_id_region"),
        ),
        quasi_identifiers=("age",),
        k=3,
        suppress=True,
    )
    text = spec.to_json()
    assert DeidentifySpec.from_json(text) == spec
    assert "key" not in text.replace("keep_last", "")
    with pytest.raises(UserError):
        DeidentifySpec.from_json('{"actions": [{"column": "x", "kind": "explode"}]}')
