"""ModelDesk entry point: page config, navigation, sidebar. Nothing else."""

import streamlit as st

from core.i18n import LANGUAGES
from core.workflow import workflow_status
from ui import state
from ui import workshop as workshop_ui
from ui.widgets import (
    PAGES,
    collect_finished_job,
    done_steps,
    escape_md,
    keep_keras_state_between_runs,
    lang,
    page_errors,
    tr,
    trace,
)

keep_keras_state_between_runs()  # see its docstring: training was ~50x slower without it
st.set_page_config(page_title="ModelDesk", page_icon=":material/neurology:", layout="wide")

STATE_ICONS = {"done": ":material/check_circle:", "current": ":material/arrow_right:", "todo": "·"}

# Before anything reads the session: a reloaded tab gets its work back (resume token), the
# queue hears this tab is alive, and a lesson or setup link in the URL is applied once.
workshop_ui.start_session()
workshop_ui.open_lesson_from_url()
workshop_ui.open_setup_from_url()
trace("run", job=state.job_phase())

current_lang = lang()
with st.sidebar:
    # The choice lives in plain session state ("lang"), which no page switch can clean up;
    # the widget only writes to it.
    st.selectbox(
        tr("app.sidebar.language"),
        options=list(LANGUAGES),
        index=list(LANGUAGES).index(current_lang),
        format_func=LANGUAGES.__getitem__,
        key="lang_picker",
        on_change=lambda: state.set_language(state.widget("lang_picker")),
    )
    # Filled after the page has run, so it shows what the page just did (a new dataset, ...).
    status = st.container()

navigation = st.navigation(
    [
        st.Page(path, title=tr(f"app.nav.{name}"), icon=icon, default=name == "home")
        for name, (path, icon) in PAGES.items()
    ]
)
# A job may have finished while its page was not shown: its run joins the history before any
# page (Evaluate, Deploy, ...) looks for runs.
collect_finished_job()
workshop_ui.lesson_panel()
with page_errors():  # no traceback reaches a user: one line, the detail in the server log
    navigation.run()

with status:
    dataset = state.dataset()
    st.caption(tr("app.sidebar.dataset"))
    if dataset is None:
        st.write(tr("app.sidebar.no_dataset"))
    else:
        rows, cols = dataset.frame.shape
        st.write(tr("app.sidebar.dataset_line", name=escape_md(dataset.name), rows=rows, cols=cols))
    st.caption(tr("app.sidebar.workflow"))
    for step in workflow_status(done_steps()):
        st.write(f"{STATE_ICONS[step.state]} {tr(f'app.step.{step.step}')}")
    workshop_ui.keep_alive()

workshop_ui.end_of_run()
trace("end", page=navigation.url_path, runs=len(state.runs()), job=state.job_phase())
