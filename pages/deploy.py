"""Deploy: predict one row or a file, export the bundle and training code, compress to TFLite."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from typing import Any

import pandas as pd
import streamlit as st

from core.data.loading import formats_text, load_bytes
from core.deploy.bundle import (
    ERROR_COLUMN,
    LoadedBundle,
    bundle_from_run,
    export_bundle_bytes,
    predict_frame,
    predictions_csv,
)
from core.deploy.codegen import SCRIPT_FILE, training_script
from core.deploy.predict_form import (
    FormField,
    form_fields,
    prediction_summary,
    range_warnings,
    regression_text,
    row_from_values,
)
from core.deploy.predict_script import predict_source
from core.evaluate.metrics import run_metrics
from core.export_safety import CSV_MIME, EXCEL_MIME, safe_excel
from core.i18n import UserError
from core.private_files import shared_deployment
from core.train.runner import RunConfig
from ui import state
from ui.run_labels import run_name
from ui.sections.explain import BATCH_REASON_ROWS, batch_reasons, row_waterfall
from ui.widgets import (
    escape_md,
    labeler,
    lang,
    page_link,
    record_event,
    run_app_first,
    say,
    session_cache,
    show_error,
    show_frame,
    tr,
)

TABS = ("one", "batch", "export", "compress")
PREVIEW_ROWS = 500
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2100, 12, 31))


def deploy_page() -> None:
    """Pick a trained run, then the four ways to use it."""
    st.title(tr("app.nav.deploy"))
    st.caption(tr("deploy.intro"))
    found = state.usable_runs()
    usable = list(found)
    if not usable:
        st.warning(tr("deploy.needs_run"), icon=":material/model_training:")
        page_link("train", label=tr("app.nav.train"), icon=":material/arrow_back:")
        return
    run_id = st.selectbox(
        tr("deploy.run.label"),
        list(reversed(usable)),
        format_func=labeler(usable, lambda rid: _run_label(found[rid].run)),
        help=tr("deploy.run.help"),
        key="deploy_run",
    )
    run, prepared = found[run_id].run, found[run_id].prepared
    run_metrics(prepared, run)
    config = RunConfig(prepared.spec, run.model_spec, run.train_spec)
    bundle = session_cache(
        ("deploy_bundle", run_id), lambda: bundle_from_run(prepared, run, config, run.metrics)
    )
    labels = [tr(f"deploy.tab.{name}") for name in TABS] + [tr("deployserve.tab")]
    one, batch, export, compress, serve = st.tabs(labels)
    with one:
        one_row(run_id, bundle)
    with batch:
        batch_predict(run_id, bundle)
    with export:
        export_section(run_id, run, prepared, config)
    with compress:
        compress_section(run_id, run, prepared)
        pruned_section(run_id, run, prepared)
    with serve:
        serve_section(run_id, run, prepared, bundle, config)


def one_row(run_id: str, bundle: LoadedBundle) -> None:
    """A form with one field per input column; the answer as probabilities or a value."""
    st.caption(tr("deploy.one.caption"))
    schema = bundle.schema
    with st.form(f"deploy_form_{run_id}"):
        values = {
            field.name: _field(field, f"deploy_{run_id}_{index}")
            for index, field in enumerate(form_fields(schema))
        }
        submitted = st.form_submit_button(
            tr("deploy.one.predict"), icon=":material/online_prediction:", key="deploy_predict_one"
        )
    if submitted:
        try:
            row = row_from_values(schema, values)
            table = predict_frame(bundle, row, lang())
        except UserError as error:
            state.set_scratch("deploy_one", {"run": run_id, "error": error.message})
        else:
            state.set_scratch(
                "deploy_one",
                {
                    "run": run_id,
                    "row": row,
                    "table": table,
                    "warnings": range_warnings(schema, values),
                },
            )
    result = state.scratch("deploy_one")
    if not result or result["run"] != run_id:
        return
    if "error" in result:
        show_error(result["error"])
        return
    for warning in result["warnings"]:
        st.warning(say(warning), icon=":material/warning:")
    table = result["table"]
    if table[ERROR_COLUMN].iloc[0]:
        st.error(escape_md(table[ERROR_COLUMN].iloc[0]), icon=":material/error:")
        return
    answer, why = st.columns([2, 3])
    with answer:
        _show_prediction(bundle, table)
    with why:
        # The row's Shapley attributions beside the answer (ui.sections.explain).
        row_waterfall(run_id, result)


def _show_prediction(bundle: LoadedBundle, table: pd.DataFrame) -> None:
    if bundle.task == "regression":
        st.metric(
            tr("deploy.one.predicted_value", target=bundle.schema["target"]),
            regression_text(float(table["prediction"].iloc[0]), bundle.metrics.get("rmse")),
        )
        return
    st.markdown(tr("deploy.one.predicted_class", label=escape_md(table["prediction"].iloc[0])))
    summary = prediction_summary(table, bundle.classes)
    summary.columns = [tr("deploy.one.class"), tr("deploy.one.probability")]
    show_frame(
        summary,
        hide_index=True,
        column_config={
            tr("deploy.one.probability"): st.column_config.ProgressColumn(
                format="%.3f", min_value=0.0, max_value=1.0
            )
        },
    )


def batch_predict(run_id: str, bundle: LoadedBundle) -> None:
    """Upload a file, read it like the Data page does, predict every readable row."""
    names = [column["name"] for column in bundle.schema["columns"]]
    st.caption(tr("deploy.batch.columns", columns=escape_md(", ".join(names))))
    uploaded = st.file_uploader(
        tr("deploy.batch.label"),
        help=tr("deploy.batch.help", formats=formats_text()),
        key="deploy_batch_file",
    )
    if uploaded is not None:
        data = uploaded.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        key = (run_id, digest, uploaded.name, lang())
        if state.scratch("deploy_batch_key") != key:
            state.set_scratch("deploy_batch_key", key)
            try:
                dataset = session_cache(
                    ("deploy_upload", digest, uploaded.name),
                    lambda: load_bytes(data, uploaded.name),
                )
                table = predict_frame(bundle, dataset.frame, lang())
                notices = bundle.preprocessor.check_input(dataset.frame).notices
            except UserError as error:
                state.set_scratch("deploy_batch_error", error.message)
            else:
                state.set_scratch("deploy_batch_error", None)
                state.set_scratch(
                    "deploy_batch",
                    {
                        "run": run_id,
                        "name": dataset.name,
                        "frame": dataset.frame,
                        "table": table,
                        "notices": (*dataset.notices, *notices),
                    },
                )
    batch_error = state.scratch("deploy_batch_error") if uploaded is not None else None
    result = state.scratch("deploy_batch")
    if result is not None and result["run"] != run_id:
        result = None
    if batch_error is not None:
        show_error(batch_error)
        if result is not None:
            st.caption(tr("deploy.batch.kept", name=escape_md(result["name"])))
    if result is not None:
        _show_batch(result)


def _with_reasons(result: dict) -> pd.DataFrame:
    """The predictions, and on request the top reasons per row (Shapley attributions)."""
    table = result["table"]
    wanted = st.toggle(
        tr("explain.batch.reasons"), help=tr("explain.batch.reasons_help"), key="deploy_reasons"
    )
    if not wanted:
        return table
    if "reasons" not in result:
        with st.spinner(tr("explain.computing")):
            good = (table[ERROR_COLUMN] == "").to_numpy()
            result["reasons"] = batch_reasons(result["run"], result["frame"], good)
    if len(table) > BATCH_REASON_ROWS:
        st.caption(tr("explain.batch.limited", limit=BATCH_REASON_ROWS))
    return pd.concat([table, result["reasons"]], axis=1)


def _show_batch(result: dict) -> None:
    table, frame = _with_reasons(result), result["frame"]
    for notice in result["notices"]:
        st.info(say(notice), icon=":material/info:")
    bad = table[ERROR_COLUMN] != ""
    st.success(
        tr("deploy.batch.summary", good=int((~bad).sum()), rows=len(table)),
        icon=":material/check_circle:",
    )
    if bad.any():
        st.warning(tr("deploy.batch.bad_rows", count=int(bad.sum())), icon=":material/warning:")
        st.caption(tr("deploy.batch.errors"))
        show_frame(table.loc[bad, [ERROR_COLUMN]].head(PREVIEW_ROWS))
    shown = frame.rename(columns=lambda name: f"· {name}" if name in table.columns else name)
    show_frame(pd.concat([table, shown], axis=1).head(PREVIEW_ROWS))
    stem = result["name"].rsplit(".", 1)[0]
    csv_column, excel_column = st.columns(2)
    csv_column.download_button(
        tr("deploy.batch.download_csv"),
        predictions_csv(table),
        file_name=f"{stem}_predictions.csv",
        mime=CSV_MIME,
        icon=":material/download:",
        help=tr("deploy.batch.download_help"),
        key="deploy_batch_csv",
        on_click=record_event,
        args=("export", {"what": "predictions_csv", "rows": len(table)}),
    )
    excel_column.download_button(
        tr("deploy.batch.download_excel"),
        safe_excel(table),
        file_name=f"{stem}_predictions.xlsx",
        mime=EXCEL_MIME,
        icon=":material/download:",
        help=tr("deploy.batch.download_help"),
        key="deploy_batch_excel",
        on_click=record_event,
        args=("export", {"what": "predictions_excel", "rows": len(table)}),
    )


def _bundle_archive(run_id: str, run, prepared, config: RunConfig) -> bytes:
    """bundle.zip's bytes, built once per session, run and language (Export and Serve use it)."""
    dataset = state.dataset()
    dataset_name = dataset.name if dataset is not None else run.name
    return session_cache(
        ("deploy_zip", run_id, lang()),
        lambda: export_bundle_bytes(
            prepared, run, config, run.metrics, dataset_name=dataset_name, lang=lang()
        ),
    )


