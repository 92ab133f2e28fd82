"""The Deploy page through app.py: needs a run; predicts one row and a file; offers the bundle."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pandas as pd
import pytest
from apptest_helpers import open_app, train_first_model
from streamlit.testing.v1 import AppTest

from core.data.loading import load_sample
from core.evaluate.metrics import evaluate_run, metrics_document
from core.prep.pipeline import prepare
from core.train.runner import default_config, start_training


@pytest.fixture(scope="module")
def iris_run():
    frame = load_sample("iris").frame
    config = default_config(frame, "species")
    config = replace(config, train=replace(config.train, epochs=3, early_stopping=False))
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, config.train, name="iris")
    assert job.join(timeout=120)
    run = job.result()
    run.metrics = metrics_document(evaluate_run(prepared, run))
    return prepared, run


def deploy_page(lang: str = "en", run_and_data=None) -> AppTest:
    state = {}
    if run_and_data is not None:
        prepared, run = run_and_data
        state = {"runs": {run.run_id: run}, "run_data": {run.run_id: prepared}}
    return open_app(lang, "pages/deploy.py", state=state, timeout=120)


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.get("file_uploader")[0].set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception, at.exception


@pytest.mark.parametrize(("lang", "word"), [("en", "Train"), ("zh", "训练")])
def test_without_a_run_the_page_says_to_train_first(lang, word):
    at = deploy_page(lang)
    assert at.title[0].value == ("Deploy" if lang == "en" else "部署")
    assert any(word in warning.value for warning in at.warning)
    assert not at.get("tab")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_row_form_predicts_class_probabilities(iris_run, lang):
    at = deploy_page(lang, iris_run)
    assert len(at.number_input) == 4, "one number field per iris measurement"
    at.number_input[2].set_value(1.4)  # petal length of a setosa
    at.button(key="deploy_predict_one").click().run()
    assert not at.exception, at.exception
    result = at.session_state["_scratch"]["deploy_one"]
    table = result["table"]
    probabilities = table[[c for c in table.columns if c.startswith("probability_")]]
    assert abs(probabilities.iloc[0].sum() - 1) < 1e-5
    shown = at.dataframe[0].value
    assert len(shown) == 3 and shown.iloc[:, 1].is_monotonic_decreasing


def test_a_number_outside_the_training_range_is_flagged(iris_run):
    at = deploy_page("en", iris_run)
    at.number_input[0].set_value(99.0)
    at.button(key="deploy_predict_one").click().run()
    assert any("outside the training range" in warning.value for warning in at.warning)


def test_batch_upload_predicts_reports_bad_rows_and_survives_a_bad_file(iris_run):
    prepared, _run = iris_run
    at = deploy_page("en", iris_run)
    rows = prepared.splits.X_test.head(6).astype(object)
    rows.iloc[2, 0] = "twelve"
    rows["note"] = "extra"
    upload(at, "new_rows.csv", rows.to_csv(index=False).encode())
    batch = at.session_state["_scratch"]["deploy_batch"]
    assert len(batch["table"]) == 6
    assert batch["table"]["error"].tolist()[2].startswith("Row 3")
    assert any("could not be predicted" in w.value for w in at.warning)
    assert any("note" in info.value for info in at.info), "extra columns are noticed"
    csv_button = at.get("download_button")
    assert csv_button, "predictions download"

    upload(at, "broken.xlsx", b"this is not a workbook\n")
    assert at.error, "a bad file is a translated error, not a crash"
    kept = at.session_state["_scratch"]["deploy_batch"]
    assert kept["name"] == "new_rows.csv", "the last predictions stay"
    assert any("new_rows.csv" in c.value.replace("\\", "") for c in at.caption)

    upload(at, "short.csv", rows.drop(columns=["petal width (cm)"]).to_csv(index=False).encode())
    assert any("petal width (cm)" in e.value.replace("\\", "") for e in at.error)


def test_export_offers_the_bundle_and_the_training_code(iris_run):
    at = deploy_page("zh", iris_run)
    keys = [button.proto.id for button in at.get("download_button")]
    assert any("deploy_bundle" in key for key in keys)
    assert any("deploy_code" in key for key in keys)
    (archive,) = [value for key, value in at.session_state["_session_cache"].items()
                  if key[0] == "deploy_zip"]  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        names = set(zipped.namelist())
        card = zipped.read("README.md").decode("utf-8")
    assert {"predict.py", "README.md", "requirements.txt", "model.keras"} <= names
    assert "## 预期用途" in card


def test_compress_shows_three_formats(iris_run):
    at = deploy_page("en", iris_run)
    at.button(key="deploy_tflite").click().run()
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "Format" in df.value.columns)
    assert len(table) == 3 and table["Format"].str.contains("TensorFlow Lite").sum() == 2


def test_the_first_model_preset_run_predicts_a_value_on_deploy():
    at = train_first_model(open_app("en", "pages/train.py", timeout=120), epochs=20)
    at.switch_page("pages/deploy.py")
    at.run()
    assert not at.exception, at.exception
    at.number_input[0].set_value(3.0)
    at.button(key="deploy_predict_one").click().run()
    value = at.session_state["_scratch"]["deploy_one"]["table"]["prediction"].iloc[0]
    assert abs(value - 7.0) < 3.0, "y = 2x + 1 at x = 3, roughly, after 20 epochs"
    assert isinstance(at.session_state["_scratch"]["deploy_one"]["table"], pd.DataFrame)


def test_the_batch_preview_shows_formula_cells_quoted(iris_run):
    # A spreadsheet runs formula cells: the preview's toolbar CSV wrote =HYPERLINK(...) cells
    # unchanged.
    from core.export_safety import FORMULA_STARTS

    prepared, _run = iris_run
    rows = prepared.splits.X_test.head(3).astype(object)
    rows["note"] = ['=HYPERLINK("https://evil.example","x")', "+cmd|' /C calc'!A0", "ok"]
    at = deploy_page("en", iris_run)
    upload(at, "new_rows.csv", rows.to_csv(index=False).encode())
    assert at.session_state["_scratch"]["deploy_batch"]["table"] is not None
    shown = [t.value for t in at.dataframe]
    cells = [v for t in shown for c in t.columns for v in t[c].tolist() if isinstance(v, str)]
    assert '\'=HYPERLINK("https://evil.example","x")' in cells
    assert not [v for v in cells if v.startswith(FORMULA_STARTS)]


def significant_digits(text: str) -> int:
    digits = text.replace(",", "").replace("-", "").replace(".", "").lstrip("0")
    return len(digits)


def test_a_regression_prediction_shows_at_least_three_significant_digits():
    # A target between 8.5 and 10.8: "10" would hide everything the model knows.
    rows = 200
    x = [i / rows for i in range(rows)]
    frame = pd.DataFrame({"x": x, "y": [8.5 + 2.3 * v for v in x]})
    config = default_config(frame, "y")
    config = replace(config, train=replace(config.train, epochs=3, early_stopping=False))
    prepared = prepare(frame, config.preprocess)
    job = start_training(prepared, config.model, config.train, name="precise")
    assert job.join(timeout=120)
    run = job.result()
    run.metrics = metrics_document(evaluate_run(prepared, run))
    at = deploy_page("en", (prepared, run))
    at.number_input[0].set_value(0.7)
    at.button(key="deploy_predict_one").click().run()
    assert not at.exception, at.exception
    (metric,) = [m for m in at.metric if m.label.startswith("Predicted")]
    assert significant_digits(metric.value) >= 3, metric.value
    predicted = at.session_state["_scratch"]["deploy_one"]["table"]["prediction"].iloc[0]
    assert abs(float(metric.value.replace(",", "")) - predicted) < 0.01


def test_compress_adds_pruned_rows_with_their_sparsity_and_downloads(iris_run):
    at = deploy_page("en", iris_run)
    at.button(key="deploy_prune").click().run(timeout=300)
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "Weights set to zero" in df.value.columns)
    assert len(table) >= 2 and table["Weights set to zero"].str.endswith("%").all()
    keys = {button.key for button in at.get("download_button")}
    assert sum(key.startswith("deploy_download_") for key in keys) >= len(table)
