"""`python -m core serve`: a bundle behind TensorFlow Serving's REST API, on Starlette + uvicorn.

    GET  /v1/models/NAME             {"model_version_status": [{"state": "AVAILABLE", ...}]}
    GET  /v1/models/NAME/metadata    the signature: inputs (column, key, kind, dtype), outputs,
                                     class names (core.deploy.graph.RawRowPlan.signature)
    POST /v1/models/NAME:predict     {"instances": [{column: value, ...}, ...]} ->
                                     {"predictions": [{"classes", "scores", "label"} |
                                                      {"value"}, ...]}
    GET  /healthz, /readyz           liveness; readiness (the graph is built and warmed up)

One client works against this server and against `tensorflow_model_server` with the exported
SavedModel: both run the same raw-row graph (core.deploy.graph); an instance may name a column
by its own name or by its signature key. Hostile requests get a JSON `{"error": ...}` and change
nothing: a body over `max_body_bytes` is refused with 413 from its Content-Length (or as soon as
the stream passes it) before anything is parsed; malformed JSON is 400; more than
`max_instances` rows is 413 before any row is read; a value of the wrong type is 400 naming the
instance and the column; missing columns are 400 naming them; unknown keys are ignored.
The log has one line per request (method, path, status, rows, milliseconds), never a value.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core import limits
from core.deploy.graph import build_module, category_text, date_seconds, raw_row_plan
from core.i18n import DEFAULT_LANGUAGE, UserError, t

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from core.deploy.bundle import LoadedBundle

LOG = logging.getLogger("modeldesk.serve")
DEFAULT_PORT = 8601
DEFAULT_HOST = "127.0.0.1"
DEFAULT_NAME = "model"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_INSTANCES = 10_000
# Batches up to this size run on the event loop: the graph takes well under a millisecond for
# them, less than a hop to a worker thread. Bigger ones run in a thread so /healthz still answers.
INLINE_ROWS = 64


@dataclass(frozen=True)
class ServeLimits:
    """What one request may hold."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_instances: int = DEFAULT_MAX_INSTANCES


class RequestError(Exception):
    """A request the server refuses: its HTTP status and the message (in the server's language)."""

    def __init__(self, status: int, key: str, **params: object) -> None:
        self.status = status
        self.key = key
        self.params = params
        super().__init__(key)

    def text(self, lang: str) -> str:
        """The message in one language."""
        params = dict(self.params)
        if "expected" in params:
            params["expected"] = t(f"serve.kind.{params['expected']}", lang)
        return t(self.key, lang, **params)


