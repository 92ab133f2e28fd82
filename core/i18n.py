"""Translation catalog: every user-visible string, in English and Simplified Chinese."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).parent / "locales"


@dataclass(frozen=True)
class Message:
    """A translatable message: a catalog key and the values for its placeholders."""

    key: str
    params: dict = field(default_factory=dict)

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """This message in one language."""
        return t(self.key, lang, **self.params)


class UserError(Exception):
    """Bad input the user can fix; carries a catalog key so each language can say it."""

    def __init__(self, key: str, **params: object) -> None:
        self.message = Message(key, dict(params))
        super().__init__(self.message.text(DEFAULT_LANGUAGE))

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """The error's message in one language."""
        return self.message.text(lang)


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The catalog text for `key` in `lang`, with `{placeholders}` filled from params."""
    catalog = catalog_for(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        text = catalog[key]
    except KeyError:
        if os.environ.get("MODELDESK_STRICT_I18N") == "1":
            raise KeyError(f"missing translation key {key!r} for {lang!r}") from None
        # A raw key on screen is a bug, but not one worth crashing a user's session over.
        return key
    return text.format(**params) if params else text


def language_from_locale(locale: str | None) -> str:
    """The catalog language for a browser locale such as 'zh-CN' or 'en-US'."""
    if locale and locale.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


@cache
def catalog_for(lang: str) -> dict[str, str]:
    """All keys of one language: each locales/<lang>/<namespace>.json prefixed '<namespace>.'."""
    catalog: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        catalog.update({f"{path.stem}.{key}": value for key, value in entries.items()})
    return catalog
