"""The sidebar's workflow marks through app.py: a step is done when the session did it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from streamlit.testing.v1 import AppTest

from core.compliance.audit import AuditTrail
from core.data.loading import load_sample
from core.train.status import RunStatus


def test_the_sidebar_steps_follow_what_the_session_did():
    """ui.done_steps reads the session: runs, evaluations, deploy exports, checklist answers."""
    trail = AuditTrail()
    trail.record("export", {"what": "bundle", "run": "r1"})
    trail.record("checklist", {"item": "purpose.intended_use", "answer": "yes"})
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["dataset"] = load_sample("iris")
    at.session_state["prepared"] = object()
    at.session_state["runs"] = {"r1": SimpleNamespace(status=RunStatus.FINISHED)}
    at.session_state["evaluated_runs"] = {"r1"}
    at.session_state["audit"] = trail
    at.run()
    assert not at.exception, at.exception
    done = [m.value for m in at.sidebar.markdown if m.value.startswith(":material/check_circle:")]
    assert len(done) == 6, done
