"""Streamlit must not clear Keras between script runs: that slowed live training ~50 times."""

from pathlib import Path

import keras
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_script_runs_keep_keras_global_state():
    first = keras.backend.get_uid("modeldesk_probe")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    at.run()
    assert not at.exception, at.exception
    # keras.backend.clear_session() would have reset the counter to start from 1 again.
    assert keras.backend.get_uid("modeldesk_probe") == first + 1


def test_post_script_garbage_collection_is_off():
    config = (APP.parent / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "postScriptGC = false" in config