def export_section(run_id: str, run, prepared, config: RunConfig) -> None:
    """bundle.zip with its model card and predict.py, and the standalone training script."""
    archive = _bundle_archive(run_id, run, prepared, config)
    st.download_button(
        tr("deploy.export.bundle"),
        archive,
        file_name="bundle.zip",
        mime="application/zip",
        icon=":material/deployed_code:",
        type="primary",
        help=tr("deploy.export.bundle_help"),
        key="deploy_bundle",
        on_click=record_event,
        args=("export", {"what": "bundle", "run": run_id, "bytes": len(archive)}),
    )
    st.markdown(tr("deploy.export.bundle_text"))
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        members = pd.DataFrame(
            [(info.filename, info.file_size) for info in zipped.infolist()],
            columns=["file", "bytes"],
        )
        card = zipped.read("README.md").decode("utf-8")
    with st.expander(tr("deploy.export.contents"), icon=":material/folder_zip:"):
        st.dataframe(members, hide_index=True)
    with st.expander(tr("deploy.export.card"), icon=":material/description:"):
        st.code(card, language="markdown")
    with st.expander(tr("deploy.export.predict_code"), icon=":material/code:"):
        st.code(predict_source(), language="python")

    st.subheader(tr("deploy.export.code"))
    st.caption(tr("deploy.export.code_text"))
    script = training_script(config, len(prepared.preprocessor.classes_), run.name)
    st.download_button(
        tr("deploy.export.code_download"),
        script,
        file_name=SCRIPT_FILE,
        mime="text/x-python",
        icon=":material/code:",
        key="deploy_code",
        on_click=record_event,
        args=("export", {"what": "training_script", "run": run_id}),
    )
    with st.expander(SCRIPT_FILE, icon=":material/code:"):
        st.code(script, language="python")


