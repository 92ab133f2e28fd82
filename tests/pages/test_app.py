"""Every page renders through app.py in both languages; the Data page loads and recovers."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from apptest_helpers import open_app
from streamlit.testing.v1 import AppTest

from core.data.loading import load_sample
from core.i18n import catalog_for
from core.prep.preprocessing import default_spec

APP = Path(__file__).resolve().parents[2] / "app.py"

PAGES = ["pages/home.py", "pages/data.py", "pages/preprocess.py", "pages/train.py",
         "pages/evaluate.py", "pages/deploy.py", "pages/compliance.py"]  # fmt: skip
RAW_KEY = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
CATALOG_KEYS = set(catalog_for("en"))


def start(lang: str = "en", page: str | None = None) -> AppTest:
    return open_app(lang, page)


def visible_text(at: AppTest) -> list[str]:
    texts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success", "text"):  # fmt: skip
        texts += [str(el.value) for el in getattr(at, kind)]
    for kind in ("button", "selectbox", "radio", "checkbox", "slider", "text_input", "metric"):
        texts += [str(el.label) for el in getattr(at, kind)]
    return texts


def assert_no_raw_keys(at: AppTest) -> None:
    raw = [s for s in visible_text(at) if RAW_KEY.match(s.strip()) or s.strip() in CATALOG_KEYS]
    assert not raw, raw


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_both_languages(page: str, lang: str):
    at = start(lang, page)
    assert_no_raw_keys(at)
    titles = [t.value for t in at.title]
    assert titles, "every page has a title"
    if lang == "zh":
        assert any(re.search(r"[\u4e00-\u9fff]", s) for s in visible_text(at))


@pytest.mark.parametrize(
    ("page", "needs"),
    [
        ("pages/preprocess.py", "Data"),
        ("pages/train.py", "Preprocess"),
        ("pages/evaluate.py", "Train"),
        ("pages/deploy.py", "Train"),
    ],
)
def test_each_step_says_what_it_needs_first_and_shows_no_fake_content(page: str, needs: str):
    at = start("en", page)
    shown = " ".join(el.value for kind in ("warning", "info") for el in at.get(kind))
    assert needs in shown
    assert not at.get("plotly_chart")


def test_language_switch_in_sidebar_changes_every_page():
    # AppTest drops the entry script's sidebar after switch_page, so switch on the first page.
    at = start("en")
    assert at.sidebar.selectbox(key="lang_picker").value == "en"
    at.sidebar.selectbox(key="lang_picker").set_value("zh").run()
    assert "在你自己的数据表上" in at.markdown[0].value
    at.switch_page("pages/data.py")
    at.run()
    assert at.title[0].value == "数据"


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader[0].set_value((name, data, mime))
    return at.run()


def csv_bytes(rows: int = 50) -> bytes:
    frame = pd.DataFrame(
        {
            "age": range(rows),
            "city": ["Paris", "Lyon"] * (rows // 2),
            "y": [i % 2 for i in range(rows)],
        }
    )
    return frame.to_csv(index=False).encode()


def test_upload_produces_the_profile():
    at = upload(start("en", "pages/data.py"), "people.csv", csv_bytes(50))
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "50"
    assert metrics["Columns"] == "3"
    assert at.session_state["dataset"].name == "people.csv"
    assert at.get("plotly_chart"), "distribution and correlation charts are drawn"


def test_upload_in_chinese_with_gbk_file():
    data = "城市;收入\n北京;1,5\n上海;2,5\n广州;3,0\n".encode("gbk")
    at = upload(start("zh", "pages/data.py"), "收入.csv", data)
    assert not at.exception, at.exception
    frame = at.session_state["dataset"].frame
    assert list(frame.columns) == ["城市", "收入"]
    assert frame["收入"].tolist() == [1.5, 2.5, 3.0]
    assert any("gb18030" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.csv", b""),
        ("garbage.csv", bytes(range(256)) * 50),
        ("fake.xlsx", b"a,b\n1,2\n"),
        ("notes.docx", b"hello"),
        ("header.csv", b"a,b,c\n"),
    ],
)
def test_bad_upload_explains_and_keeps_the_loaded_dataset(name: str, data: bytes):
    at = start("en", "pages/data.py")
    at.button(key="load_sample").click().run()
    sample = at.session_state["dataset"]
    at = upload(at, name, data)
    assert not at.exception, at.exception
    assert at.error, "a clear message is shown"
    assert at.session_state["dataset"] is sample
    assert any(sample.name in c.value for c in at.caption), "the user is told their data is kept"


def test_bad_upload_message_in_chinese():
    at = upload(start("zh", "pages/data.py"), "empty.csv", b"")
    assert at.error and re.search(r"[\u4e00-\u9fff]", at.error[0].value)


def test_hostile_column_names_are_shown_as_text():
    names = ["<b>bold</b>", "**stars**", "a" * 300, "dup", "dup"]
    rows = "\n".join(",".join(str(i * j) for j in range(5)) for i in range(20))
    at = upload(start("en", "pages/data.py"), "odd.csv", (",".join(names) + "\n" + rows).encode())
    assert not at.exception, at.exception
    notices = " ".join(i.value for i in at.info)
    assert "dup" in notices, "the user is told duplicate names were renamed"
    shown = [m.value for kind in ("markdown", "warning", "info", "caption") for m in at.get(kind)]
    assert any(r"\*\*stars\*\*" in text for text in shown), "names appear, escaped"
    assert not any("**stars**" in text or "<b>bold</b>" in text for text in shown)
    frame = at.session_state["dataset"].frame
    assert "<b>bold</b>" in frame.columns and "**stars**" in frame.columns


def test_mixed_types_and_infinities_are_flagged():
    frame = pd.DataFrame(
        {"mixed": ["1", "2", "three", "4", "five", "6"] * 10, "x": [1.0, float("inf")] * 30}
    )
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    at = upload(start("en", "pages/data.py"), "odd.csv", buffer.getvalue())
    kinds = {a.kind for a in at.session_state["profile"].alerts}
    assert {"mixed_types", "infinities"} <= kinds
    assert len(at.warning) >= 2


def test_parse_options_override_reparses():
    data = b"a;b\n1;2\n3;4\n"
    at = upload(start("en", "pages/data.py"), "semi.csv", data)
    assert list(at.session_state["dataset"].frame.columns) == ["a", "b"]
    at.selectbox(key="opt_delimiter").set_value(",").run()
    assert not at.exception, at.exception
    assert list(at.session_state["dataset"].frame.columns) == ["a;b"]


def test_sample_loads_and_the_workflow_moves_on():
    at = start("en", "pages/data.py")
    at.selectbox(key="sample_choice").set_value("iris").run()
    at.button(key="load_sample").click().run()
    assert at.session_state["dataset"].target_suggestion == "species"
    at.switch_page("pages/home.py")
    at.run()
    assert any("Preprocess" in s.value for s in at.success)


def test_sidebar_shows_the_current_dataset_and_step():
    # AppTest keeps the entry script's sidebar only on the first page, so seed the state there.
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["dataset"] = load_sample("iris")
    at.run()
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "150 rows × 5 columns" in sidebar_text
    assert ":material/check_circle: 1. Data" in sidebar_text


def test_sessions_do_not_share_uploads():
    first = upload(start("en", "pages/data.py"), "secret.csv", csv_bytes(20))
    assert first.session_state["dataset"].name == "secret.csv"
    second = start("en", "pages/data.py")
    assert "dataset" not in second.session_state or second.session_state["dataset"] is None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_data_to_preprocess_with_a_sample_gives_splits_and_a_preview(lang: str):
    at = start(lang, "pages/data.py")
    at.selectbox(key="sample_choice").set_value("iris").run()
    at.button(key="load_sample").click().run()
    at.switch_page("pages/preprocess.py")
    at.run()
    assert not at.exception, at.exception
    assert at.data_editor, "the per-column plan is editable"
    at.button(key="pp_prepare").click().run()
    assert not at.exception, at.exception
    prepared = at.session_state["prepared"]
    assert prepared.spec.task == "multiclass"
    assert len(prepared.y_train) + len(prepared.y_val) + len(prepared.y_test) == 150
    assert len(at.dataframe) >= 3, "split summary, before and after previews"
    assert_no_raw_keys(at)
    trail = at.session_state["audit"]
    assert [event.kind for event in trail.events] == ["upload", "preprocess"]
    assert trail.verify().ok


def test_preprocess_needs_data_first():
    at = start("en", "pages/preprocess.py")
    assert any("Data" in w.value for w in at.warning)
    assert not at.data_editor


def test_uploaded_plan_json_sets_the_page_and_bad_json_is_explained():
    at = start("en", "pages/data.py")
    at.selectbox(key="sample_choice").set_value("tips").run()
    at.button(key="load_sample").click().run()
    at.switch_page("pages/preprocess.py")
    at.run()
    dataset = at.session_state["dataset"]
    prefix = f"pp_{dataset.sha256[:12]}"
    spec = replace(default_spec(dataset.frame, "tip"), seed=7, test_share=0.25)
    uploader = at.file_uploader(key=f"{prefix}_spec_upload")
    uploader.set_value(("plan.json", spec.to_json().encode(), "application/json")).run()
    at.run()  # the upload is applied before the widgets are drawn on the next run
    assert not at.exception, at.exception
    assert at.number_input(key=f"{prefix}_seed").value == 7
    assert at.slider(key=f"{prefix}_test").value == 0.25
    at.button(key="pp_prepare").click().run()
    assert at.session_state["prepared"].spec.seed == 7

    uploader = at.file_uploader(key=f"{prefix}_spec_upload")
    uploader.set_value(("plan.json", b"{not json", "application/json")).run()
    at.run()
    assert any("valid JSON" in e.value for e in at.error)
    assert at.session_state["prepared"].spec.seed == 7, "a bad file loses nothing"


def test_a_file_above_the_size_limit_is_refused_with_the_limit_named(monkeypatch):
    monkeypatch.setenv("MODELDESK_MAX_UPLOAD_MB", "1")
    at = upload(start("zh", "pages/data.py"), "big.csv", b"a,b\n" + b"1,2\n" * 300_000)
    assert not at.exception, at.exception
    assert at.error and "1" in at.error[0].value
    assert re.search(r"[\u4e00-\u9fff]", at.error[0].value)
    assert "dataset" not in at.session_state


def test_a_new_dataset_forgets_the_splits_prepared_from_the_old_one():
    at = start("en", "pages/data.py")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/preprocess.py")
    at.run()
    at.button(key="pp_prepare").click().run()
    assert at.session_state["prepared"] is not None
    at.switch_page("pages/data.py")
    at.run()
    at.selectbox(key="sample_choice").set_value("iris").run()
    at.button(key="load_sample").click().run()
    assert "prepared" not in at.session_state
    at.switch_page("pages/train.py")
    at.run()
    assert any("Preprocess" in w.value for w in at.warning), "train asks for new splits"
