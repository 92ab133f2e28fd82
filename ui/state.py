"""Everything a browser session holds, behind typed accessors: the only module that indexes
`st.session_state` (a test greps the rest of the app for it).

What a session holds (docs/ARCHITECTURE.md, "Session state"):
- the interface language;
- the current dataset and its profile, and the `Prepared` pipeline built from it (a new dataset
  forgets the pipeline and the first-model flag);
- the run history: each `Run` together with the `Prepared` data it was trained on (the run's own
  data travels with it, so Evaluate, Deploy and Compliance never pair a run with the current
  pipeline by mistake); `usable_runs()` applies the one rule of `core.train.runs`;
- the background job and the data it trains on, until its run is collected;
- the audit trail, the checklist answers, what Evaluate has computed;
- widget values, which Streamlit itself keeps under the widgets' `key=`; `widget()` and
  `set_widget()` read and preset those, and `scratch()` holds a page's own small values (the
  last error shown, which upload was parsed) under one namespaced dict.

Kept out of `core` on purpose: core never imports streamlit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:
    from core.compliance.audit import AuditTrail
    from core.compliance.checklist import ChecklistAnswers
    from core.compliance.privacy import ScanResult
    from core.data.loading import Dataset
    from core.data.profile import Profile
    from core.prep.pipeline import Prepared
    from core.train.engine import Job, Run
    from core.train.runs import UsableRun

_DATASET = "dataset"
_PROFILE = "profile"
_PII_SCAN = "pii_scan"
_PREPARED = "prepared"
_FIRST_MODEL = "first_model"
_RUNS = "runs"
_RUN_DATA = "run_data"
_JOB = "job"
_JOB_PREPARED = "job_prepared"
_COLLECTED_JOB = "_collected_job"
_AUDIT = "audit"
_ANSWERS = "cp_answers"
_EVALUATED = "evaluated_runs"
_IMPORTANCE = "importance"
_EXPLANATIONS = "explanations"
_LANG = "lang"
_CACHE = "_session_cache"
_SCRATCH = "_scratch"
_TRAIN_CONFIG = "train_config"

# Session keys describing work derived from the current dataset; a new dataset clears them.
_DERIVED_FROM_DATASET = (_PREPARED, _FIRST_MODEL, _PII_SCAN)


# --- language -------------------------------------------------------------------------------


def language() -> str | None:
    """The language chosen for this session, or None before the first run set it."""
    return st.session_state.get(_LANG)


def set_language(code: str) -> None:
    st.session_state[_LANG] = code


# --- dataset and pipeline -------------------------------------------------------------------


def dataset() -> Dataset | None:
    """The current dataset, or None before one is loaded."""
    return st.session_state.get(_DATASET)


def profile() -> Profile | None:
    """The current dataset's profile (set together with the dataset)."""
    return st.session_state.get(_PROFILE)


def set_dataset(new: Dataset, new_profile: Profile, scan: ScanResult | None = None) -> None:
    """Make a dataset current and forget the work derived from the previous one. Its profile
    comes with it; its PII scan too where the caller already made one (a de-identified table)."""
    st.session_state[_DATASET] = new
    st.session_state[_PROFILE] = new_profile
    for key in _DERIVED_FROM_DATASET:
        st.session_state.pop(key, None)
    if scan is not None:
        st.session_state[_PII_SCAN] = scan


def pii_scan() -> ScanResult | None:
    """The current dataset's PII scan, once made (kept with the dataset, made once per table)."""
    return st.session_state.get(_PII_SCAN)


def set_pii_scan(scan: ScanResult) -> None:
    st.session_state[_PII_SCAN] = scan


def prepared() -> Prepared | None:
    """The pipeline (splits, fitted preprocessing, arrays) built from the current dataset."""
    return st.session_state.get(_PREPARED)


def set_prepared(value: Prepared, *, first_model: bool = False) -> None:
    st.session_state[_PREPARED] = value
    st.session_state[_FIRST_MODEL] = first_model