def compress_section(run_id: str, run, prepared) -> None:
    """Float and quantised TFLite beside the Keras model: size and test metric."""
    from core.deploy.tflite import compare_exports

    st.markdown(tr("deploy.compress.text"))
    results = state.scratch_dict("deploy_tflite")
    if st.button(tr("deploy.compress.run"), icon=":material/compress:", key="deploy_tflite"):
        results[run_id] = compare_exports(
            run.build_model(), prepared.X_test, prepared.y_test, prepared.spec.task
        )
    exports = results.get(run_id)
    if not exports:
        return
    keras_size = exports[0].size_bytes
    metric = tr(f"evaluation.metric.{exports[0].metric}")
    table = pd.DataFrame(
        {
            tr("deploy.compress.format"): [tr(f"deploy.format.{e.format}") for e in exports],
            tr("deploy.compress.size"): [_size(e.size_bytes) for e in exports],
            tr("deploy.compress.ratio"): [f"{e.size_bytes / keras_size:.0%}" for e in exports],
            tr("deploy.compress.metric", metric=metric): [
                "-" if e.value is None else f"{e.value:.4f}" for e in exports
            ],
        }
    )
    st.dataframe(table, hide_index=True)
    _export_downloads(run_id, [(e, f"deploy_download_{e.format}", e.format) for e in exports])


