"""`python -m core tune FILE --target COL --out DIR [--trials N] [--budget-seconds S] [--seed N]
[--config CONFIG.json] [--space SPACE.json] [--max-epochs N]` (docs/ARCHITECTURE.md).

A hyperparameter search (core.train.search) from the command line. It writes
`leaderboard.csv` (one row per trial, in trial order: rank, number, state, each hyperparameter,
validation loss and metric, epochs, seconds) and, for the best trial, the same `config.json`,
`history.csv`, `metrics.json` (test metrics with the baselines, gradient boosting included) and
`bundle.zip` as `train`. Trials run one at a time, so `--trials N` with a seed gives the same
leaderboard run to run (times aside); the test rows are scored once, for the winner.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.i18n import UserError, t

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def add_tune_command(subparsers: argparse._SubParsersAction, lang: str) -> argparse.ArgumentParser:
    """Add the `tune` subcommand to an `add_subparsers()` result; return its parser."""
    tune = subparsers.add_parser("tune", help=t("search.cli.help", lang))
    tune.add_argument("file", help=t("cli.file.help", lang))
    tune.add_argument("--target", required=True, metavar="COL", help=t("cli.target.help", lang))
    tune.add_argument("--out", required=True, metavar="DIR", help=t("cli.out.help", lang))
    tune.add_argument(
        "--trials", type=int, default=20, metavar="N", help=t("search.cli.trials_help", lang)
    )
    tune.add_argument(
        "--budget-seconds", type=float, metavar="S", help=t("search.cli.budget_help", lang)
    )
    tune.add_argument("--seed", type=int, default=0, metavar="N", help=t("cli.seed.help", lang))
    tune.add_argument("--config", metavar="CONFIG.json", help=t("cli.config.help", lang))
    tune.add_argument("--space", metavar="SPACE.json", help=t("search.cli.space_help", lang))
    tune.add_argument(
        "--max-epochs", type=int, default=60, metavar="N", help=t("search.cli.epochs_help", lang)
    )
    return tune


def run_tune(args: argparse.Namespace, lang: str) -> int:
    """Search, write the leaderboard and the best trial's files; return the exit code."""
    try:
        return _tune(args, lang)
    except UserError as error:
        print(f"error: {' '.join(error.text(lang).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _tune(args: argparse.Namespace, lang: str) -> int:
    from core import limits
    from core.cli.outputs import write_run_files
    from core.data.loading import load_path
    from core.export_safety import safe_csv
    from core.train.runner import RunConfig, default_config
    from core.train.search import (
        Search,
        SearchSettings,
        SearchSpace,
        default_space,
        leaderboard,
    )

    data_path, out = Path(args.file), Path(args.out)
    _readable(data_path)
    if out.exists() and not out.is_dir():
        raise UserError("cli.error.out_not_directory", path=str(out))
    settings = SearchSettings(
        trials=args.trials,
        budget_seconds=args.budget_seconds,
        seed=args.seed,
        max_epochs=args.max_epochs,
        slots=1,
    )
    frame = load_path(data_path).frame
    if args.config is not None:
        _readable(Path(args.config))
        config = RunConfig.from_json(Path(args.config).read_bytes())
        if config.preprocess.target != args.target:
            raise UserError(
                "cli.error.config_target",
                config_target=config.preprocess.target,
                target=args.target,
            )
    else:
        if args.target not in frame.columns:
            raise UserError("preprocess.error.target_not_found", target=str(args.target))
        config = default_config(frame, args.target)
    config = config.with_seed(args.seed)
    if args.space is not None:
        _readable(Path(args.space))
        try:
            document = limits.loads(Path(args.space).read_bytes(), what="search space")
            space = SearchSpace.from_dict(document)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError("search.error.space_not_object") from None
    else:
        rows = int(len(frame) * (1 - config.preprocess.val_share - config.preprocess.test_share))
        space = default_space(config.preprocess.task, rows)
    _quiet_tensorflow()
    search = Search(frame, config, space, settings).start()
    try:
        search.join()
    except KeyboardInterrupt:
        search.stop()
        search.join()
        print(f"error: {t('cli.train.interrupted', lang)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    snapshot = search.snapshot()
    if snapshot.status == "failed" and snapshot.message is not None:
        raise UserError(snapshot.message.key, **snapshot.message.params)
    if snapshot.best is None:
        raise UserError("search.cli.no_trial")
    board = leaderboard(snapshot.trials, space, snapshot.metric).sort_values("number")
    run, prepared, best_config = search.trial_run(snapshot.best)
    write_run_files(out, prepared, run, best_config, data_name=data_path.name, lang=lang)
    (out / "leaderboard.csv").write_bytes(safe_csv(board))
    counts = {state: sum(r.state == state for r in snapshot.trials) for state in ("pruned",)}
    print(
        t(
            "search.cli.summary",
            lang,
            trials=len(snapshot.trials),
            pruned=counts["pruned"],
            seconds=round(snapshot.elapsed, 1),
            best=snapshot.best,
            folder=str(out),
        )
    )
    return 0


def _readable(path: Path) -> None:
    if not path.exists():
        raise UserError("cli.error.not_found", path=str(path))
    if path.is_dir():
        raise UserError("cli.error.is_directory", path=str(path))


def _quiet_tensorflow() -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
