"""The command-line twin of the app (docs/ARCHITECTURE.md, "Command line").

    python -m core profile FILE [--json]
    python -m core train FILE --target COL --out DIR [--config CONFIG.json] [--seed N]
                                   [--workers N] [--group COL] [--prune SPARSITY]
                                   [--mlflow URI [--mlflow-register NAME]]
    python -m core predict BUNDLE FILE --out PREDICTIONS.csv
    python -m core scan FILE [--json] [--sensitive COL] [--quasi COL,COL,...] [--k K]
    python -m core tune FILE --target COL --out DIR [--trials N] [--budget-seconds S] [--seed N]
                                  [--config CONFIG.json] [--space SPACE.json] [--max-epochs N]
    python -m core explain BUNDLE FILE [--rows N] [--json] [--global]
    python -m core export BUNDLE --format saved_model|onnx --out PATH
    python -m core serve BUNDLE [--port 8601] [--host 127.0.0.1] [--name NAME]

Exit 0 on success; exit 2 on bad input with one line on stderr saying what is wrong and what to
do. Messages follow the LANG environment variable (zh_* gives Chinese).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from core.cli.explain import add_explain_command, run_explain
from core.cli.export import add_export_command, run_export
from core.cli.scan import add_scan_command, run_scan
from core.cli.serve import add_serve_command, run_serve
from core.cli.tracking import add_mlflow_options
from core.cli.tune import add_tune_command, run_tune
from core.data.loading import formats_text
from core.export_safety import terminal_text
from core.i18n import UserError, language_from_locale, t
from core.train.status import RunStatus

if TYPE_CHECKING:
    from core.data.profile import Profile
    from core.prep.pipeline import Prepared
    from core.train.engine import Run
    from core.train.runner import RunConfig

EXIT_BAD_INPUT = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line instead of usage text plus a message."""

    def error(self, message: str) -> NoReturn:
        hint = t("cli.usage_hint", _cli_lang(), prog=self.prog)
        self.exit(EXIT_BAD_INPUT, f"error: {message}. {hint}\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    lang = _cli_lang()
    parser = _OneLineParser(prog="python -m core", description=t("cli.description", lang))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    file_help = t("cli.file.help", lang, formats=formats_text())
    profile = commands.add_parser("profile", help=t("cli.profile.help", lang))
    profile.add_argument("file", help=file_help)
    profile.add_argument("--json", action="store_true", help=t("cli.json.help", lang))
    train = commands.add_parser("train", help=t("cli.train.help", lang))
    train.add_argument("file", help=file_help)
    train.add_argument("--target", required=True, metavar="COL", help=t("cli.target.help", lang))
    train.add_argument("--out", required=True, metavar="DIR", help=t("cli.out.help", lang))
    train.add_argument("--config", metavar="CONFIG.json", help=t("cli.config.help", lang))
    train.add_argument("--seed", type=int, metavar="N", help=t("cli.seed.help", lang))
    train.add_argument("--group", metavar="COL", help=t("special.cli.group_help", lang))
    train.add_argument(
        "--workers", type=int, default=1, metavar="N", help=t("cluster.cli.workers_help", lang)
    )
    train.add_argument("--prune", type=float, metavar="SPARSITY", help=t("pruning.cli.help", lang))
    add_mlflow_options(train, lang)
    predict = commands.add_parser("predict", help=t("cli.predict.help", lang))
    predict.add_argument("bundle", metavar="BUNDLE", help=t("cli.bundle.help", lang))
    predict.add_argument("file", metavar="FILE", help=file_help)
    predict.add_argument(
        "--out", required=True, metavar="PREDICTIONS.csv", help=t("cli.predict.out.help", lang)
    )
    add_scan_command(commands, lang)
    add_tune_command(commands, lang)
    add_explain_command(commands, lang)
    add_export_command(commands, lang)
    add_serve_command(commands, lang)
    args = parser.parse_args(argv)
    try:
        if args.command == "profile":
            return _profile(Path(args.file), as_json=args.json, lang=lang)
        if args.command == "train":
            return _train(args, lang=lang)
        if args.command == "predict":
            return _predict(Path(args.bundle), Path(args.file), Path(args.out), lang=lang)
        if args.command == "scan":
            return run_scan(args, lang)
        if args.command == "tune":
            return run_tune(args, lang)
        if args.command == "explain":
            return run_explain(args, lang)
        if args.command == "export":
            return run_export(args, lang)
        if args.command == "serve":
            return run_serve(args, lang)
    except UserError as error:
        _say(f"error: {error.text(lang)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # whatever a check missed: one line and exit 2, never a traceback
        return _unexpected(error, lang)
    raise AssertionError(f"unhandled command {args.command}")  # argparse only allows known ones


def _say(text: str, file: TextIO | None = None) -> None:
    """print for text that may hold user input (names, values): controls and bidi overrides
    escaped, so a column named "\x1b[2J" cannot clear the terminal; on stderr, one line."""
    if file is None:
        print("\n".join(terminal_text(line) for line in str(text).split("\n")))
    else:
        print(terminal_text(text), file=file)


def _unexpected(error: Exception, lang: str) -> int:
    """One line naming the error's type (exit 2); the traceback goes to stderr only with
    MODELDESK_DEBUG=1, since it may quote the input."""
    if os.environ.get("MODELDESK_DEBUG") == "1":
        traceback.print_exception(error, file=sys.stderr)
    text = t("hostile.error.unexpected_cli", lang, kind=type(error).__name__)
    _say(f"error: {' '.join(text.split())}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _profile(path: Path, *, as_json: bool, lang: str) -> int:
    from core.data.loading import load_path
    from core.data.profile import profile_frame

    _check_readable(path)
    dataset = load_path(path)
    profile = profile_frame(dataset.frame)
    if as_json:
        _say(json.dumps(_profile_document(profile, lang), ensure_ascii=False, indent=2))
        return 0
    _say(
        t(
            "cli.profile.summary",
            lang,
            name=dataset.name,
            rows=profile.rows,
            cols=len(profile.columns),
        )
    )
    for notice in dataset.notices:
        _say(f"  ! {notice.text(lang)}")
    width = min(40, max((len(c.name) for c in profile.columns), default=4))
    for column in profile.columns:
        role = t(f"profile.role.{column.role}", lang)
        _say(
            f"  {column.name[:width]:<{width}}  {role:<12} {column.dtype:<10} "
            f"{t('cli.profile.missing', lang)}={column.missing:<8} "
            f"{t('cli.profile.unique', lang)}={column.unique}"
        )
    for alert in profile.alerts:
        _say(f"  * {alert.message.text(lang)}")
    return 0


def _profile_document(profile: Profile, lang: str) -> dict:
    """The profile's JSON plus why a column is an identifier or a group, and the target."""
    from core.data.profile import target_suggestion

    data = profile.to_dict()
    reasons = {
        alert.columns[0]: alert.message.text(lang)
        for alert in profile.alerts
        if alert.kind in ("identifier", "group") and alert.columns
    }
    for column in data["columns"]:
        if column["name"] in reasons:
            column["reason"] = reasons[column["name"]]
    suggestion = target_suggestion(profile)
    data["target_suggestion"] = None
    if suggestion is not None:
        data["target_suggestion"] = {
            **suggestion.to_dict(),
            "reason": suggestion.reason.text(lang),
        }
    return data


def _train(args: argparse.Namespace, *, lang: str) -> int:
    from core.cli.tracking import cli_tracker, finish_cli_tracking, track_cli_job
    from core.data.loading import load_path
    from core.prep.pipeline import prepare
    from core.train.runner import RunConfig, default_config

    data_path, out = Path(args.file), Path(args.out)
    if args.prune is not None:  # a bad sparsity fails before any training
        from core.train.pruning import PruneSpec

        PruneSpec(args.prune)
    tracker = cli_tracker(args)  # a bad --mlflow URI is bad input, before any training
    _check_readable(data_path)
    if out.exists() and not out.is_dir():
        raise UserError("cli.error.out_not_directory", path=str(out))
    config = None
    if args.config is not None:
        config_path = Path(args.config)
        _check_readable(config_path)
        config = RunConfig.from_json(config_path.read_bytes())
        if config.preprocess.target != args.target:
            raise UserError(
                "cli.error.config_target",
                config_target=config.preprocess.target,
                target=args.target,
            )
    dataset = load_path(data_path)
    frame = dataset.frame
    if config is None:
        config = default_config(frame, args.target)
    if args.seed is not None:
        config = config.with_seed(args.seed)
    if args.group is not None:
        config = replace(config, preprocess=replace(config.preprocess, group=args.group))
    prepared = prepare(frame, config.preprocess)
    followed = None

    def follow(job: object) -> None:
        nonlocal followed
        if tracker is not None:  # --mlflow: log the job while it trains
            followed = track_cli_job(tracker, job, prepared, config, args, dataset, lang)

    run = _train_quietly(
        prepared, config, name=data_path.stem, workers=args.workers, on_start=follow
    )
    if followed is not None:
        followed.join()
    if run is None:
        _say(f"error: {t('cli.train.interrupted', lang)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if run.status != RunStatus.FINISHED:
        # A blown-up loss is bad settings (exit 2); anything else unexpected is a bug (exit 1).
        text = run.message.text(lang) if run.message else t(f"train.status.{run.status}", lang)
        _say(f"error: {' '.join(text.split())}", file=sys.stderr)
        unexpected = run.message is not None and run.message.key == "train.message.error"
        return EXIT_BUG if unexpected else EXIT_BAD_INPUT
    if args.prune is not None:  # fine-tune with magnitude pruning (core.train.pruning)
        from core.train.pruning import PruneSpec, prune_run

        run = prune_run(prepared, run, PruneSpec(args.prune))
    code = _write_run(out, prepared, run, config, data_name=data_path.name, lang=lang)
    _say(t("cluster.cli.trained_on", lang, device=_device_text(args.workers, lang)))
    if tracker is not None:
        finish_cli_tracking(tracker, followed.handle if followed else None, lang)
    return code


def _device_text(workers: int, lang: str) -> str:
    """Which device trained the run (the CLI trains in this process or its workers)."""
    from core.train.devices import training_device

    device = training_device().text(lang)
    if workers == 1:
        return device
    return t("cluster.device.workers", lang, workers=workers, device=device)


def _train_quietly(
    prepared: Prepared,
    config: RunConfig,
    *,
    name: str,
    workers: int = 1,
    on_start: Callable | None = None,
) -> Run | None:
    """Train through the page's own path (start_training; `workers` > 1: one model over that
    many local processes), keeping TensorFlow's logs off stderr; None if interrupted.
    `on_start(job)` is called once the job has started."""
    from core.train.runner import start_training

    _quiet_tensorflow()
    job = start_training(prepared, config.model, config.train, name=name, workers=workers)
    if on_start is not None:
        on_start(job)
    try:
        job.join()
    except KeyboardInterrupt:
        job.stop()
        job.join()
        return None
    return job.result()


def _write_run(
    out: Path, prepared: Prepared, run: Run, config: RunConfig, *, data_name: str, lang: str
) -> int:
    from core.cli.outputs import write_run_files
    from core.evaluate.metrics import headline_metric

    metrics = write_run_files(out, prepared, run, config, data_name=data_name, lang=lang)

    splits = prepared.splits
    _say(
        t(
            "cli.train.summary",
            lang,
            name=data_name,
            status=t(f"train.status.{run.status}", lang),
            epochs=run.epochs_trained,
            seconds=run.duration_s,
            train=len(splits.y_train),
            val=len(splits.y_val),
            test=len(splits.y_test),
        )
    )
    for notice in (*splits.notices, *([run.message] if run.message else [])):
        _say(f"  ! {notice.text(lang)}")
    metric = headline_metric(prepared.spec.task)
    baselines = ", ".join(
        f"{t(f'evaluation.baseline.{name}', lang)} {_number(values[metric], lang)}"
        for name, values in metrics["baselines"].items()
    )
    _say(
        t(
            "cli.train.versus",
            lang,
            metric=t(f"evaluation.metric.{metric}", lang),
            value=_number(metrics[metric], lang),
            baselines=baselines,
        )
    )
    privacy = metrics.get("privacy") or {}
    if privacy.get("dp"):  # DP-SGD: the ε spent and the membership-inference attack
        from core.evaluate.membership import privacy_lines

        for line in privacy_lines(privacy, lang):
            _say(f"  {line}")
    _say(t("cli.train.wrote", lang, folder=str(out)))
    return 0


def _predict(bundle_path: Path, data_path: Path, out: Path, *, lang: str) -> int:
    from core.data.loading import load_path
    from core.deploy.bundle import ERROR_COLUMN, predict_frame, predictions_csv, read_bundle

    if not bundle_path.exists():
        raise UserError("evaluation.bundle.error.not_found", path=str(bundle_path))
    _check_readable(bundle_path)
    _check_readable(data_path)
    if out.is_dir():
        raise UserError("cli.error.out_is_directory", path=str(out))
    dataset = load_path(data_path)
    _quiet_tensorflow()
    bundle = read_bundle(bundle_path)
    table = predict_frame(bundle, dataset.frame, lang)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(predictions_csv(table))
    except OSError as error:
        raise UserError(
            "cli.error.cannot_write", path=str(out), reason=error.strerror or str(error)
        ) from None
    check = bundle.preprocessor.check_input(dataset.frame)
    for notice in check.notices:
        _say(f"  ! {notice.text(lang)}")
    bad = int((table[ERROR_COLUMN] != "").sum())
    _say(t("cli.predict.summary", lang, rows=len(table), bad=bad, path=str(out)))
    for text in table.loc[table[ERROR_COLUMN] != "", ERROR_COLUMN].head(5):
        _say(f"  * {text}")
    return 0


def _quiet_tensorflow() -> None:
    """Import TensorFlow and Keras with their logs kept off the CLI's stderr."""
    import logging
    import warnings

    # Read by TensorFlow's C++ side when it loads, so it must be set before the first import.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for module in ("tensorflow", "keras", "absl"):
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?$")
        logging.getLogger(module).setLevel(logging.ERROR)
    # TF 2.21 writes its oneDNN notice before absl logging starts, ignoring the variable above,
    # so the import runs with file descriptor 2 pointed at /dev/null. A failing import still
    # raises, and its traceback prints after stderr is back.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)


def _number(value: float | None, lang: str) -> str:
    return t("cli.train.not_available", lang) if value is None else f"{value:.4f}"


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError("cli.error.not_found", path=str(path))
    if path.is_dir():
        raise UserError("cli.error.is_directory", path=str(path))


def _cli_lang() -> str:
    return language_from_locale(os.environ.get("LC_ALL") or os.environ.get("LANG"))


def _run() -> int:
    try:
        code = main()
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours. Point stdout at devnull so
        # Python's exit-time flush does not raise again (the recipe in Python's signal docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    if "ray" in sys.modules:  # trained on Ray (MODELDESK_RAY_ADDRESS)
        from core.train.cluster import exit_after_ray

        exit_after_ray(code)  # the exit code is the training's, not Ray's shutdown's
    return code


if __name__ == "__main__":
    sys.exit(_run())