class Predictor:
    """A bundle's raw-row graph, ready for JSON instances (built once, warmed up)."""

    def __init__(self, bundle: LoadedBundle) -> None:
        self.plan = raw_row_plan(bundle.preprocessor)
        self.module = build_module(self.plan, bundle.model)
        self.task = self.plan.task
        # An instance may name a column by its own name or by its signature key.
        self.names = [(item.column, item.key) for item in self.plan.inputs]
        self._lock = threading.Lock()  # one graph call at a time keeps latency predictable
        self.predict_columns(self._blank_columns(1))  # traces the graph before the first request

    def _blank_columns(self, rows: int) -> list[np.ndarray]:
        return [
            np.full(rows, "", dtype=object) if item.kind == "categorical" else np.full(rows, np.nan)
            for item in self.plan.inputs
        ]

    def columns(self, instances: Any, max_instances: int) -> list[np.ndarray]:
        """The graph's inputs from `instances` (a list of objects); RequestError if hostile."""
        if not isinstance(instances, list):
            raise RequestError(400, "serve.error.instances_not_list")
        if len(instances) > max_instances:
            raise RequestError(
                413, "serve.error.too_many_instances", count=len(instances), limit=max_instances
            )
        if not instances:
            raise RequestError(400, "serve.error.no_instances")
        missing: list[str] = []
        for index, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise RequestError(400, "serve.error.instance_not_object", row=index)
            for column, key in self.names:
                if column not in instance and key not in instance and column not in missing:
                    missing.append(column)
        if missing:
            shown = ", ".join(json.dumps(name, ensure_ascii=False) for name in missing[:20])
            raise RequestError(400, "serve.error.missing_columns", columns=shown)
        values: list[np.ndarray] = []
        for item, (column, key) in zip(self.plan.inputs, self.names, strict=True):
            raw = [
                instance[column] if column in instance else instance[key] for instance in instances
            ]
            if item.kind == "numeric":
                values.append(_numbers(raw, column))
            elif item.kind == "categorical":
                values.append(_categories(raw, column))
            else:
                values.append(_dates(raw, column))
        return values

    def predict_columns(self, values: list[np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's outputs (numpy) for its inputs, in plan order."""
        import tensorflow as tf

        tensors = [tf.constant(v, tf.string if v.dtype == object else tf.float64) for v in values]
        with self._lock:
            outputs = self.module.serve(*tensors)
        return {name: tensor.numpy() for name, tensor in outputs.items()}

    def predictions(self, outputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """TensorFlow Serving's row format of the graph's outputs."""
        if self.task == "regression":
            return [{"value": float(value)} for value in outputs["value"].tolist()]
        classes = list(self.plan.classes)
        labels = [label.decode("utf-8") for label in outputs["label"].tolist()]
        return [
            {"classes": classes, "scores": scores, "label": label}
            for scores, label in zip(outputs["scores"].tolist(), labels, strict=True)
        ]

    def metadata(self, name: str) -> dict[str, Any]:
        """The /metadata document: TensorFlow Serving's shape, plus the columns and classes."""
        signature = self.plan.signature()
        dtypes = {"float64": "DT_DOUBLE", "float32": "DT_FLOAT", "string": "DT_STRING"}
        inputs = {
            item["key"]: {
                "dtype": dtypes[item["dtype"]],
                "tensor_shape": {"dim": [{"size": "-1"}]},
                "name": item["key"],
            }
            for item in signature["inputs"]
        }
        outputs = {
            key: {
                "dtype": dtypes[spec["dtype"]],
                "tensor_shape": {"dim": [{"size": str(size)} for size in spec["shape"]]},
                "name": key,
            }
            for key, spec in signature["outputs"].items()
        }
        return {
            "model_spec": {"name": name, "signature_name": "", "version": "1"},
            "metadata": {
                "signature_def": {
                    "signature_def": {
                        signature["signature_name"]: {
                            "inputs": inputs,
                            "outputs": outputs,
                            "method_name": "tensorflow/serving/predict",
                        }
                    }
                }
            },
            "modeldesk": signature,
        }


class ModelSlot:
    """The served model, or the work of loading it: the server listens (and answers its status,
    LOADING, and its health) while TensorFlow and the bundle load in a thread, as TensorFlow
    Serving does; predictions wait for AVAILABLE."""

    def __init__(
        self,
        source: Predictor | Callable[[], Predictor],
        on_failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.predictor: Predictor | None = source if isinstance(source, Predictor) else None
        self.error: BaseException | None = None
        self._loader = None if isinstance(source, Predictor) else source
        self._on_failed = on_failed
        self._thread: threading.Thread | None = None

    def start_loading(self) -> None:
        """Load in a background thread (once); nothing to do for a ready predictor."""
        if self._loader is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load, name="modeldesk-serve-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        assert self._loader is not None
        try:
            self.predictor = self._loader()
        except BaseException as error:  # reported through state END and on_failed
            self.error = error
            if self._on_failed is not None:
                self._on_failed(error)

    @property
    def state(self) -> str:
        """TensorFlow Serving's model state: LOADING, AVAILABLE or END (failed to load)."""
        if self.predictor is not None:
            return "AVAILABLE"
        return "END" if self.error is not None else "LOADING"


def _wrong(column: str, index: int, value: object, expected: str) -> RequestError:
    shown = json.dumps(value, ensure_ascii=False)
    return RequestError(
        400,
        "serve.error.wrong_type",
        row=index,
        column=json.dumps(column, ensure_ascii=False),
        value=shown[:60],
        expected=expected,
    )


def _numbers(raw: list[Any], column: str) -> np.ndarray:
    kinds = {type(value) for value in raw}
    if kinds <= {int, float, type(None)}:  # the usual case, without a per-value check
        try:
            out = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
            return np.where(np.isfinite(out), out, np.nan)
        except OverflowError:  # a whole number beyond float64: read one by one below
            pass
    out = np.empty(len(raw), dtype=np.float64)
    for index, value in enumerate(raw):
        if value is None:
            out[index] = np.nan
        elif isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # as the app reads it: not finite, so missing
                number = math.inf
            out[index] = number if math.isfinite(number) else np.nan
        elif isinstance(value, str):
            # The app reads numbers written as text the same way (pd.to_numeric).
            number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
            if pd.isna(number) and value.strip() != "":
                raise _wrong(column, index, value, "number")
            out[index] = float(number) if np.isfinite(number) else np.nan
        else:
            raise _wrong(column, index, value, "number")
    return out


def _categories(raw: list[Any], column: str) -> np.ndarray:
    kinds = {type(value) for value in raw}
    if kinds <= {str, type(None)}:  # the usual case: texts stay as they are
        return np.array(["" if v is None else v for v in raw], dtype=object)
    for index, value in enumerate(raw):
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _wrong(column, index, value, "text")
    return np.array([category_text(value) for value in raw], dtype=object)


def _dates(raw: list[Any], column: str) -> np.ndarray:
    for index, value in enumerate(raw):
        if value is not None and not isinstance(value, str):
            raise _wrong(column, index, value, "date")
    texts = pd.Series([None if v is None or v.strip() == "" else v for v in raw], dtype=object)
    seconds = date_seconds(texts)
    unread = np.flatnonzero(np.isnan(seconds) & texts.notna().to_numpy())
    if len(unread):
        first = int(unread[0])
        raise _wrong(column, first, raw[first], "date")
    return seconds


def create_app(
    slot: ModelSlot,
    name: str = DEFAULT_NAME,
    server_limits: ServeLimits | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> Starlette:
    """The ASGI app serving the slot's model under `name` (loading starts with the server)."""
    import contextlib

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    server_limits = server_limits or ServeLimits()

    def error(status: int, key: str, **params: object) -> JSONResponse:
        return JSONResponse({"error": t(key, lang, **params)}, status_code=status)

    def unknown_model(request: Request) -> JSONResponse | None:
        asked = request.path_params["name"]
        if asked != name:
            return error(404, "serve.error.unknown_model", name=asked[:60], served=name)
        return None

    async def status(request: Request) -> Response:
        refused = unknown_model(request)
        if refused is not None:
            return refused
        ok = {"error_code": "OK", "error_message": ""}
        if slot.error is not None:
            ok = {"error_code": "UNKNOWN", "error_message": t("serve.error.load_failed", lang)}
        state = {"version": "1", "state": slot.state, "status": ok}
        return JSONResponse({"model_version_status": [state]})

    async def metadata(request: Request) -> Response:
        refused = unknown_model(request)
        if refused is not None:
            return refused
        if slot.predictor is None:
            return error(503, "serve.error.loading", name=name)
        return JSONResponse(slot.predictor.metadata(name))

    async def predict(request: Request) -> Response:
        refused = unknown_model(request)
        if refused is not None:
            return refused
        predictor = slot.predictor
        if predictor is None:
            return error(503, "serve.error.loading", name=name)
        try:
            body = await _read_body(request, server_limits.max_body_bytes)
            document = _parse(body)
            signature = document.get("signature_name", "serving_default")
            if signature not in ("serving_default", "", None):
                raise RequestError(400, "serve.error.signature", name=str(signature)[:60])
            if "instances" not in document:
                raise RequestError(400, "serve.error.no_instances_key")
            instances = document["instances"]
            rows = len(instances) if isinstance(instances, list) else 0
            values = predictor.columns(instances, server_limits.max_instances)
            if rows <= INLINE_ROWS:
                outputs = predictor.predict_columns(values)
            else:
                outputs = await run_in_threadpool(predictor.predict_columns, values)
        except RequestError as refused_request:
            request.state.rows = 0
            return JSONResponse(
                {"error": refused_request.text(lang)}, status_code=refused_request.status
            )
        except Exception as failure:  # a bug: a JSON 500, logged by type only (no values)
            LOG.error("predict failed: %s", type(failure).__name__)
            request.state.rows = 0
            return error(500, "serve.error.internal")
        request.state.rows = rows
        return JSONResponse({"predictions": predictor.predictions(outputs)})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready = slot.predictor is not None
        return JSONResponse({"ready": ready, "model": name}, status_code=200 if ready else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        slot.start_loading()
        yield

    routes = [
        Route("/v1/models/{name}", status, methods=["GET"]),
        Route("/v1/models/{name}/metadata", metadata, methods=["GET"]),
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestLog)], lifespan=lifespan)


class RequestLog:
    """ASGI middleware: one log line per request (method, path, status, rows, ms), no values."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [0]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            LOG.info(
                "%s %s %d rows=%d %.1fms",
                scope["method"],
                scope["path"],
                status[0],
                state.get("rows", 0),
                (time.perf_counter() - start) * 1000,
            )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 from its declared length or once the stream passes `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, "serve.error.bad_length")
        if int(declared) > limit:
            raise RequestError(413, "serve.error.too_large", size=int(declared), limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "serve.error.too_large", size=size, limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        document = limits.loads(body, what="request")
    except UserError:
        raise RequestError(400, "serve.error.too_deep") from None
    except (ValueError, UnicodeDecodeError) as error:
        position = getattr(error, "pos", 0)
        raise RequestError(400, "serve.error.not_json", position=position) from None
    if not isinstance(document, dict):
        raise RequestError(400, "serve.error.not_object")
    return document


def _listening_socket(family: int) -> socket.socket:
    """A TCP socket for uvicorn. Its protocol is named on purpose: asyncio turns Nagle off
    (TCP_NODELAY) only on accepted sockets whose proto is IPPROTO_TCP, and with Nagle on, a
    keep-alive client waits ~40 ms (delayed ACK) for every response's body."""
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)


class LocalServer:
    """A uvicorn server in a background thread on a loopback socket (tests, the Deploy page)."""

    def __init__(
        self,
        predictor: Predictor,
        name: str = DEFAULT_NAME,
        host: str = DEFAULT_HOST,
        port: int = 0,
        server_limits: ServeLimits | None = None,
        lang: str = DEFAULT_LANGUAGE,
    ) -> None:
        import uvicorn

        self.name = name
        self.socket = _listening_socket(socket.AF_INET)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = self.socket.getsockname()[:2]
        app = create_app(ModelSlot(predictor), name, server_limits, lang)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        """http://host:port"""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> LocalServer:
        """Start serving; return once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop gracefully: in-flight requests finish, then the thread ends."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

    @property
    def running(self) -> bool:
        """Whether the server thread is still serving."""
        return self.thread.is_alive() and not self.server.should_exit


def serve_forever(
    load: Callable[[], Predictor],
    *,
    name: str = DEFAULT_NAME,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    server_limits: ServeLimits | None = None,
    lang: str = DEFAULT_LANGUAGE,
    on_ready: Callable[[str], None] | None = None,
) -> BaseException | None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn finishes in-flight requests).

    The socket listens (and `on_ready(url)` runs) before `load` is called in a thread; if it
    fails, the server stops and the error is returned."""
    import asyncio

    import uvicorn

    sock = _listening_socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise UserError("serve.error.bind", host=host, port=port, reason=error.strerror) from None
    bound_host, bound_port = sock.getsockname()[:2]
    url = (
        f"http://{bound_host}:{bound_port}"
        if ":" not in host
        else f"http://[{bound_host}]:{bound_port}"
    )

    def failed(error: BaseException) -> None:
        server.should_exit = True

    slot = ModelSlot(load, on_failed=failed)
    app = create_app(slot, name, server_limits, lang)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started and on_ready is not None:
            on_ready(url)
        await task

    try:
        asyncio.run(main())
    finally:
        sock.close()
    return slot.error


def example_instance(bundle: LoadedBundle, table: pd.DataFrame) -> dict[str, Any]:
    """The first row of `table` as one JSON instance: the bundle's input columns only, missing
    values as null, dates as ISO text (what a client would send)."""
    columns = [item["name"] for item in bundle.preprocessor.schema_]
    row = table[columns].iloc[:1]
    return dict(json.loads(row.to_json(orient="records", date_format="iso"))[0])


def curl_command(instance: dict[str, Any], url: str, name: str = DEFAULT_NAME) -> str:
    """A curl call of :predict with one instance (the body quoted for a POSIX shell)."""
    body = json.dumps({"instances": [instance]}, ensure_ascii=False)
    quoted = "'" + body.replace("'", "'\\''") + "'"
    return (
        f"curl -s -X POST {url}/v1/models/{name}:predict \\\n"
        f"  -H 'Content-Type: application/json' \\\n"
        f"  -d {quoted}"
    )


def serve_command(bundle_file: str = "bundle.zip", port: int = DEFAULT_PORT,
                  name: str = DEFAULT_NAME) -> str:  # fmt: skip
    """The command that serves a downloaded bundle."""
    return f"python -m core serve {bundle_file} --port {port} --name {name}"


def app_predictions(bundle: LoadedBundle, instance: dict[str, Any]) -> dict[str, Any]:
    """What the app itself predicts for one instance (core.deploy.bundle.predict_frame), in the
    server's response format: the answer a :predict call should give."""
    from core.deploy.bundle import predict_frame, probability_column

    frame = pd.DataFrame([instance])
    table = predict_frame(bundle, frame)
    if bundle.task == "regression":
        return {"predictions": [{"value": float(table["prediction"].iloc[0])}]}
    classes = [str(label) for label in bundle.classes]
    scores = [float(table[probability_column(label)].iloc[0]) for label in bundle.classes]
    label = str(table["prediction"].iloc[0])
    return {"predictions": [{"classes": classes, "scores": scores, "label": label}]}


def post_json(url: str, path: str, document: Any, timeout: float = 30) -> tuple[int, Any]:
    """POST a JSON document to a server on this machine: (status, decoded answer)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or DEFAULT_HOST, parts.port, timeout=timeout
    )
    try:
        connection.request("POST", path, json.dumps(document), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
