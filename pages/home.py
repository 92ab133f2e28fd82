"""Home: the workflow at a glance and where this session stands in it."""

import streamlit as st

from core.workflow import workflow_status
from ui.widgets import done_steps, page_link, run_app_first, tr

STATE_BADGE = {"done": ":green-badge[{}]", "current": ":blue-badge[{}]", "todo": ":gray-badge[{}]"}


def home() -> None:
    """Show the five steps plus compliance, each with its state and a link."""
    st.title(tr("app.home.title"))
    st.markdown(tr("app.home.tagline"))
    states = workflow_status(done_steps())
    current = next((s.step for s in states if s.state == "current"), None)
    if current:
        st.success(tr("app.home.next", step=tr(f"app.nav.{current}")), icon=":material/flag:")
        page_link(current, label=tr("app.home.go", step=tr(f"app.nav.{current}")))
    columns = st.columns(len(states))
    for column, state in zip(columns, states, strict=True):
        with column.container(border=True):
            st.markdown(f"**{tr(f'app.step.{state.step}')}**")
            st.markdown(STATE_BADGE[state.state].format(tr(f"app.state.{state.state}")))
            st.caption(tr(f"app.home.step.{state.step}"))
            page_link(state.step, label=tr("app.home.open"))


run_app_first()
home()
