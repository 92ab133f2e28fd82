"""`python -m core serve BUNDLE [--port 8601] [--host 127.0.0.1] [--name NAME]` (ARCHITECTURE.md).

Serves the bundle's raw-row graph over TensorFlow Serving's REST API (core.deploy.serve) with
uvicorn until Ctrl+C or SIGTERM, which finish in-flight requests first. Once it listens it prints
one line with the URL. Bad input (no bundle, a port in use) prints one line on stderr, returns 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from core.cli.export import quiet_tensorflow
from core.i18n import UserError, t

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def add_serve_command(subparsers: argparse._SubParsersAction, lang: str) -> argparse.ArgumentParser:
    """Add the `serve` subcommand to a `add_subparsers()` result; return its parser."""
    from core.deploy.serve import (
        DEFAULT_HOST,
        DEFAULT_MAX_BODY_BYTES,
        DEFAULT_MAX_INSTANCES,
        DEFAULT_NAME,
        DEFAULT_PORT,
    )

    serve = subparsers.add_parser("serve", help=t("serve.cli.serve_help", lang))
    serve.add_argument("bundle", metavar="BUNDLE", help=t("cli.bundle.help", lang))
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="PORT",
        help=t("serve.cli.port_help", lang),
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, metavar="HOST", help=t("serve.cli.host_help", lang)
    )
    serve.add_argument(
        "--name", default=DEFAULT_NAME, metavar="NAME", help=t("serve.cli.name_help", lang)
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help=t("serve.cli.max_body_help", lang),
    )
    serve.add_argument(
        "--max-instances",
        type=int,
        default=DEFAULT_MAX_INSTANCES,
        metavar="N",
        help=t("serve.cli.max_instances_help", lang),
    )
    return serve


def run_serve(args: argparse.Namespace, lang: str) -> int:
    """Serve the bundle named in `args` until stopped; return the exit code."""
    try:
        return _serve(args, lang)
    except KeyboardInterrupt:  # Ctrl+C: uvicorn has finished in-flight requests already
        return EXIT_INTERRUPTED
    except UserError as error:
        print(f"error: {' '.join(error.text(lang).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _serve(args: argparse.Namespace, lang: str) -> int:
    bundle_path = Path(args.bundle)
    if not bundle_path.is_file():
        raise UserError("evaluation.bundle.error.not_found", path=str(bundle_path))
    for option, value in (
        ("--max-body-bytes", args.max_body_bytes),
        ("--max-instances", args.max_instances),
    ):
        if value < 1:
            raise UserError("serve.error.bad_limit", option=option, value=value)
    if not 0 <= args.port <= 65535:
        raise UserError(
            "serve.error.bind", host=args.host, port=args.port, reason="port out of range"
        )
    from core.deploy.serve import Predictor, ServeLimits, serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def load() -> Predictor:
        # TensorFlow loads here, after the port listens: status and health answer meanwhile.
        quiet_tensorflow()
        from core.deploy.bundle import read_bundle

        return Predictor(read_bundle(bundle_path))

    def ready(url: str) -> None:
        print(t("serve.cli.serving", lang, name=args.name, url=url), flush=True)

    # uvicorn shuts down gracefully on SIGTERM, then raises it again for the previous handler:
    # this one makes that a normal exit (0) instead of death by signal.
    signal.signal(signal.SIGTERM, _exit_normally)
    failure = serve_forever(
        load,
        name=args.name,
        host=args.host,
        port=args.port,
        server_limits=ServeLimits(args.max_body_bytes, args.max_instances),
        lang=lang,
        on_ready=ready,
    )
    if failure is not None:
        raise failure
    return 0


def _exit_normally(signum: int, frame: Any) -> None:
    raise SystemExit(0)
