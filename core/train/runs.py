"""Which runs a later step may use: one rule for Evaluate, Deploy and Compliance.

A run is usable when its status is (`RunStatus.usable`: finished, or stopped with its best
weights), it kept a model (weights or a built Keras model), and the prepared data it was trained
on travels with it.
A failed run, or one whose data is gone, is never paired with the session's current pipeline,
which may not be what the run trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.train.status import RunStatus

if TYPE_CHECKING:
    from core.prep.pipeline import Prepared
    from core.train.engine import Run


@dataclass(frozen=True)
class UsableRun:
    """A run and the prepared data it was trained on."""

    run: Run
    prepared: Prepared


def is_usable(run: Run, prepared: Any) -> bool:
    """The rule itself, for one run and its data."""
    has_model = run.weights is not None or run.model is not None
    return RunStatus(run.status).usable and has_model and prepared is not None


def usable_runs(runs: Mapping[str, Run], data: Mapping[str, Any]) -> dict[str, UsableRun]:
    """The usable runs, in history order, each with its own prepared data."""
    return {
        run_id: UsableRun(run, data[run_id])
        for run_id, run in runs.items()
        if is_usable(run, data.get(run_id))
    }