def _export_downloads(run_id: str, exports: list[tuple[Any, str, str]]) -> None:
    """One download button per exported file (export, widget key, audit "what"), side by side;
    each download is an audit "export" event."""
    for column, (export, key, what) in zip(st.columns(len(exports)), exports, strict=True):
        column.download_button(
            tr("deploy.compress.download", file=export.file_name),
            export.data,
            file_name=export.file_name,
            mime="application/octet-stream",
            icon=":material/download:",
            key=key,
            on_click=record_event,
            args=("export", {"what": what, "run": run_id, "bytes": export.size_bytes}),
        )


def pruned_section(run_id: str, run, prepared) -> None:
    """Magnitude-pruned fine-tunes of the run as TFLite: sparsity, test metric, gzipped size."""
    from core.deploy.tflite import pruned_exports

    st.markdown(tr("deployserve.prune.text"))
    results = state.scratch_dict("deploy_pruned")
    if st.button(tr("deployserve.prune.run"), icon=":material/content_cut:", key="deploy_prune"):
        with st.spinner(tr("deployserve.prune.running")):
            try:
                results[run_id] = pruned_exports(prepared, run)
            except UserError as error:
                show_error(error.message)
                return
    exports = results.get(run_id)
    if not exports:
        return
    metric = tr(f"evaluation.metric.{exports[0].metric}")
    table = pd.DataFrame(
        {
            tr("deploy.compress.format"): [tr(f"deploy.format.{e.format}") for e in exports],
            tr("deployserve.prune.sparsity"): [f"{e.sparsity:.0%}" for e in exports],
            tr("deploy.compress.metric", metric=metric): [
                "-" if e.value is None else f"{e.value:.4f}" for e in exports
            ],
            tr("deploy.compress.size"): [_size(e.size_bytes) for e in exports],
            tr("deployserve.prune.gzip"): [_size(e.gzip_bytes) for e in exports],
        }
    )
    st.dataframe(table, hide_index=True)
    _export_downloads(
        run_id,
        [
            (e, f"deploy_download_{e.format}_{round(e.sparsity * 100)}", e.file_name)
            for e in exports
        ],
    )


