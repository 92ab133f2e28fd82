"""The catalog is complete in both languages, and every literal key the code uses exists."""

import json
import re
import string
from pathlib import Path

import pytest

from core.i18n import (
    LANGUAGES,
    LOCALES_DIR,
    Message,
    UserError,
    catalog_for,
    language_from_locale,
    t,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "app.py",
    *ROOT.glob("ui/**/*.py"),
    *ROOT.glob("pages/*.py"),
    *ROOT.glob("core/**/*.py"),
]
# Literal keys passed to the catalog: tr("x.y"), t("x.y", ...), UserError("x.y"), Message("x.y").
SENTENCE = re.compile(r"([A-Za-z]{3,}\s+){2}[A-Za-z]{3,}")  # three words or more
KEY_USE = re.compile(r"""\b(?:tr|t|UserError|Message)\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")


def test_every_namespace_has_the_same_keys_in_both_languages():
    namespaces = {
        lang: sorted(p.name for p in (LOCALES_DIR / lang).glob("*.json")) for lang in LANGUAGES
    }
    assert namespaces["en"] == namespaces["zh"]
    for name in namespaces["en"]:
        english = json.loads((LOCALES_DIR / "en" / name).read_text(encoding="utf-8"))
        chinese = json.loads((LOCALES_DIR / "zh" / name).read_text(encoding="utf-8"))
        assert english.keys() == chinese.keys(), f"{name}: {english.keys() ^ chinese.keys()}"


def test_placeholders_match_in_both_languages():
    english, chinese = catalog_for("en"), catalog_for("zh")
    offending = sorted(k for k in english if _fields(english[k]) != _fields(chinese.get(k, "")))
    assert not offending, "placeholders differ between English and Chinese: " + ", ".join(offending)


def test_no_text_is_empty_in_either_language():
    empty = sorted(
        f"{lang}:{key}"
        for lang in LANGUAGES
        for key, text in catalog_for(lang).items()
        if not str(text).strip()
    )
    assert not empty, "empty translations: " + ", ".join(empty)


def test_chinese_text_is_translated_not_copied():
    """A Chinese entry equal to an English sentence (three words or more) was copied."""
    english, chinese = catalog_for("en"), catalog_for("zh")
    copied = sorted(
        k for k in english if chinese.get(k) == english[k] and SENTENCE.search(english[k])
    )
    assert not copied, "Chinese copies of English text: " + ", ".join(copied)


def test_every_literal_key_in_the_code_exists():
    catalog = catalog_for("en")
    missing = {
        (path.relative_to(ROOT).as_posix(), key)
        for path in SOURCES
        for key in KEY_USE.findall(path.read_text(encoding="utf-8"))
        if key not in catalog
    }
    assert not missing


def test_translation_fills_placeholders_per_language():
    assert t("app.home.next", "en", step="Data") == "Your next step: Data."
    assert t("app.home.next", "zh", step="数据") == "下一步：数据。"


def test_unknown_key_raises_in_strict_mode_and_shows_the_key_otherwise(monkeypatch):
    with pytest.raises(KeyError):
        t("no.such.key", "en")
    monkeypatch.setenv("MODELDESK_STRICT_I18N", "0")
    assert t("no.such.key", "en") == "no.such.key"


def test_user_error_speaks_both_languages():
    error = UserError("cli.error.not_found", path="x.csv")
    assert "x.csv" in str(error)
    assert error.text("zh") != error.text("en")
    assert Message("cli.error.not_found", {"path": "a"}).text("zh").startswith("文件")


@pytest.mark.parametrize(
    ("locale", "lang"),
    [
        ("zh-CN", "zh"),
        ("zh_TW.UTF-8", "zh"),
        ("en-US", "en"),
        ("de-DE", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_language_from_browser_locale(locale, lang):
    assert language_from_locale(locale) == lang


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
