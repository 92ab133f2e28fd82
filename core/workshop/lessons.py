"""Lessons: small TOML files in lessons/ that a facilitator hands out as `/?lesson=<id>`.

A lesson file is hostile input like any upload (a URL names it, a facilitator writes it): the
id must be a plain name of a file in LESSONS_DIR, the file is size-capped, every field is
type-checked, unknown fields are refused, presets are validated by the same specs the Train
page builds, and every text exists in every language. Any problem is one UserError.

Format (see lessons/*.toml):

    title = { en = "...", zh = "..." }
    instructions = { en = "...", zh = "..." }
    [dataset]            # sample = "<built-in sample>" | file = "<name>.csv" beside the lesson
    setup = "first_model"  # optional: the classic y = 2x + 1 setup (x left unscaled)
    [preprocess]         # optional split presets: val_share, test_share, seed
    [model]              # optional ModelSpec presets (kind, hidden_layers, ..., loss)
    [train]              # optional TrainSpec presets (optimizer, learning_rate, ...)
    locked = [...]       # controls shown but not changeable
    hidden = [...]       # controls not shown
    [[challenges]]       # id, title = {en, zh}, check = {...} (core.workshop.challenges)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.i18n import LANGUAGES, UserError

LESSONS_DIR = Path(__file__).resolve().parents[2] / "lessons"
MAX_LESSON_BYTES = 64 * 1024
MAX_TEXT = 4000
MAX_CHALLENGES = 10
LESSON_ID = re.compile(r"^[a-z0-9_]{1,40}$")
DATA_FILE = re.compile(r"^[a-z0-9_]{1,40}\.csv$")
SETUPS = ("first_model",)
PREPROCESS_FIELDS = {"val_share": (0.0, 0.4), "test_share": (0.0, 0.4), "seed": (0, 2**31 - 1)}
TOP_LEVEL = {
    "title", "instructions", "order", "dataset", "preprocess", "model", "train", "locked",
    "hidden", "challenges",
}  # fmt: skip


@dataclass(frozen=True)
class Challenge:
    """One goal of a lesson: its text per language and the check (core.workshop.challenges)."""

    id: str
    title: dict[str, str]
    check: dict[str, Any]


@dataclass(frozen=True)
class Lesson:
    """A validated lesson file."""

    id: str
    order: int
    title: dict[str, str]
    instructions: dict[str, str]
    sample: str | None = None
    data_file: Path | None = None
    setup: str | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()
    challenges: tuple[Challenge, ...] = ()

    def text(self, what: str, lang: str) -> str:
        """The lesson's title or instructions in one language."""
        texts = self.title if what == "title" else self.instructions
        return texts.get(lang) or texts["en"]

    def model_spec(self, defaults: Any = None) -> Any:
        """The ModelSpec the lesson presets (its fields over `defaults`)."""
        from core.train.models import ModelSpec

        base = (defaults or ModelSpec()).to_dict()
        return ModelSpec.from_dict({**base, **self.model})

    def train_spec(self, defaults: Any = None) -> Any:
        """The TrainSpec the lesson presets (its fields over `defaults`)."""
        from core.train.engine import TrainSpec

        base = (defaults or TrainSpec()).to_dict()
        return TrainSpec.from_dict({**base, **self.train})


def lesson_ids() -> list[str]:
    """The lessons shipped in LESSONS_DIR, in their `order`."""
    ids = [p.stem for p in LESSONS_DIR.glob("*.toml") if LESSON_ID.match(p.stem)]
    return sorted(ids, key=lambda i: (load_lesson(i).order, i))


def load_lesson(lesson_id: object) -> Lesson:
    """The lesson named by `lesson_id` (from a URL: anything may arrive), validated."""
    if not isinstance(lesson_id, str) or not LESSON_ID.match(lesson_id):
        raise UserError("workshop.error.unknown_lesson", name=str(lesson_id)[:40])
    path = LESSONS_DIR / f"{lesson_id}.toml"
    if not path.is_file():
        raise UserError("workshop.error.unknown_lesson", name=lesson_id)
    return parse_lesson(path.read_bytes(), lesson_id, LESSONS_DIR)