def is_first_model() -> bool:
    """Whether the current pipeline is the classic y = 2x + 1 first model's."""
    return bool(st.session_state.get(_FIRST_MODEL))


def train_config() -> Any:
    """The RunConfig the Train page's controls describe now (for the download and the job)."""
    return st.session_state.get(_TRAIN_CONFIG)


def set_train_config(config: Any) -> None:
    st.session_state[_TRAIN_CONFIG] = config


# --- runs -----------------------------------------------------------------------------------


def runs() -> dict[str, Run]:
    """The run history, oldest first (the dict itself: callers may rename runs in it)."""
    return st.session_state.setdefault(_RUNS, {})


def run_data(run_id: str) -> Prepared | None:
    """The prepared data a run was trained on."""
    return st.session_state.setdefault(_RUN_DATA, {}).get(run_id)


def add_run(run: Run, data: Prepared | None) -> None:
    runs()[run.run_id] = run
    st.session_state.setdefault(_RUN_DATA, {})[run.run_id] = data


def delete_run(run_id: str) -> None:
    runs().pop(run_id, None)
    st.session_state.setdefault(_RUN_DATA, {}).pop(run_id, None)


def usable_runs() -> dict[str, UsableRun]:
    """Runs Evaluate, Deploy and Compliance may use, with their own data (one rule, in core)."""
    from core.train.runs import usable_runs as rule

    return rule(runs(), st.session_state.setdefault(_RUN_DATA, {}))


# --- the background job ---------------------------------------------------------------------


def job() -> Job | None:
    """This session's training job, whatever backend runs it (running, queued or finished but
    not yet collected)."""
    return st.session_state.get(_JOB)


def set_job(new: Job, data: Prepared) -> None:
    """Remember a started job and the prepared data it trains on."""
    st.session_state[_JOB] = new
    st.session_state[_JOB_PREPARED] = data


def job_prepared() -> Prepared | None:
    return st.session_state.get(_JOB_PREPARED)


def job_collected(run_id: str) -> bool:
    """Whether the run of this job id already joined the history."""
    return st.session_state.get(_COLLECTED_JOB) == run_id


def job_phase() -> str:
    """The job's phase in one word, for the bench trace: none, training, done or collected."""
    current = job()
    if current is None:
        return "none"
    if not current.done:
        return "training"
    return "collected" if job_collected(current.run_id) else "done"


def mark_job_collected(run_id: str) -> None:
    st.session_state[_COLLECTED_JOB] = run_id


# --- audit, answers, evaluation -------------------------------------------------------------


def audit_trail(key: bytes | None = None) -> AuditTrail:
    """This session's audit trail (created on first use, chained under `key`)."""
    if _AUDIT not in st.session_state:
        from core.compliance.audit import AuditTrail

        st.session_state[_AUDIT] = AuditTrail(key=key)
    return st.session_state[_AUDIT]


def existing_audit_trail() -> AuditTrail | None:
    """The audit trail if one was started (reading it never creates one)."""
    return st.session_state.get(_AUDIT)


def checklist_answers() -> ChecklistAnswers:
    """The compliance checklist answers (created empty on first use)."""
    if _ANSWERS not in st.session_state:
        from core.compliance.checklist import ChecklistAnswers

        st.session_state[_ANSWERS] = ChecklistAnswers()
    return st.session_state[_ANSWERS]


def set_checklist_answers(answers: ChecklistAnswers) -> None:
    st.session_state[_ANSWERS] = answers


def evaluated_runs() -> set[str]:
    """Runs whose Evaluate page was opened (the workflow's step 4)."""
    return st.session_state.setdefault(_EVALUATED, set())


def importance() -> dict[str, Any]:
    """Permutation importance computed on Evaluate, by run id (Compliance reuses it)."""
    return st.session_state.setdefault(_IMPORTANCE, {})