def serve_section(run_id: str, run, prepared, bundle: LoadedBundle, config: RunConfig) -> None:
    """The model behind TensorFlow Serving's REST API: the command, a curl call built from the
    table's first row with the app's own answer for it, a local server (not on a shared
    server), and the SavedModel and ONNX downloads."""
    from core.deploy.serve import (
        DEFAULT_HOST,
        DEFAULT_NAME,
        DEFAULT_PORT,
        app_predictions,
        curl_command,
        example_instance,
        serve_command,
    )

    st.markdown(tr("deployserve.text"))
    st.code(serve_command(), language="bash")
    dataset = state.dataset()
    columns = [item["name"] for item in bundle.preprocessor.schema_]
    if dataset is not None and set(columns) <= set(dataset.frame.columns):
        table = dataset.frame
    else:
        table = prepared.splits.X_train
    instance = example_instance(bundle, table)
    st.markdown(tr("deployserve.curl"))
    st.code(curl_command(instance, f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"), language="bash")
    st.markdown(tr("deployserve.expected"))
    expected = app_predictions(bundle, instance)
    st.code(json.dumps(expected, ensure_ascii=False, indent=2), language="json")
    if shared_deployment():
        st.info(tr("deployserve.shared"), icon=":material/public:")
    else:
        _local_server(run_id, bundle, instance, DEFAULT_NAME)
    _graph_downloads(run_id, _bundle_archive(run_id, run, prepared, config))


def _local_server(run_id: str, bundle: LoadedBundle, instance: dict, name: str) -> None:
    """Start (or stop) a server on a free loopback port for this session; show a live call."""
    from core.deploy.serve import LocalServer, Predictor, curl_command, post_json

    servers = state.scratch_dict("deploy_servers")
    server = servers.get(run_id)
    if server is not None and not server.running:
        servers.pop(run_id)
        server = None
    if server is None:
        start = st.button(
            tr("deployserve.start"), icon=":material/play_arrow:", key="deploy_serve_start"
        )
        if not start:
            return
        with st.spinner(tr("deployserve.starting")):
            server = LocalServer(Predictor(bundle), name=name, lang=lang()).start()
        servers[run_id] = server
    if st.button(tr("deployserve.stop"), icon=":material/stop:", key="deploy_serve_stop"):
        server.stop()
        servers.pop(run_id)
        return
    st.success(tr("deployserve.running", url=server.url), icon=":material/dns:")
    st.code(curl_command(instance, server.url, name), language="bash")
    try:
        status, answer = post_json(
            server.url, f"/v1/models/{name}:predict", {"instances": [instance]}
        )
    except OSError:
        st.error(tr("deployserve.unreachable"), icon=":material/error:")
        return
    st.caption(tr("deployserve.live", status=status))
    st.code(json.dumps(answer, ensure_ascii=False, indent=2), language="json")


def _graph_downloads(run_id: str, archive: bytes) -> None:
    """The raw-row graph as a SavedModel zip and, with the optional converter, as ONNX: taken
    from bundle.zip, which already holds both (built once, not again here)."""
    from core.deploy.graph_exports import SAVED_MODEL_DIR
    from core.deploy.onnx_export import ONNX_FILE

    st.subheader(tr("deployserve.downloads"))
    st.caption(tr("deployserve.downloads_text"))
    buffer = io.BytesIO()
    onnx = None
    with (
        zipfile.ZipFile(io.BytesIO(archive)) as bundle_zip,
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as saved_zip,
    ):
        for name in bundle_zip.namelist():
            if name.startswith(f"{SAVED_MODEL_DIR}/"):
                saved_zip.writestr(name, bundle_zip.read(name))
        if ONNX_FILE in bundle_zip.namelist():
            onnx = bundle_zip.read(ONNX_FILE)
    saved = buffer.getvalue()
    left, right = st.columns(2)
    left.download_button(
        tr("deployserve.saved_model"),
        saved,
        file_name="saved_model.zip",
        mime="application/zip",
        icon=":material/download:",
        key="deploy_saved_model",
        on_click=record_event,
        args=("export", {"what": "saved_model", "run": run_id, "bytes": len(saved)}),
    )
    if onnx is None:
        right.caption(tr("deployserve.onnx_missing"))
        return
    right.download_button(
        tr("deployserve.onnx"),
        onnx,
        file_name=ONNX_FILE,
        mime="application/octet-stream",
        icon=":material/download:",
        key="deploy_onnx",
        on_click=record_event,
        args=("export", {"what": "onnx", "run": run_id, "bytes": len(onnx)}),
    )


# --- helpers -----------------------------------------------------------------------------------


def _field(field: FormField, key: str) -> object:
    label = escape_md(field.name)
    if field.kind == "number":
        if field.min is None or field.max is None:
            hint = tr("deploy.one.no_range_help")
        else:
            hint = tr("deploy.one.range_help", min=f"{field.min:g}", max=f"{field.max:g}")
        return st.number_input(
            label,
            value=None if field.default is None else float(field.default),
            step=1.0 if field.integer else None,
            format="%g",
            help=hint,
            key=key,
        )
    if field.kind == "select":
        options = list(field.options)
        index = options.index(field.default) if field.default in options else 0
        return st.selectbox(
            label, options, index=index, help=tr("deploy.one.categories_help"), key=key
        )
    if field.kind == "text":
        return st.text_input(
            label, value=field.default or "", help=tr("deploy.one.text_help"), key=key
        )
    day = st.date_input(
        label, value=field.default, min_value=DATE_RANGE[0], max_value=DATE_RANGE[1], key=key
    )
    if not field.with_time or day is None:
        return day
    time = st.time_input(
        tr("deploy.one.time", column=label), value=dt.time(12, 0), key=f"{key}_time"
    )
    return dt.datetime.combine(day, time)


def _run_label(run) -> str:
    return tr(
        "deploy.run.option",
        name=run_name(run) or run.run_id[:8],
        status=tr(f"train.status.{run.status}"),
        created=run.created_at[:19].replace("T", " "),
    )


def _size(size: int) -> str:
    return f"{size / 1024:,.1f} KB"


run_app_first()
deploy_page()
