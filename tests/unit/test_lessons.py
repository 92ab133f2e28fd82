"""Lessons: the shipped files load in every language; a lesson file or a lesson id from a URL is
hostile input; challenges turn to done from a session's own real runs and data."""

from types import SimpleNamespace

import pandas as pd
import pytest

from core.i18n import LANGUAGES, UserError
from core.train.engine import TrainingJob, TrainSpec
from core.train.runner import first_model_setup
from core.workshop.challenges import SessionWork, is_done
from core.workshop.lessons import LESSONS_DIR, control_names, lesson_ids, load_lesson, parse_lesson

MINIMAL = """
title = { en = "T", zh = "标题" }
instructions = { en = "Do it", zh = "做" }
[dataset]
sample = "iris"
"""


def test_four_lessons_ship_and_every_text_exists_in_every_language():
    ids = lesson_ids()
    assert {"first_model", "optimizers", "overfitting", "privacy"} <= set(ids)
    assert ids[0] == "first_model"
    for lesson_id in ids:
        lesson = load_lesson(lesson_id)
        texts = [lesson.title, lesson.instructions, *(c.title for c in lesson.challenges)]
        for text in texts:
            assert set(text) == set(LANGUAGES), lesson_id
            assert all(value.strip() for value in text.values()), lesson_id
            assert text["en"] != text["zh"], lesson_id
        assert lesson.challenges, f"{lesson_id} sets no challenge"
        assert lesson.locked | lesson.hidden <= control_names()


def test_a_lesson_missing_a_language_is_refused():
    raw = MINIMAL.replace(', zh = "标题"', "").encode()
    with pytest.raises(UserError) as refused:
        parse_lesson(raw, "x")
    assert refused.value.message.key == "workshop.error.missing_language"
    assert refused.value.message.params["language"] == "zh"


def test_the_first_model_lesson_presets_what_the_article_teaches():
    lesson = load_lesson("first_model")
    assert lesson.setup == "first_model"
    model, train = lesson.model_spec(), lesson.train_spec()
    assert (model.kind, train.optimizer, model.loss) == ("linear", "sgd", None)  # MSE default
    assert {"kind", "optimizer", "loss"} <= lesson.locked


@pytest.mark.parametrize(
    "lesson_id", ["../etc/passwd", "x" * 41, None, 3, "FIRST_MODEL", "first_model.toml", "", "nope"]
)
def test_a_lesson_id_from_the_url_names_only_a_shipped_lesson(lesson_id):
    with pytest.raises(UserError) as refused:
        load_lesson(lesson_id)
    assert refused.value.message.key == "workshop.error.unknown_lesson"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"x" * (65 * 1024), "workshop.error.too_big"),
        (b"title = [", "workshop.error.syntax"),
        (b"a = " + b"[" * 40_000, "workshop.error.syntax"),
        (b"\xff\xfe", "workshop.error.syntax"),
        (MINIMAL.encode() + b"\nrun_code = 'os.system'\n", "workshop.error.unknown_fields"),
        (b'locked = ["rm -rf"]\n' + MINIMAL.encode(), "workshop.error.unknown_controls"),
        (MINIMAL.replace("iris", "../../secret").encode(), "workshop.error.field"),
        (MINIMAL.replace('sample = "iris"', 'file = "../x.csv"').encode(), "workshop.error.field"),
        (MINIMAL.encode() + b"[train]\nlearning_rate = 50.0\n", "train.error.learning_rate"),
        (MINIMAL.encode() + b"[model]\nhidden_layers = [99999999]\n", "train.error.units"),
        (MINIMAL.encode() + b"[preprocess]\nval_share = 0.9\n", "workshop.error.field"),
        (MINIMAL.encode() + b"[train]\nlearning_rate = 0.0042\n", "workshop.error.off_controls"),
        (
            MINIMAL.encode() + b'[[challenges]]\nid = "c"\ntitle = { en = "a", zh = "b" }\n'
            b'check = { kind = "run", conditions = [{ of = "loss", op = "eval", value = 1 }] }\n',
            "workshop.error.field",
        ),
        (
            MINIMAL.encode() + b'[[challenges]]\nid = "c"\ntitle = { en = "a", zh = "b" }\n'
            b'check = { kind = "exec" }\n',
            "workshop.error.field",
        ),
    ],
)
def test_a_hostile_lesson_file_is_one_clear_error(raw, key):
    with pytest.raises(UserError) as refused:
        parse_lesson(raw, "hostile")
    assert refused.value.message.key == key
    assert refused.value.text("en") and refused.value.text("zh")


