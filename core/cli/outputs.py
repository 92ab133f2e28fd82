"""What `train` and `tune` write for a run: config.json, history.csv, metrics.json and bundle.zip
(docs/ARCHITECTURE.md, "Command line"), one writer so the two commands' files stay the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.prep.pipeline import Prepared
    from core.train.engine import Run
    from core.train.runner import RunConfig


def write_run_files(
    out: Path, prepared: Prepared, run: Run, config: RunConfig, *, data_name: str, lang: str
) -> dict[str, Any]:
    """Write the run's four files into `out` (made if missing); return its metrics document."""
    from core.deploy.bundle import history_csv, write_bundle
    from core.deploy.predict_script import deployment_files
    from core.evaluate.metrics import run_metrics

    metrics = run_metrics(prepared, run)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(config.to_json() + "\n", encoding="utf-8")
    (out / "history.csv").write_text(history_csv(run.history), encoding="utf-8")
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    extras = deployment_files(prepared, run, config, metrics, dataset_name=data_name, lang=lang)
    write_bundle(out / "bundle.zip", prepared, run, config, metrics, extras)
    return metrics
