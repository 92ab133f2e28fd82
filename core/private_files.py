"""Private working folders for files made from a user's data, so a shared server
keeps none of them on disk.

Building a bundle or a TFLite file needs a folder: Keras, skops and the TFLite converter write
files. `private_dir()` gives a fresh folder only this process's user can open (mode 0700, as
`tempfile.mkdtemp` makes it) and removes it, whatever happens, when the block ends.

On a shared server (MODELDESK_SHARED=1, or Streamlit Community Cloud: `shared_deployment`)
it also:

- puts the folder in memory (`/dev/shm`, a RAM file system, where the machine has one), so
  nothing made from a participant's data reaches the disk, even for a moment;
- points Python's `tempfile` at that folder while the block runs, so the temporary files that
  libraries make on their own (the TFLite converter writes a SavedModel) land inside it and go
  with it. That setting is process-wide, so blocks run one at a time (a lock).

See docs/ARCHITECTURE.md (foundation layer).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

MEMORY_ROOT = Path("/dev/shm")
_REDIRECT_LOCK = threading.RLock()


# Streamlit Community Cloud clones the app's repository under /mount/src/<repository> and runs
# it from there: anyone with the link is a visitor, so the server is shared.
CLOUD_ROOT = Path("/mount/src")


def community_cloud() -> bool:
    """Whether this app runs on Streamlit Community Cloud (its code or working folder is under
    /mount/src)."""
    places = (Path.cwd(), Path(__file__).resolve().parent)
    return any(place == CLOUD_ROOT or CLOUD_ROOT in place.parents for place in places)


def shared_deployment() -> bool:
    """Whether this server is shared: MODELDESK_SHARED=1 (0 turns it off), else on by default on
    Streamlit Community Cloud. Then nothing made from a user's data is written to disk."""
    value = os.environ.get("MODELDESK_SHARED", "").strip().lower()
    if value:
        return value in ("1", "true", "yes", "on")
    return community_cloud()


def private_root() -> str | None:
    """Where private folders go: memory on a shared server when it has /dev/shm, else the
    system's temporary folder (None)."""
    if shared_deployment() and MEMORY_ROOT.is_dir() and os.access(MEMORY_ROOT, os.W_OK | os.X_OK):
        return str(MEMORY_ROOT)
    return None


@contextlib.contextmanager
def private_dir(prefix: str = "modeldesk-") -> Iterator[Path]:
    """A new folder (mode 0700) removed when the block ends; on a shared server in memory, with
    libraries' own temporary files inside it too."""
    shared = shared_deployment()
    with _REDIRECT_LOCK if shared else contextlib.nullcontext():
        folder = tempfile.mkdtemp(prefix=prefix, dir=private_root())
        os.chmod(folder, 0o700)
        previous = tempfile.tempdir
        try:
            if shared:
                tempfile.tempdir = folder
            yield Path(folder)
        finally:
            if shared:
                tempfile.tempdir = previous
            shutil.rmtree(folder, ignore_errors=True)