def test_a_challenge_turns_to_done_from_a_real_run():
    lesson = load_lesson("first_model")
    check = lesson.challenges[0].check
    _, spec, model_spec, train_spec = first_model_setup()
    from core.data.loading import load_sample
    from core.prep.pipeline import prepare

    prepared = prepare(load_sample("line").frame, spec)

    def run(epochs):
        job = TrainingJob(
            model_spec,
            TrainSpec(**{**lesson.train_spec().to_dict(), "epochs": epochs}),
            prepared.spec.task,
            1,
            prepared.X_train,
            prepared.y_train,
            prepared.X_val,
            prepared.y_val,
        ).start()
        assert job.join(timeout=120)
        return job.result()

    short = run(1)
    assert not is_done(check, SessionWork(runs=[short]))
    assert not is_done(check, SessionWork(runs=[]))
    full = run(train_spec.epochs)
    assert is_done(check, SessionWork(runs=[short, full]))


def _run(optimizer="sgd", batch_size=32, status="finished", early=False, val_loss=(1.0,), msg=None):
    return SimpleNamespace(
        status=status,
        train_spec=SimpleNamespace(
            optimizer=optimizer, batch_size=batch_size, early_stopping=early
        ),
        model_spec=SimpleNamespace(kind="linear"),
        message=None if msg is None else SimpleNamespace(key=f"train.message.{msg}"),
        history={"val_loss": list(val_loss), "loss": list(val_loss)},
        parameters={},
        metrics={},
        weights=[],
        epochs_trained=len(val_loss),
    )


def test_the_optimizer_challenges_need_each_way_and_a_real_divergence():
    lesson = load_lesson("optimizers")
    three, diverge = (c.check for c in lesson.challenges)
    full, mini, adam = _run(batch_size=None), _run(), _run(optimizer="adam")
    assert not is_done(three, SessionWork(runs=[full, mini]))
    assert is_done(three, SessionWork(runs=[adam, full, mini]))
    assert not is_done(diverge, SessionWork(runs=[_run(status="failed", msg="error")]))
    assert is_done(diverge, SessionWork(runs=[_run(status="failed", msg="nan_loss")]))


def test_overfit_then_fix_must_happen_in_that_order():
    check = load_lesson("overfitting").challenges[0].check
    overfit = _run(val_loss=(1.0, 0.5, 0.9))
    fixed = _run(early=True, val_loss=(1.0, 0.5, 0.55))
    assert not is_done(check, SessionWork(runs=[fixed, overfit]))
    assert is_done(check, SessionWork(runs=[fixed, overfit, fixed]))


def test_privacy_challenges_read_the_sessions_own_table_and_events():
    from core.compliance.anonymity import generalise

    lesson = load_lesson("privacy")
    no_pii, k5, report = (c.check for c in lesson.challenges)
    raw = pd.read_csv(LESSONS_DIR / "patients.csv", dtype={"zip": str})
    assert not is_done(no_pii, SessionWork(frame=raw))
    assert not is_done(k5, SessionWork(frame=raw))
    cleaned = raw.drop(columns=["name", "email", "phone"])
    cleaned["age"] = generalise(cleaned["age"], "age_band", band_width=20)
    cleaned["zip"] = cleaned["zip"].str[:3]
    assert is_done(no_pii, SessionWork(frame=cleaned))
    assert not is_done(k5, SessionWork(frame=cleaned))  # a few rare combinations remain
    sizes = cleaned.groupby(["age", "sex", "zip"])["age"].transform("size")
    cleaned = cleaned[sizes >= 5]  # suppress the small groups
    assert is_done(k5, SessionWork(frame=cleaned))
    event = SimpleNamespace(kind="export", details={"what": "report"})
    other = SimpleNamespace(kind="export", details={"what": "bundle"})
    assert not is_done(report, SessionWork(events=[other]))
    assert is_done(report, SessionWork(events=[other, event]))
