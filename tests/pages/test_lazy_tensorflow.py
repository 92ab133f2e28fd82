"""The home, Data and Compliance pages never import TensorFlow (~3 s and ~0.5 GB)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=60)
at.run()
assert not at.exception, at.exception
for page in ("pages/data.py", "pages/compliance.py"):
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    if page == "pages/data.py":
        at.button(key="load_sample").click().run()
        assert not at.exception, at.exception
        assert at.session_state["dataset"] is not None
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print("HEAVY:", heavy[:5])
sys.exit(1 if heavy else 0)
"""


def test_light_pages_do_not_import_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
