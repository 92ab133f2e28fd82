"""Streamlit glue shared by app.py and the pages: session language, state and safe text.

Kept out of `core` on purpose: core never imports streamlit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import runpy
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypedDict, TypeVar

import streamlit as st

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, Message, UserError, language_from_locale, t
from core.train.runs import is_usable
from ui import state

T = TypeVar("T")
APP = Path(__file__).resolve().parent.parent / "app.py"
# The page table app.py's navigation is built from: step -> (page file, icon).
PAGES = {
    "home": ("pages/home.py", ":material/home:"),
    "data": ("pages/data.py", ":material/table:"),
    "preprocess": ("pages/preprocess.py", ":material/tune:"),
    "train": ("pages/train.py", ":material/model_training:"),
    "evaluate": ("pages/evaluate.py", ":material/monitoring:"),
    "deploy": ("pages/deploy.py", ":material/rocket_launch:"),
    "compliance": ("pages/compliance.py", ":material/policy:"),
    "room": ("pages/room.py", ":material/groups:"),
}
SESSION_CACHE_SIZE = 4


class Persist(TypedDict):
    """The keyword a widget takes to keep its value when the user visits another page."""

    persist_state: Literal["session"]


PERSIST: Persist = {"persist_state": "session"}  # settings survive a visit to another page
# Downloads from the Deploy page that mean a model has left the app (audit "export" events).
DEPLOY_EXPORTS = frozenset(
    {"bundle", "predictions_csv", "predictions_excel", "training_script", "tflite_float",
     "tflite_dynamic", "keras"}
)  # fmt: skip  # parsed uploads kept per session: enough to flip options back and forth
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$&:])")


_TRACE = logging.getLogger("modeldesk.trace")
if os.environ.get("MODELDESK_TRACE") and not _TRACE.handlers:
    # Opt-in, for benches only (bench/workshop_load.py --trace FILE): one line per script run
    # event, naming a session by a hash of its participant token, never the token or any data.
    _handler = logging.FileHandler(os.environ["MODELDESK_TRACE"])
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _TRACE.addHandler(_handler)
    _TRACE.setLevel(logging.DEBUG)
    _TRACE.propagate = False


def trace(event: str, **fields: object) -> None:
    """One line in the bench's trace file (MODELDESK_TRACE); nothing when it is not set."""
    if not _TRACE.isEnabledFor(logging.DEBUG):
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    token = state.resume_token() or ""
    who = hashlib.sha256(token.encode()).hexdigest()[:8] if token else "-"
    session = ctx.session_id[:8].replace(" ", "_") if ctx is not None else "-"
    extra = " ".join(f"{key}={value}" for key, value in fields.items())
    _TRACE.debug(f"{time.time():.3f} {who} {session} {event} {extra}")


def lang() -> str:
    """The session's language, first taken from the browser's locale."""
    chosen = state.language()
    if chosen is None:
        locale = getattr(st.context, "locale", None)
        chosen = language_from_locale(locale) or DEFAULT_LANGUAGE
        state.set_language(chosen)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def tr(key: str, **params: object) -> str:
    """Catalog text in the session's language."""
    return t(key, lang(), **params)


def escape_md(text: object) -> str:
    """Text shown literally inside Streamlit markdown: no HTML, links or emphasis from user data."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def say(message: Message) -> str:
    """A core Message in the session's language, with user-supplied values escaped for markdown."""
    params = {k: escape_md(v) if isinstance(v, str) else v for k, v in message.params.items()}
    return t(message.key, lang(), **params)


def session_cache(key: Hashable, compute: Callable[[], T]) -> T:
    """Compute once per session and key; a small LRU that lives in this session's state only.

    Not st.cache_data: that cache is shared by every session of the server, and uploads must
    never outlive or leak beyond the session that sent them.
    """
    cache = state.session_cache_store()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = compute()
    cache[key] = value
    while len(cache) > SESSION_CACHE_SIZE:
        cache.popitem(last=False)
    return value


def done_steps() -> set[str]:
    """Workflow steps this session has completed."""
    done: set[str] = set()
    if state.dataset() is not None:
        done.add("data")
    if state.prepared() is not None:
        done.add("preprocess")
    if any(run.status.usable for run in state.runs().values()):
        done.add("train")
    if state.evaluated_runs():
        done.add("evaluate")
    trail = state.existing_audit_trail()
    events = trail.events if trail is not None else ()
    if any(e.kind == "export" and e.details.get("what") in DEPLOY_EXPORTS for e in events):
        done.add("deploy")
    if any(e.kind == "checklist" for e in events):
        done.add("compliance")
    return done


def set_dataset(dataset: Any, profile: Any, scan: Any = None) -> None:
    """Make a dataset current for this session and forget work derived from the previous one
    (its PII scan comes along where one was made already)."""
    state.set_dataset(dataset, profile, scan)


def epsilon_text(privacy: dict | None) -> str:
    """The ε a privacy block (core.train.privacy's report, metrics.json's "privacy") says was
    spent, to two decimals; "∞" for a run without DP or without a finite bound."""
    block = privacy or {}
    epsilon = block.get("epsilon") if block.get("dp") else None
    return "∞" if epsilon is None else f"{epsilon:.2f}"


def labeler(codes: Iterable[Hashable], label: Callable[[Any], str]) -> Callable[[Any], str]:
    """A format_func whose labels are computed now, in this run's language.

    Streamlit may call format_func outside the script run (AppTest does), where session state,
    and so the language, cannot be read.
    """
    labels = {code: label(code) for code in codes}
    return labels.__getitem__


