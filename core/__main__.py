"""`python -m core ...`: the command-line twin of the app (the code is in core/cli/main.py)."""

import sys

from core.cli.main import _run

if __name__ == "__main__":
    sys.exit(_run())
