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