def collect_finished_job() -> bool:
    """Move a finished job's run into this session's history, once; True when it did now."""
    job = state.job()
    if job is None or not job.done or state.job_collected(job.run_id):
        return False
    run = job.result()
    prepared = state.job_prepared()
    # A job stopped in the queue has no model to measure.
    if prepared is not None and is_usable(run, prepared):
        from core.evaluate.metrics import run_metrics

        # Held-out test metrics (and the baselines') travel with the run, as in metrics.json.
        run_metrics(prepared, run)
    state.add_run(run, prepared)
    state.mark_job_collected(job.run_id)
    trace("collect", runs=len(state.runs()))
    return True


def show_frame(frame: Any, **kwargs: Any) -> Any:
    """st.dataframe for a table of user data: cells and column names that a spreadsheet would
    run as formulas are quoted first (core.export_safety), so even where the table toolbar's
    "Download as CSV" is on (.streamlit/config.toml turns it off: client.disableDataExport)
    its file runs nothing: a spreadsheet would run a formula cell."""
    import pandas as pd

    from core.export_safety import neutralise_frame

    return st.dataframe(neutralise_frame(pd.DataFrame(frame)), **kwargs)


def server_setting(env: str, secret: str) -> str | None:
    """A server setting: the environment variable, else the Streamlit secret, else None."""
    value = os.environ.get(env, "").strip()
    if value:
        return value
    try:
        found = st.secrets.get(secret)
    except Exception:  # no secrets.toml: Streamlit raises its own error type
        return None
    return (str(found).strip() or None) if found else None


def audit_key() -> Any:
    """The server's audit key (MODELDESK_AUDIT_KEY or secrets' audit_key), else this process's
    random one (`configured` False: trails then verify only while this process runs)."""
    from core.compliance.audit import audit_key as resolve

    return resolve(server_setting("MODELDESK_AUDIT_KEY", "audit_key"))


def audit_trail() -> Any:
    """This session's HMAC-chained audit trail (created on first use, under the server key)."""
    existing = state.existing_audit_trail()
    if existing is not None:
        return existing
    return state.audit_trail(audit_key().key)


def record_event(kind: str, details: dict) -> None:
    """Add one event (upload, preprocess, train, export, ...) to the session's audit trail."""
    audit_trail().record(kind, details)


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from clearing Keras after every script run.

    Streamlit 1.67 calls keras.backend.clear_session() (and with it a full gc.collect()) after
    each run, fragment reruns included. With the live curves redrawn twice a second that took
    about half of the GIL and slowed a training job some fifty times (py-spy, breast_cancer:
    10 s an epoch instead of 0.1 s), and it resets Keras' global state under jobs training in
    other threads. ModelDesk never relies on Keras' global session: every model is built
    explicitly and kept in session state.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = _no_module_cleanup


def _no_module_cleanup() -> None:
    """Streamlit's per-run module cleanup, minus Keras (and matplotlib, which is not used)."""


def run_app_first() -> None:
    """Run app.py in place when Streamlit started this page file without it (the pages guard).

    Streamlit 1.67 sets `PagesManager.uses_pages_directory` from `pages/` existing, so until a
    run reaches `st.navigation` a deep link such as `/data` runs `pages/data.py` alone: no
    sidebar, no language. app.py's `st.navigation` switches that mode off and runs the
    requested page in the same run, so the URL and the click survive. See
    docs/ARCHITECTURE.md, "Streamlit behaviours we work around"; the deep-link browser test
    guards this private attribute.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()


def page_link(step: str, label: str | None = None, icon: str | None = None) -> None:
    """A link to a workflow step's page, by step name (from PAGES, never a hard-coded path)."""
    st.page_link(PAGES[step][0], label=label or tr(f"app.nav.{step}"), icon=icon)


def show_error(error: UserError | Message) -> None:
    """A user's error in their language, the one way pages show one (never a traceback)."""
    message = error.message if isinstance(error, UserError) else error
    st.error(say(message), icon=":material/error:")


_ERRORS = logging.getLogger("modeldesk.errors")
_CALLBACK_ERROR = "callback_error"


def unexpected(error: BaseException) -> Message:
    """The one-line message for an error no check foresaw; its traceback goes to the server log
    (the user sees the error's type only: a traceback can quote their data)."""
    _ERRORS.error("unexpected %s on a page", type(error).__name__, exc_info=error)
    return Message("hostile.error.unexpected", {"kind": type(error).__name__})


@contextlib.contextmanager
def page_errors() -> Iterator[None]:
    """Around a page's run (app.py): any exception it raises ends the page with one line in the
    user's language, the rest of the app (sidebar, other pages, session) keeps working. Streamlit's
    own stop and rerun are BaseExceptions and pass through."""
    pending = state.scratch(_CALLBACK_ERROR)
    if pending is not None:
        state.set_scratch(_CALLBACK_ERROR, None)
        show_error(pending)
    try:
        yield
    except UserError as error:
        show_error(error)
    except Exception as error:
        show_error(unexpected(error))


def guarded(callback: Callable[..., None]) -> Callable[..., None]:
    """A widget callback (on_click, on_change) whose errors page_errors() shows on the next run:
    Streamlit runs callbacks before the page, outside any page's own try."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            callback(*args, **kwargs)
        except UserError as error:
            state.set_scratch(_CALLBACK_ERROR, error.message)
        except Exception as error:
            state.set_scratch(_CALLBACK_ERROR, unexpected(error))

    return run