def parse_lesson(raw: bytes, lesson_id: str, folder: Path = LESSONS_DIR) -> Lesson:
    """Validate a lesson file's bytes; one UserError says what is wrong."""
    if len(raw) > MAX_LESSON_BYTES:
        raise UserError("workshop.error.too_big", name=lesson_id, max_kb=MAX_LESSON_BYTES // 1024)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        raise UserError("workshop.error.syntax", name=lesson_id, error=str(error)[:200]) from None
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        raise UserError("workshop.error.unknown_fields", name=lesson_id, fields=", ".join(unknown))
    where = f"{lesson_id}"
    dataset = _table(data.get("dataset", {}), f"{where}: dataset")
    extra = sorted(set(dataset) - {"sample", "file", "setup"})
    if extra:
        raise UserError("workshop.error.unknown_fields", name=lesson_id, fields=", ".join(extra))
    sample, data_file, setup = _dataset(dataset, folder, where)
    lesson = Lesson(
        id=lesson_id,
        order=_int(data.get("order", 100), f"{where}: order", 0, 10_000),
        title=_texts(data.get("title"), f"{where}: title"),
        instructions=_texts(data.get("instructions"), f"{where}: instructions"),
        sample=sample,
        data_file=data_file,
        setup=setup,
        preprocess=_preprocess(_table(data.get("preprocess", {}), f"{where}: preprocess"), where),
        model=_table(data.get("model", {}), f"{where}: model"),
        train=_table(data.get("train", {}), f"{where}: train"),
        locked=_controls(data.get("locked", []), f"{where}: locked"),
        hidden=_controls(data.get("hidden", []), f"{where}: hidden"),
        challenges=_challenges(data.get("challenges", []), where),
    )
    # The presets must make the very specs the Train page would build (they validate), with
    # values its controls offer.
    from core.train.controls import off_the_controls

    wrong = off_the_controls(lesson.model_spec(), lesson.train_spec())
    if wrong:
        raise UserError("workshop.error.off_controls", name=lesson_id, fields=", ".join(wrong))
    return lesson


def control_names() -> frozenset[str]:
    """Controls a lesson may preset, lock or hide: the presettable ones of core.train.controls."""
    from core.train.controls import presettable_names

    return presettable_names()


# --- validation helpers ---------------------------------------------------------------------


def _bad(where: str, expected: str) -> UserError:
    return UserError("workshop.error.field", where=where, expected=expected)


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "table")
    return value


def _texts(value: object, where: str) -> dict[str, str]:
    texts = _table(value, where)
    for lang in LANGUAGES:
        text = texts.get(lang)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise UserError("workshop.error.missing_language", where=where, language=lang)
    if set(texts) - set(LANGUAGES):
        raise _bad(where, ", ".join(LANGUAGES))
    return {lang: texts[lang].strip() for lang in LANGUAGES}


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(where, f"{low}..{high}")
    return value


def _dataset(dataset: dict, folder: Path, where: str) -> tuple[str | None, Path | None, str | None]:
    from core.data.loading import SAMPLES

    sample, name, setup = dataset.get("sample"), dataset.get("file"), dataset.get("setup")
    if setup is not None and setup not in SETUPS:
        raise _bad(f"{where}: dataset.setup", ", ".join(SETUPS))
    if sample is not None and (not isinstance(sample, str) or sample not in SAMPLES):
        raise _bad(f"{where}: dataset.sample", ", ".join(SAMPLES))
    path = None
    if name is not None:
        if not isinstance(name, str) or not DATA_FILE.match(name):
            raise _bad(f"{where}: dataset.file", "a name such as people.csv beside the lesson")
        path = folder / name
        if not path.is_file():
            raise _bad(f"{where}: dataset.file", f"{name} beside the lesson")
    if (sample is None) == (path is None) and setup is None:
        raise _bad(f"{where}: dataset", "one of sample or file")
    return sample, path, setup


def _preprocess(table: dict, where: str) -> dict[str, Any]:
    for key, value in table.items():
        if key not in PREPROCESS_FIELDS:
            raise UserError("workshop.error.unknown_fields", name=where, fields=key)
        low, high = PREPROCESS_FIELDS[key]
        ok = not isinstance(value, bool) and isinstance(value, int | float)
        if not ok or not low <= value <= high or (key == "seed" and not isinstance(value, int)):
            raise _bad(f"{where}: preprocess.{key}", f"{low}..{high}")
    return dict(table)


def _controls(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(where, "list of control names")
    unknown = sorted(set(value) - control_names())
    if unknown:
        raise UserError("workshop.error.unknown_controls", where=where, fields=", ".join(unknown))
    return frozenset(value)


def _challenges(value: object, where: str) -> tuple[Challenge, ...]:
    from core.workshop.challenges import validate_check

    if not isinstance(value, list) or len(value) > MAX_CHALLENGES:
        raise _bad(f"{where}: challenges", f"a list of at most {MAX_CHALLENGES}")
    found: list[Challenge] = []
    for index, item in enumerate(value, 1):
        place = f"{where}: challenge {index}"
        table = _table(item, place)
        challenge_id = table.get("id")
        if not isinstance(challenge_id, str) or not LESSON_ID.match(challenge_id):
            raise _bad(f"{place}.id", "a short name")
        check = _table(table.get("check"), f"{place}.check")
        validate_check(check, f"{place}.check")
        found.append(Challenge(challenge_id, _texts(table.get("title"), f"{place}.title"), check))
    if len({c.id for c in found}) != len(found):
        raise _bad(f"{where}: challenges", "unique ids")
    return tuple(found)
