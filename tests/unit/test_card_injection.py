"""User-derived text in the bundle's model card (README.md) and in the
generated training script stays text: no HTML, links, images or broken docstrings."""

from __future__ import annotations

import ast
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from core.deploy.codegen import training_script
from core.deploy.predict_script import model_card
from core.export_safety import markdown_text
from core.prep.pipeline import prepare
from core.train.runner import default_config

IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](https://evil.example/login)"
TRACKER = "![x](https://tracker.example/pixel.gif)"
QUOTES = 'run """ \nimport os; os.system("id") #'
HOSTILE = (IMG, LINK, TRACKER, "<script>alert(2)</script>", "a | b\n# heading", "`code`")


def hostile_setup():
    rng = np.random.default_rng(0)
    rows = 60
    frame = pd.DataFrame(
        {
            IMG: rng.normal(size=rows),
            LINK: rng.choice(["x", "y"], size=rows),
            TRACKER: rng.normal(size=rows),
            "<b>target</b>": np.where(
                rng.random(rows) > 0.5, "<script>alert(2)</script>", "[win](https://evil.example)"
            ),
        }
    )
    config = default_config(frame, "<b>target</b>")
    prepared = prepare(frame, config.preprocess)
    run = SimpleNamespace(
        name=QUOTES + TRACKER, epochs_trained=1, best_epoch=1, status="finished",
        created_at="2025-01-01T00:00:00+00:00",
    )  # fmt: skip
    return prepared, run, config


def rendered(markdown: str) -> str:
    # CommonMark with raw HTML on (as GitHub and most viewers allow) and GFM tables.
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_model_card_escapes_column_names_labels_and_dataset_name(lang):
    prepared, run, config = hostile_setup()
    card = model_card(prepared, run, config, {}, dataset_name=f"{IMG} {LINK} {TRACKER}", lang=lang)
    for payload in (IMG, LINK, TRACKER, "<script>", "<b>", "](https://"):
        assert payload not in card
    html = rendered(card)
    for tag in ("<img", "<a ", "<script", "<b>"):
        assert tag not in html, tag
    assert "<h1>" in html and html.count("<h1>") == 1, "a user's '# ...' is no heading"
    assert "<table>" in html and html.count("<table>") == 1, "a user's '|' makes no table"
    # The text is still there to read, literally.
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "[click](https://evil.example/login)" in html


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_renders_as_the_same_literal_text(text):
    html = MarkdownIt("commonmark", {"html": True}).render(markdown_text(text))
    assert html.count("<") == 2 and html.startswith("<p>"), html  # only the paragraph's tags
    expected = " ".join(text.split("\n")).replace("&", "&amp;").replace("<", "&lt;")
    assert expected.replace(">", "&gt;") in html.replace("&quot;", '"')


def test_the_training_script_stays_valid_python_with_quotes_in_names():
    _prepared, run, config = hostile_setup()
    source = training_script(config, 2, run.name)
    tree = ast.parse(source)  # a name with triple quotes breaks nothing
    docstring = ast.get_docstring(tree)
    assert docstring is not None and repr(run.name) in docstring
    imports = [node for node in tree.body if isinstance(node, ast.Import)]
    assert all(alias.name != "os" for node in imports for alias in node.names)
    namespace: dict = {}
    settings = source[source.index("TARGET = ") : source.index("\n]", source.index("SCHEMA = ["))]
    exec(settings + "\n]", namespace)
    assert namespace["TARGET"] == "<b>target</b>"
    assert [item["name"] for item in namespace["SCHEMA"]] == [IMG, LINK, TRACKER]
