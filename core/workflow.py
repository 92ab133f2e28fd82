"""The workflow every model goes through, and where a session stands in it."""

from __future__ import annotations

from dataclasses import dataclass

# Steps in order; Compliance runs alongside all of them rather than after Deploy.
STEPS: tuple[str, ...] = ("data", "preprocess", "train", "evaluate", "deploy", "compliance")


@dataclass(frozen=True)
class StepState:
    """One workflow step and its state: "done", "current" (the next to do) or "todo"."""

    step: str
    state: str


def workflow_status(done: set[str]) -> tuple[StepState, ...]:
    """Each step's state given the steps done so far; the first step not done is current."""
    unknown = done - set(STEPS)
    if unknown:
        raise ValueError(f"unknown workflow steps: {sorted(unknown)}")
    states: list[StepState] = []
    current_given = False
    for step in STEPS:
        if step in done:
            states.append(StepState(step, "done"))
        elif not current_given and step != "compliance":
            states.append(StepState(step, "current"))
            current_given = True
        else:
            states.append(StepState(step, "todo"))
    return tuple(states)
