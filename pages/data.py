"""Data: load a table (upload or sample), see what was detected, and profile it."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.data.figures import correlation_figure, distribution_figure
from core.data.loading import (
    SAMPLES,
    Dataset,
    ParseOptions,
    formats_text,
    load_bytes,
    load_sample,
)
from core.data.profile import Profile, profile_frame
from core.i18n import UserError
from ui import state
from ui.widgets import (
    escape_md,
    labeler,
    lang,
    record_event,
    run_app_first,
    say,
    session_cache,
    set_dataset,
    show_error,
    show_frame,
    tr,
)

ENCODINGS = (None, "utf-8", "utf-8-sig", "gb18030", "latin-1")
DELIMITERS = (None, ",", ";", "\t", "|")
DECIMALS = (None, ".", ",")
OPTION_KEYS = ("opt_encoding", "opt_delimiter", "opt_decimal", "opt_sheet")
PREVIEW_ROWS = 200


def data_page() -> None:
    """Upload or sample, then the profile of whatever is current."""
    st.title(tr("datapage.title"))
    st.caption(tr("datapage.intro"))
    upload_tab, sample_tab = st.tabs([tr("datapage.tab.upload"), tr("datapage.tab.samples")])
    with upload_tab:
        upload_section()
    with sample_tab:
        sample_section()
    dataset, profile = state.dataset(), state.profile()
    if dataset is None or profile is None:  # set together (state.set_dataset)
        st.info(tr("datapage.empty"), icon=":material/upload_file:")
        return
    show_dataset(dataset, profile)


def upload_section() -> None:
    """File uploader; parse once per file and options; a failed upload keeps the current data."""
    uploaded = st.file_uploader(
        tr("datapage.upload.label", formats=formats_text()), help=tr("datapage.upload.help")
    )
    if uploaded is None:
        return
    data = uploaded.getvalue()
    file_key = (hashlib.sha256(data).hexdigest(), uploaded.name)
    if state.scratch("_upload_file") != file_key:
        # A new file starts from detection, not from the options chosen for the last one.
        state.forget_widgets(*OPTION_KEYS)
        state.set_scratch("_upload_file", file_key)
    options = ParseOptions(*(state.widget(key) for key in OPTION_KEYS))
    load_key = (*file_key, options)
    if state.scratch("_upload_loaded") != load_key:
        state.set_scratch("_upload_loaded", load_key)
        try:
            dataset, profile = session_cache(
                ("upload", *load_key), lambda: _load_and_profile(data, uploaded.name, options)
            )
        except UserError as error:
            state.set_scratch("_upload_error", error.message)
        else:
            state.set_scratch("_upload_error", None)
            set_dataset(dataset, profile)
            record_event("upload", _event(dataset))
    upload_error = state.scratch("_upload_error")
    if upload_error is not None:
        show_error(upload_error)
        current = state.dataset()
        if current is not None:
            st.caption(tr("datapage.kept", name=escape_md(current.name)))
        return
    current = state.dataset()
    if current is not None and current.file_format != "sample":
        parse_options(current)


def parse_options(dataset: Dataset) -> None:
    """What was detected, with a way to override it."""
    with st.expander(tr("datapage.options.title"), icon=":material/settings:"):
        if dataset.file_format == "csv":
            st.selectbox(
                tr("datapage.options.encoding"),
                ENCODINGS,
                key="opt_encoding",
                format_func=labeler(ENCODINGS, lambda v: _auto(v, dataset.encoding)),
            )
            st.selectbox(
                tr("datapage.options.delimiter"),
                DELIMITERS,
                key="opt_delimiter",
                format_func=labeler(
                    DELIMITERS, lambda v: _auto(v, dataset.delimiter, _delimiter_name)
                ),
            )
            st.selectbox(
                tr("datapage.options.decimal"),
                DECIMALS,
                key="opt_decimal",
                format_func=labeler(DECIMALS, lambda v: _auto(v, dataset.decimal)),
            )
        elif dataset.file_format == "excel" and dataset.sheets:
            st.selectbox(
                tr("datapage.options.sheet"),
                (None, *dataset.sheets),
                key="opt_sheet",
                format_func=labeler((None, *dataset.sheets), lambda v: _auto(v, dataset.sheet)),
            )
        else:
            st.caption(tr("datapage.options.none"))


def sample_section() -> None:
    """Built-in samples with a description and a suggested target."""
    name = st.selectbox(
        tr("datapage.sample.label"),
        list(SAMPLES),
        format_func=labeler(SAMPLES, lambda n: tr(SAMPLES[n].title_key)),
        key="sample_choice",
    )
    sample = SAMPLES[name]
    st.caption(tr(sample.description_key))
    st.caption(tr("datapage.sample.target", target=escape_md(sample.target)))
    if st.button(tr("datapage.sample.load"), icon=":material/download:", key="load_sample"):
        dataset, profile = session_cache(("sample", name), lambda: _sample_and_profile(name))
        set_dataset(dataset, profile)
        state.set_scratch("_upload_error", None)
        record_event("upload", _event(dataset))


def show_dataset(dataset: Dataset, profile: Profile) -> None:
    """Source, detection, notices, alerts, per-column profile, charts and a preview."""
    st.subheader(escape_md(dataset.name))
    st.caption(_source_line(dataset))
    for notice in dataset.notices:
        st.info(say(notice), icon=":material/info:")
    rows, memory, dupes, cols = st.columns(4)
    rows.metric(tr("datapage.metric.rows"), f"{profile.rows:,}")
    cols.metric(tr("datapage.metric.columns"), len(profile.columns))
    memory.metric(tr("datapage.metric.memory"), _size(profile.memory_bytes))
    dupes.metric(tr("datapage.metric.duplicates"), f"{profile.duplicate_rows:,}")

    st.markdown(f"#### {tr('datapage.alerts')}")
    if not profile.alerts:
        st.success(tr("datapage.no_alerts"), icon=":material/check:")
    for alert in profile.alerts:
        st.warning(f"{say(alert.message)}  \n{say(alert.why)}", icon=":material/warning:")

    st.markdown(f"#### {tr('datapage.columns')}")
    table = _column_table(profile)
    table[tr("special.page.col.flags")] = _flags(dataset)
    show_frame(table, hide_index=True, width="stretch")

    st.markdown(f"#### {tr('datapage.distribution')}")
    names = [column.name for column in profile.columns]
    chosen = st.selectbox(tr("datapage.distribution.column"), names, key="dist_column")
    if chosen is not None:
        role = profile.column(chosen).role
        st.plotly_chart(distribution_figure(dataset.frame[chosen], role, lang()), width="stretch")

    st.markdown(f"#### {tr('datapage.correlation')}")
    heatmap = correlation_figure(dataset.frame, lang())
    if heatmap is None:
        st.caption(tr("datapage.correlation.none"))
    else:
        st.plotly_chart(heatmap, width="stretch")

    st.markdown(f"#### {tr('datapage.preview', n=min(PREVIEW_ROWS, profile.rows))}")
    show_frame(dataset.frame.head(PREVIEW_ROWS), width="stretch")


def _event(dataset: Dataset) -> dict:
    return {
        "name": dataset.name,
        "sha256": dataset.sha256,
        "format": dataset.file_format,
        "rows": int(dataset.frame.shape[0]),
        "columns": int(dataset.frame.shape[1]),
    }


def _load_and_profile(data: bytes, name: str, options: ParseOptions) -> tuple[Dataset, Profile]:
    dataset = load_bytes(data, name, options)
    return dataset, profile_frame(dataset.frame)


def _sample_and_profile(name: str) -> tuple[Dataset, Profile]:
    dataset = load_sample(name)
    return dataset, profile_frame(dataset.frame)


def _flags(dataset: Dataset) -> list[str]:
    """Per column: the special categories and quasi-identifier calls (corrections applied)."""
    from core.compliance.privacy import category_key, scan_frame
    from ui.sections.compliance.special import corrected_scan

    scan = state.pii_scan()  # kept with the dataset: one scan per table, shared with Compliance
    if scan is None:
        scan = scan_frame(dataset.frame)
        state.set_pii_scan(scan)
    scan = corrected_scan(dataset.sha256, scan)
    flags = []
    for column in scan.columns:
        found = [tr(category_key(finding.category)) for finding in column.sensitive]
        found += [tr("special.page.quasi_identifier") for _ in column.quasi]
        if column.direct_identifier:
            found.append(tr("special.page.direct_identifier"))
        flags.append(", ".join(found))
    return flags


def _column_table(profile: Profile) -> pd.DataFrame:
    return pd.DataFrame(
        {
            tr("datapage.col.name"): [c.name for c in profile.columns],
            tr("datapage.col.role"): [tr(f"profile.role.{c.role}") for c in profile.columns],
            tr("datapage.col.dtype"): [c.dtype for c in profile.columns],
            tr("datapage.col.missing"): [c.missing for c in profile.columns],
            tr("datapage.col.missing_share"): [f"{c.missing_share:.1%}" for c in profile.columns],
            tr("datapage.col.unique"): [c.unique for c in profile.columns],
            tr("datapage.col.mean"): [_number(c.stats.get("mean")) for c in profile.columns],
            tr("datapage.col.min"): [_number(c.stats.get("min")) for c in profile.columns],
            tr("datapage.col.max"): [_number(c.stats.get("max")) for c in profile.columns],
            tr("datapage.col.top"): [_text(c.stats.get("top")) for c in profile.columns],
        }
    )


def _source_line(dataset: Dataset) -> str:
    parts = [tr(f"datapage.format.{dataset.file_format}"), _size(dataset.size_bytes)]
    if dataset.encoding:
        parts.append(tr("datapage.detected.encoding", value=dataset.encoding))
    if dataset.delimiter:
        parts.append(tr("datapage.detected.delimiter", value=_delimiter_name(dataset.delimiter)))
    if dataset.decimal:
        parts.append(tr("datapage.detected.decimal", value=dataset.decimal))
    if dataset.sheet:
        parts.append(tr("datapage.detected.sheet", value=escape_md(dataset.sheet)))
    return " · ".join(parts)


def _auto(value: str | None, detected: str | None, show=lambda v: v) -> str:
    if value is None:
        return tr("datapage.options.auto", value=show(detected) if detected else "—")
    return show(value)


def _delimiter_name(delimiter: str) -> str:
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    return tr(f"datapage.delimiter.{names[delimiter]}") if delimiter in names else delimiter


def _size(count: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} B"


def _number(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.4g}"
    return ""


def _text(value: object) -> str:
    return "" if value is None else str(value)


run_app_first()
data_page()
