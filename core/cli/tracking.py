"""`--mlflow URI` and `--mlflow-register NAME` for `python -m core train` (and, for a search
command, the same two options and `cli_tracker`): log the run to an MLflow tracking server or
SQLite file while it trains (core.train.tracking, core.deploy.tracking_artifacts).

A bad URI is bad input (exit 2, one line, before any training). A tracking server that is
unreachable, slow or fails never fails the run: the run is written as without `--mlflow`, and one
line on stderr says that logging failed and why.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from core.export_safety import terminal_text
from core.i18n import t

if TYPE_CHECKING:
    from core.data.loading import Dataset
    from core.prep.pipeline import Prepared
    from core.train.runner import RunConfig
    from core.train.tracking import FollowedJob, Tracker

FLUSH_S = 60.0  # at most this long, after the run is written, for the last uploads


def add_mlflow_options(parser: argparse.ArgumentParser, lang: str) -> None:
    """Add --mlflow URI and --mlflow-register NAME to a command's parser."""
    parser.add_argument("--mlflow", metavar="URI", help=t("tracking.cli.mlflow_help", lang))
    parser.add_argument(
        "--mlflow-register", metavar="NAME", help=t("tracking.cli.register_help", lang)
    )


def cli_tracker(args: argparse.Namespace) -> Tracker | None:
    """A tracker for --mlflow (a bad URI is a UserError), or None without it."""
    uri = getattr(args, "mlflow", None)
    if uri is None:
        return None
    from core.train.tracking import Tracker

    return Tracker(uri)


def track_cli_job(
    tracker: Tracker,
    job: Any,
    prepared: Prepared,
    config: RunConfig,
    args: argparse.Namespace,
    dataset: Dataset,
    lang: str,
) -> FollowedJob:
    """Follow a CLI training job into MLflow as it trains."""
    from core.deploy.tracking_artifacts import track_job

    return track_job(
        tracker,
        job,
        prepared,
        config,
        data_sha256=dataset.sha256,
        dataset_name=dataset.name,
        lang=lang,
        register_as=getattr(args, "mlflow_register", None),
    )


def finish_cli_tracking(tracker: Tracker, handle: str | None, lang: str) -> None:
    """Wait (at most FLUSH_S) for the uploads, then say where the run went or why it did not."""
    done = tracker.flush(FLUSH_S)
    failure = tracker.failure
    if failure is None and not done:
        from core.i18n import Message

        failure = Message("tracking.failed.timeout", {"seconds": int(FLUSH_S)})
    if failure is not None:
        # The reason may quote the server's answer: escaped like any text from outside.
        reason = " ".join(failure.text(lang).split())
        line = f"warning: {t('tracking.cli.failed', lang, reason=reason)}"
        print(terminal_text(line), file=sys.stderr)
        return
    run_id = tracker.run_id(handle) if handle else None
    line = t("tracking.cli.logged", lang, uri=_shown_uri(tracker.uri), run_id=run_id or "-")
    print(terminal_text(line))


def _shown_uri(uri: str) -> str:
    """The URI without user:password@ (a server's credentials never reach a terminal log)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri
