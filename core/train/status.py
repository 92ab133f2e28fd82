"""A training run's status: one typed list, and the one rule for "ended" and "usable".

The values are the strings configs, bundles, saved runs and the translation catalog
(`train.status.<value>`) have always used; a `RunStatus` compares equal to its string, so a run
read back from JSON and one made here are the same.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a training job or its run stands."""

    QUEUED = "queued"
    RUNNING = "running"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """Whether the job has ended (stopped, finished or failed)."""
        return self in _DONE

    @property
    def usable(self) -> bool:
        """Whether a later step may use the run's model: it finished, or it was stopped (a
        stopped run keeps its best weights). A failed run never is."""
        return self in _USABLE


_DONE = frozenset({RunStatus.STOPPED, RunStatus.FINISHED, RunStatus.FAILED})
_USABLE = frozenset({RunStatus.FINISHED, RunStatus.STOPPED})