def explanations() -> dict[str, Any]:
    """Shapley attributions computed on Evaluate, by run id (Deploy and Compliance reuse them)."""
    return st.session_state.setdefault(_EXPLANATIONS, {})


# --- caches, widgets, page scratch ----------------------------------------------------------


def session_cache_store() -> OrderedDict[Hashable, Any]:
    """The per-session LRU's storage (ui.session_cache manages it)."""
    return st.session_state.setdefault(_CACHE, OrderedDict())


def widget(key: str, default: Any = None) -> Any:
    """A widget's current value, by the widget's `key=`."""
    return st.session_state.get(key, default)


def set_widget(key: str, value: Any) -> None:
    """Preset a widget's value (before the widget is drawn in this run)."""
    st.session_state[key] = value


def preset_widget(key: str, value: Any) -> None:
    """Give a widget a value only if it has none yet."""
    if key not in st.session_state:
        st.session_state[key] = value


def forget_widgets(*keys: str) -> None:
    """Drop widgets' values, so they start again from their defaults."""
    for key in keys:
        st.session_state.pop(key, None)


def update_widgets(**values: Any) -> None:
    """Preset several widgets at once."""
    st.session_state.update(values)


def scratch(name: str, default: Any = None) -> Any:
    """A page's own small value (last error, last parsed file, a result to show), by name."""
    return st.session_state.setdefault(_SCRATCH, {}).get(name, default)


def set_scratch(name: str, value: Any) -> None:
    st.session_state.setdefault(_SCRATCH, {})[name] = value


def scratch_dict(name: str) -> dict:
    """A page's own dict (created empty on first use), e.g. results kept per run."""
    return st.session_state.setdefault(_SCRATCH, {}).setdefault(name, {})


# --- workshop: lesson, resume token, work kept for a reload ---------------------------------

_LESSON = "lesson"
_RESUME_TOKEN = "_resume_token"
_FACILITATOR = "_facilitator"
# What a reload of the tab gets back (the resume token maps to these, in memory).
_WORK = (
    _LANG, _DATASET, _PROFILE, _PII_SCAN, _PREPARED, _FIRST_MODEL, _RUNS, _RUN_DATA, _JOB,
    _JOB_PREPARED, _COLLECTED_JOB, _AUDIT, _ANSWERS, _EVALUATED, _IMPORTANCE, _EXPLANATIONS,
    _LESSON,
)  # fmt: skip
# Train controls travel too (their values are the setup the participant was building): the
# keys core.train.controls marks resumable, the privacy settings included.


def _resumable_widget(key: str) -> bool:
    from core.train.controls import resume_key_pattern

    return resume_key_pattern().match(key) is not None


def lesson_id() -> str | None:
    """The lesson this session follows (core.workshop.lessons), or None."""
    return st.session_state.get(_LESSON)


def set_lesson_id(value: str | None) -> None:
    st.session_state[_LESSON] = value


def resume_token() -> str | None:
    """This session's resume token (also its id in the queue and on the room board)."""
    return st.session_state.get(_RESUME_TOKEN)


def set_resume_token(token: str) -> None:
    st.session_state[_RESUME_TOKEN] = token


def facilitator() -> bool:
    """Whether this session gave the facilitator's password."""
    return bool(st.session_state.get(_FACILITATOR))


def set_facilitator(value: bool) -> None:
    st.session_state[_FACILITATOR] = value


def work_snapshot() -> dict[str, Any]:
    """The session's work by key (references, not copies): what a resume token restores."""
    work = {key: st.session_state[key] for key in _WORK if key in st.session_state}
    work.update(
        {
            key: value
            for key, value in st.session_state.items()
            if isinstance(key, str) and _resumable_widget(key)
        }
    )
    return work


def restore_work(work: dict[str, Any]) -> None:
    """Put a snapshot's work back into a new session (a reloaded tab)."""
    allowed = set(_WORK)
    for key, value in work.items():
        if key in allowed or (isinstance(key, str) and _resumable_widget(key)):
            st.session_state[key] = value
