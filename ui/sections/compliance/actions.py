"""Compliance tab (e): encrypted export, decrypt, session backup and restore."""

from __future__ import annotations

import streamlit as st

from core.compliance import evidence as compliance_evidence
from core.compliance import report as compliance_report
from core.compliance.evidence import (
    CARD_FIELDS,
    read_backup,
)
from core.compliance.report import ModelCardText
from core.compliance.secure import FILE_SUFFIX, decrypt, encrypt
from core.i18n import UserError
from ui import state
from ui.sections.compliance.answers import current_answers, set_answer_widgets
from ui.widgets import (
    audit_trail,
    escape_md,
    guarded,
    labeler,
    lang,
    record_event,
    show_error,
    tr,
)

REPORT_FILES = {"markdown": ("md", "text/markdown"), "html": ("html", "text/html"),
                "json": ("json", "application/json")}  # fmt: skip
EXPORTS = ("report_html", "report_markdown", "report_json", "backup", "bundle")


def actions_section(inputs, card: ModelCardText) -> None:
    """The four measures as things to do: encrypt, log in, back up (de-identify has its tab)."""
    st.subheader(tr("compage.encrypt.title"))
    st.caption(tr("compage.encrypt.intro"))
    runs = state.runs()
    available = tuple(e for e in EXPORTS if e != "bundle" or state.widget("cp_run"))
    what = st.selectbox(
        tr("compage.encrypt.what"),
        available,
        format_func=labeler(available, lambda e: tr(f"compage.encrypt.what_{e}")),
        key="cp_encrypt_what",
    )
    one, two = st.columns(2)
    passphrase = one.text_input(
        tr("compage.encrypt.passphrase"), type="password", key="cp_passphrase"
    )
    repeat = two.text_input(tr("compage.encrypt.repeat"), type="password", key="cp_passphrase2")
    if st.button(tr("compage.encrypt.button"), icon=":material/lock:", key="cp_encrypt"):
        if passphrase != repeat:
            st.error(tr("compage.encrypt.mismatch"), icon=":material/error:")
        else:
            try:
                name, data = _export_bytes(what, inputs, card, runs)
                blob = encrypt(data, passphrase)
            except UserError as error:
                show_error(error)
            else:
                state.set_scratch("cp_encrypted", (name + FILE_SUFFIX, blob))
                state.set_scratch("cp_encrypted_export", True)
                record_event("export", {"what": what, "encrypted": True, "bytes": len(blob)})
                st.rerun()  # the checklist above now has its evidence
    encrypted = state.scratch("cp_encrypted")
    if encrypted is not None:
        st.download_button(
            tr("compage.encrypt.download", name=encrypted[0]),
            encrypted[1],
            file_name=encrypted[0],
            mime="application/octet-stream",
            icon=":material/download:",
            key="cp_encrypted_download",
        )
    with st.expander(tr("compage.decrypt.title"), icon=":material/lock_open:"):
        _decrypt_tool()

    st.subheader(tr("compage.access.title"))
    st.markdown(tr("compage.access.body"))

    st.subheader(tr("compage.backup.title"))
    st.caption(tr("compage.backup.intro"))
    st.download_button(
        tr("compage.backup.download"),
        _backup_json(card),
        file_name="modeldesk_backup.json",
        mime="application/json",
        icon=":material/download:",
        key="cp_backup_download",
        on_click=_on_backup_download,
    )
    st.file_uploader(
        tr("compage.backup.upload"),
        type=["json"],
        key="cp_backup_upload",
        on_change=guarded(_restore_backup),
    )
    backup_error = state.scratch("cp_backup_error")
    if backup_error is not None:
        show_error(backup_error)
        st.caption(tr("compage.backup.kept"))
    restored = state.scratch("cp_restored")
    if restored is not None:
        st.success(tr("compage.backup.restored", **restored), icon=":material/restore:")


def _export_bytes(what: str, inputs, card: ModelCardText, runs: dict) -> tuple[str, bytes]:
    if what.startswith("report_"):
        fmt = what.removeprefix("report_")
        return f"modeldesk_report.{REPORT_FILES[fmt][0]}", compliance_report.render_report(
            inputs, fmt, lang()
        )
    if what == "backup":
        return "modeldesk_backup.json", _backup_json(card).encode("utf-8")
    return "bundle.zip", _bundle(runs)


def _bundle(runs: dict) -> bytes:
    from core.deploy.bundle import export_bundle_bytes
    from core.evaluate.metrics import run_metrics
    from core.train.runner import RunConfig

    run_id = state.widget("cp_run")
    run = runs.get(run_id)
    prepared = state.run_data(run_id)
    if run is None or prepared is None:
        raise UserError("compage.model.error.no_model")
    config = RunConfig(prepared.spec, run.model_spec, run.train_spec)
    metrics = run_metrics(prepared, run)
    dataset = state.dataset()
    return export_bundle_bytes(
        prepared, run, config, metrics, dataset_name=dataset.name if dataset else "", lang=lang()
    )


def _decrypt_tool() -> None:
    uploaded = st.file_uploader(tr("compage.decrypt.file"), key="cp_decrypt_file")
    passphrase = st.text_input(
        tr("compage.encrypt.passphrase"), type="password", key="cp_decrypt_pass"
    )
    pressed = st.button(tr("compage.decrypt.button"), key="cp_decrypt", disabled=uploaded is None)
    if pressed and uploaded is not None:
        try:
            plain = decrypt(uploaded.getvalue(), passphrase)
        except UserError as error:
            show_error(error)
            return
        name = uploaded.name.removesuffix(FILE_SUFFIX) or "decrypted"
        st.download_button(
            tr("compage.decrypt.download", name=escape_md(name)),
            plain,
            file_name=name,
            icon=":material/download:",
            key="cp_decrypted_download",
        )


def _backup_json(card: ModelCardText) -> str:
    prepared = state.prepared()
    return compliance_evidence.session_backup(
        answers=current_answers(),
        audit=audit_trail(),
        card=card,
        preprocess_json=None if prepared is None else prepared.spec.to_json(),
        runs=list(state.runs().values()),
        dataset=state.dataset(),
    )


def _on_backup_download() -> None:
    state.set_scratch("cp_backup_saved", True)
    record_event("export", {"what": "backup", "encrypted": False})


def _restore_backup() -> None:
    """Read the uploaded backup whole; replace the answers and append its audit events (marked
    imported) only if all of it is good."""
    uploaded = state.widget("cp_backup_upload")
    if uploaded is None:
        return
    state.set_scratch("cp_restored", None)
    try:
        backup = read_backup(uploaded.getvalue())
    except UserError as error:
        state.set_scratch("cp_backup_error", error.message)
        return
    state.set_scratch("cp_backup_error", None)
    state.set_checklist_answers(backup.answers)
    # Appended, marked imported: the session's own events stay, so a forged backup
    # can never replace the trail that verifies.
    audit_trail().import_events(backup.audit.events)
    set_answer_widgets(backup.answers)
    for name in CARD_FIELDS:
        state.set_widget(f"cp_card_{name}", getattr(backup.card, name))
    summary = backup.summary()
    state.set_scratch(
        "cp_restored",
        {
            "answers": summary["answers"],
            "notes": summary["notes"],
            "events": summary["audit_events"],
            "runs": summary["runs"],
            "created": escape_md(summary["created_at"]) or "—",
        },
    )
    record_event("note", {"restored_backup": summary})
