"""Workshop mode through app.py: lesson links preset and lock controls, challenges turn to done
from real runs, setup links restore the same config, the room board is opt-in and guarded."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from apptest_helpers import poll_until_done
from streamlit.testing.v1 import AppTest

from core.data.loading import load_sample
from core.train.runner import default_config
from core.workshop.share import Setup, encode_setup

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_with(params: dict[str, str], page: str | None = None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = lang
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
    return at


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.label for e in at.expander]
    return "\n".join(str(p) for p in parts)


def test_a_lesson_link_presets_locks_and_hides_what_the_lesson_says():
    at = open_with({"lesson": "first_model"}, "pages/train.py")
    assert at.session_state["dataset"].name == "line"
    assert at.session_state["prepared"] is not None
    kind, optimizer = at.radio(key="train_kind"), at.selectbox(key="train_optimizer")
    assert (kind.value, optimizer.value) == ("linear", "sgd")
    assert kind.disabled and optimizer.disabled  # locked by the lesson
    assert (
        at.select_slider(key="train_lr").value == 0.01
        and not at.select_slider(key="train_lr").disabled
    )
    assert not [w for w in at.select_slider if w.key == "train_l2"]  # hidden by the lesson
    assert "Your first model" in text_of(at)
    assert "Not yet" in text_of(at)


def test_a_refused_lesson_id_is_one_clear_error_and_the_app_still_works():
    at = open_with({"lesson": "../../etc/passwd"})
    assert any("no lesson called" in e.value for e in at.error)
    assert "dataset" not in at.session_state


def test_a_challenge_turns_to_done_from_a_real_run():
    at = open_with({"lesson": "first_model"}, "pages/train.py")
    assert "Not yet" in text_of(at)
    at.button(key="train_train").click().run()
    assert not at.exception, at.exception
    poll_until_done(at)
    at.run()
    run = next(iter(at.session_state["runs"].values()))
    assert run.status == "finished"
    assert abs(run.parameters["w"][-1] - 2) <= 0.05
    assert "**Done**" in text_of(at)


def test_a_copied_setup_link_restores_the_same_config_json():
    config = default_config(load_sample("iris").frame, "species", seed=3)
    config = replace(config, train=replace(config.train, learning_rate=0.03, epochs=40))
    builder = open_with({"setup": encode_setup(Setup(config, "iris"))}, "pages/train.py")
    built = builder.session_state["train_config"].to_json()
    assert json.loads(built)["train"]["learning_rate"] == 0.03
    assert built == config.to_json()
    # The facilitator presses "Copy link" and a participant opens it: the same config.
    builder.button(key="train_share_link").click().run()
    link = builder.query_params["setup"]
    link = link[0] if isinstance(link, list) else link
    participant = open_with({"setup": link}, "pages/train.py")
    assert participant.session_state["train_config"].to_json() == built


def test_a_damaged_setup_link_is_one_clear_error():
    at = open_with({"setup": "1.not-a-link"})
    assert any("setup link is damaged" in e.value for e in at.error)


@pytest.fixture
def room(monkeypatch):
    monkeypatch.setenv("MODELDESK_ROOM_CODE", "ROOM42")
    monkeypatch.setenv("MODELDESK_FACILITATOR_PASSWORD", "facilitator-pw")


def _trained_participant() -> AppTest:
    at = open_with({"lesson": "first_model"}, "pages/train.py")
    at.select_slider(key="train_lr").set_value(0.1).run()
    at.slider(key="train_epochs").set_value(5).run()
    at.button(key="train_train").click().run()
    poll_until_done(at)
    at.run()
    assert at.session_state["runs"]
    return at


def test_a_board_entry_appears_only_after_opting_in_and_goes_when_the_participant_leaves(room):
    facilitator = open_with({}, "pages/room.py")
    facilitator.text_input(key="rb_pw").set_value("facilitator-pw")
    facilitator.button(key="rb_sign_in").click().run()
    assert any("0 run(s) posted" in c.value for c in facilitator.caption)

    participant = _trained_participant()
    participant.switch_page("pages/room.py")
    participant.run()
    facilitator.run()
    assert any("0 run(s) posted" in c.value for c in facilitator.caption)  # nothing unasked

    participant.text_input(key="rb_nick").set_value("Ana").run()
    participant.text_input(key="rb_code").set_value("WRONG")
    participant.button(key="rb_post").click().run()
    assert any("not this room's code" in e.value for e in participant.error)
    participant.text_input(key="rb_code").set_value("ROOM42")
    participant.button(key="rb_post").click().run()
    facilitator.run()
    assert any("1 run(s) posted" in c.value for c in facilitator.caption)

    participant.button(key="rb_leave").click().run()
    facilitator.run()
    assert any("0 run(s) posted" in c.value for c in facilitator.caption)


def test_the_facilitator_view_refuses_a_wrong_password(room):
    at = open_with({}, "pages/room.py")
    at.text_input(key="rb_pw").set_value("guess")
    at.button(key="rb_sign_in").click().run()
    assert any("Wrong password" in e.value for e in at.error)
    assert "_facilitator" not in at.session_state
    assert not [b for b in at.button if b.key == "rb_reveal"]
    at.text_input(key="rb_pw").set_value("facilitator-pw")
    at.button(key="rb_sign_in").click().run()
    assert [b for b in at.button if b.key == "rb_reveal"]  # the right one opens it


def test_a_preprocess_setup_link_restores_the_same_plan_and_split():
    at = open_with({}, "pages/data.py")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/preprocess.py")
    at.run()
    at.button(key="preprocess_share_link").click().run()
    assert not at.exception, at.exception
    link = at.query_params["setup"]
    link = link[0] if isinstance(link, list) else link
    participant = open_with({"setup": link}, "pages/preprocess.py")
    restored = participant.session_state["prepared"].spec
    from core.workshop.share import decode_setup

    assert restored.to_json() == decode_setup(link).config.preprocess.to_json()
    # The page's controls show that plan too: nothing "changed since the splits were prepared".
    assert not any("changed since" in w.value for w in participant.warning)


def test_the_bench_trace_follows_a_run_to_its_collection_and_names_the_session_by_a_hash():
    import hashlib
    import logging

    import ui.widgets as ui

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler, level = Keep(), ui._TRACE.level
    ui._TRACE.addHandler(handler)
    ui._TRACE.setLevel(logging.DEBUG)  # setLevel, not .level: it clears the logger's cache
    try:
        at = open_with({"lesson": "first_model"}, "pages/train.py")
        at.slider(key="train_epochs").set_value(5).run()
        at.button(key="train_train").click().run()
        poll_until_done(at)
    finally:
        ui._TRACE.removeHandler(handler)
        ui._TRACE.setLevel(level)
    token = at.session_state["_resume_token"]
    who = hashlib.sha256(token.encode()).hexdigest()[:8]
    events = [line.split()[3] for line in lines]
    assert {"run", "end", "live", "tick", "collect"} <= set(events)
    assert all(line.split()[1] == who for line in lines)
    assert not any(token in line for line in lines)
    # The live panel polls while the job trains, and once its run is collected only once more
    # (the redraw after the collecting run; AppTest never ticks a fragment by itself).
    live = [line for line in lines if line.split()[3] == "live"]
    assert "every=0.5" in live[0] or "every=2.0" in live[0]
    assert live[-1].endswith("every=3.0")
    assert events.index("collect") < len(events) - 1 - events[::-1].index("live")
