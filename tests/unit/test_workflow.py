"""Workflow status: which step is done, next, or ahead."""

import pytest

from core.workflow import STEPS, workflow_status


def _states(done):
    return {s.step: s.state for s in workflow_status(done)}


def test_fresh_session_starts_at_data():
    states = _states(set())
    assert states["data"] == "current"
    assert [s for s, v in states.items() if v == "current"] == ["data"]
    assert len(states) == len(STEPS)


def test_next_step_follows_the_last_done():
    states = _states({"data", "preprocess"})
    assert states["data"] == states["preprocess"] == "done"
    assert states["train"] == "current"
    assert states["evaluate"] == "todo"


def test_compliance_is_never_the_next_step_and_can_be_done_any_time():
    states = _states({"data", "preprocess", "train", "evaluate", "deploy"})
    assert states["compliance"] == "todo"
    assert _states({"compliance"})["compliance"] == "done"


def test_unknown_step_is_rejected():
    with pytest.raises(ValueError):
        workflow_status({"nonsense"})


def test_the_sidebar_steps_follow_what_the_session_did():
    """ui.done_steps reads the session: runs, evaluations, deploy exports, checklist answers."""
    from pathlib import Path
    from types import SimpleNamespace

    from streamlit.testing.v1 import AppTest

    from core.compliance.audit import AuditTrail
    from core.data.loading import load_sample

    trail = AuditTrail()
    trail.record("export", {"what": "bundle", "run": "r1"})
    trail.record("checklist", {"item": "purpose.intended_use", "answer": "yes"})
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"))
    at.session_state["lang"] = "en"
    at.session_state["dataset"] = load_sample("iris")
    at.session_state["prepared"] = object()
    at.session_state["runs"] = {"r1": SimpleNamespace(status="finished")}
    at.session_state["evaluated_runs"] = {"r1"}
    at.session_state["audit"] = trail
    at.run()
    assert not at.exception, at.exception
    done = [m.value for m in at.sidebar.markdown if m.value.startswith(":material/check_circle:")]
    assert len(done) == 6, done
