"""What the Compliance page computes from session objects, kept plain so tests can check it.

De-identification choices per column, the new dataset version they produce, the model facts and
fairness of a trained run on its test rows, the report inputs, and the session backup (what it
holds, and reading it back with every part checked before anything is replaced).
TensorFlow is imported only by `run_evidence`, through the run's model, and only when called.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from core import limits
from core.compliance.anonymity import Action
from core.compliance.audit import AuditTrail
from core.compliance.checklist import ChecklistAnswers, ChecklistContext, ModelFacts
from core.compliance.report import ModelCardText, ReportInputs
from core.i18n import Message, UserError

if TYPE_CHECKING:
    import pandas as pd

    from core.compliance.anonymity import QuasiSuggestion
    from core.compliance.audit import Verification
    from core.compliance.checklist import ItemResult
    from core.compliance.fairness import FairnessReport
    from core.compliance.privacy import ScanResult
    from core.data.loading import Dataset
    from core.prep.pipeline import Prepared

# One choice per column on the page; "generalise_<method>" picks a generalisation method.
ACTION_CHOICES = (
    "keep",
    "drop",
    "mask",
    "pseudonymise",
    "generalise_age_band",
    "generalise_year",
    "generalise_cn_id_region",
)
BACKUP_FORMAT = "modeldesk.session_backup"
BACKUP_VERSION = 1
CARD_FIELDS = tuple(f.name for f in fields(ModelCardText))


def suggested_choice(scan: ScanResult | None, column: str, quasi_kind: str | None = None) -> str:
    """The de-identification a column most likely needs: ID numbers generalised to region and
    birth year, other direct identifiers dropped, birth dates to the year, ages to bands."""
    types: tuple[str, ...] = ()
    direct = False
    if scan is not None:
        try:
            found = scan.column(column)
        except KeyError:
            found = None
        if found is not None:
            types, direct = found.types, found.direct_identifier
    if "CN_RESIDENT_ID" in types:
        return "generalise_cn_id_region"
    if direct:
        return "drop"
    if "DATE_OF_BIRTH" in types or quasi_kind == "birth_date":
        return "generalise_year"
    if quasi_kind == "age":
        return "generalise_age_band"
    return "keep"


def columns_to_review(
    scan: ScanResult | None, suggestions: Sequence[QuasiSuggestion], quasi: Sequence[str]
) -> list[str]:
    """Columns the page offers actions for first: flagged by the scan, then quasi-identifiers."""
    names: list[str] = []
    flagged = [column.name for column in scan.flagged] if scan is not None else []
    for name in [*flagged, *(s.column for s in suggestions), *quasi]:
        if name not in names:
            names.append(name)
    return names


def to_action(
    column: str, choice: str, *, keep_last: int = 4, band_width: int = 10
) -> Action | None:
    """The core Action for one page choice (None for keep)."""
    if choice not in ACTION_CHOICES:
        raise UserError("anonymity.error.unknown_action", kind=choice)
    if choice == "keep":
        return None
    if choice.startswith("generalise_"):
        method = choice.removeprefix("generalise_")
        return Action(column, "generalise", method=method, band_width=band_width)
    return Action(column, choice, keep_last=keep_last)


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of the table as the CSV a person would download (names a derived version)."""
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def deidentified_dataset(dataset: Dataset, frame: pd.DataFrame, suffix: str) -> Dataset:
    """A new dataset version holding `frame`, named '<name> (<suffix>)', with its own hash."""
    marker = f" ({suffix})"
    name = dataset.name if dataset.name.endswith(marker) else dataset.name + marker
    target = dataset.target_suggestion if dataset.target_suggestion in frame.columns else None
    return replace(
        dataset,
        frame=frame,
        name=name,
        sha256=frame_sha256(frame),
        size_bytes=int(frame.memory_usage(deep=True).sum()),
        notices=(),
        target_suggestion=target,
    )


def matching_spec(prepared: Prepared | None, frame: pd.DataFrame, target: str | None):
    """The prepared preprocessing spec when it describes this table and target, else None."""
    if prepared is None or target is None or prepared.spec.target != target:
        return None
    if any(plan.name not in frame.columns for plan in prepared.spec.columns):
        return None
    return prepared.spec


@dataclass(frozen=True, eq=False)
class RunEvidence:
    """A run's facts for the checklist and its test-row labels, for fairness by group."""

    facts: ModelFacts
    y_true: np.ndarray | None = None  # class labels of the test rows (None for regression)
    y_pred: np.ndarray | None = None


def weight_facts(run: Any) -> tuple[int | None, int | None]:
    """Parameters and bytes of a run's weights (no TensorFlow needed when it kept them)."""
    weights = run.weights
    if weights is None and run.model is not None:
        weights = run.model.get_weights()
    if weights is None:
        return None, None
    arrays = [np.asarray(weight) for weight in weights]
    return int(sum(array.size for array in arrays)), int(sum(array.nbytes for array in arrays))


def run_evidence(
    run: Any,
    prepared: Prepared,
    importance: dict[str, float] | None = None,
    explanation: dict[str, Any] | None = None,
) -> RunEvidence:
    """Test metrics beside the baselines, compute cost and test-row predictions of one run.

    `importance` is the permutation importance per input column and `explanation` the summary of
    the run's Shapley attributions (`Explanation.summary`), when the Evaluate page has computed
    them.
    """
    from core.evaluate.metrics import (
        LOWER_IS_BETTER,
        headline_metric,
        predict_scores,
        predicted_codes,
        run_metrics,
    )

    if run.weights is None and run.model is None:
        raise UserError("compage.model.error.no_model")
    if run.n_features != prepared.X_test.shape[1]:
        raise UserError(
            "compage.model.error.mismatch", run=run.n_features, data=prepared.X_test.shape[1]
        )
    task = prepared.spec.task
    document = run_metrics(prepared, run)
    metrics = {k: v for k, v in document.items() if k not in ("validation", "baselines", "privacy")}
    metric = headline_metric(task)
    baselines = {name: values.get(metric) for name, values in document["baselines"].items()}
    parameters, size = weight_facts(run)
    facts = ModelFacts(
        task=task,
        metric=metric,
        value=metrics.get(metric),
        baselines=baselines,
        higher_is_better=metric not in LOWER_IS_BETTER,
        parameters=parameters,
        training_seconds=float(run.duration_s),
        size_bytes=size,
        features=tuple(plan.name for plan in prepared.spec.kept),
        metrics=metrics,
        importance=importance,
        explanation=explanation,
        privacy=document.get("privacy"),
    )
    if task == "regression":
        return RunEvidence(facts)
    classes = np.asarray(prepared.preprocessor.classes_, dtype=object)
    codes = predicted_codes(task, predict_scores(run, prepared.X_test))
    return RunEvidence(facts, classes[np.asarray(prepared.y_test, dtype=int)], classes[codes])


def fairness_for(
    evidence: RunEvidence, prepared: Prepared, sensitive: str | None, favourable: str | None = None
) -> tuple[FairnessReport | None, Message | None]:
    """Fairness by the groups of `sensitive` on the run's test rows, or why it can't be had."""
    from core.compliance.fairness import fairness_report

    if evidence.y_true is None or evidence.y_pred is None:
        return None, Message("compage.model.fairness_regression")
    if sensitive is None:
        return None, Message("compage.model.fairness_choose")
    if sensitive == prepared.spec.target:
        return None, Message("compage.model.fairness_is_target", {"column": sensitive})
    test_rows = prepared.splits.X_test
    if sensitive not in test_rows.columns:
        return None, Message("compage.model.fairness_not_in_test", {"column": sensitive})
    groups = test_rows[sensitive].to_numpy()
    if len(groups) != len(evidence.y_pred):
        return None, Message("compage.model.fairness_not_in_test", {"column": sensitive})
    report = fairness_report(
        evidence.y_true, evidence.y_pred, groups, sensitive=sensitive, favourable_label=favourable
    )
    return report, None


def checklist_context(
    answers: ChecklistAnswers,
    *,
    evidence: Mapping[str, Any] | None = None,
    deidentification: Mapping[str, Any] | None = None,
    model: ModelFacts | None = None,
    fairness: FairnessReport | None = None,
    audit: Verification | None = None,
    encrypted_export: bool = False,
    backup_saved: bool = False,
) -> ChecklistContext:
    """Everything the checklist evaluation may use, from what the page has computed."""
    deid = deidentification or {}
    return ChecklistContext(
        answers=answers,
        **dict(evidence or {}),
        deidentification_label=deid.get("label"),
        deidentification_reason=deid.get("reason"),
        model=model,
        fairness=fairness,
        audit=audit,
        encrypted_export=encrypted_export,
        backup_saved=backup_saved,
    )


def report_inputs(
    results: Sequence[ItemResult],
    *,
    card: ModelCardText | None = None,
    dataset: Dataset | None = None,
    evidence: Mapping[str, Any] | None = None,
    deidentification: Mapping[str, Any] | None = None,
    model: ModelFacts | None = None,
    fairness: FairnessReport | None = None,
    audit: AuditTrail | None = None,
) -> ReportInputs:
    """The report's inputs from what the page has computed."""
    evidence = evidence or {}
    frame = dataset.frame if dataset is not None else None
    return ReportInputs(
        results=tuple(results),
        card=card or ModelCardText(),
        dataset_name=dataset.name if dataset is not None else "",
        dataset_sha256=dataset.sha256 if dataset is not None else "",
        rows=len(frame) if frame is not None else None,
        columns=[str(name) for name in frame.columns] if frame is not None else (),
        scan=evidence.get("scan"),
        k_anonymity=evidence.get("k_anonymity"),
        l_diversity=evidence.get("l_diversity"),
        deidentification=(deidentification or {}).get("summary"),
        model=model,
        fairness=fairness,
        audit=audit,
    )


@dataclass(frozen=True, eq=False)
class Backup:
    """What a session backup holds, read back and checked."""

    answers: ChecklistAnswers
    audit: AuditTrail
    card: ModelCardText = field(default_factory=ModelCardText)
    preprocess: dict | None = None
    runs: tuple[dict, ...] = ()
    dataset: dict | None = None
    created_at: str = ""

    def summary(self) -> dict:
        """What was restored, in counts (JSON-safe; for the page and the audit trail)."""
        return {
            "answers": len(self.answers.answers),
            "notes": len(self.answers.notes),
            "audit_events": len(self.audit),
            "runs": len(self.runs),
            "preprocess": self.preprocess is not None,
            "created_at": self.created_at,
        }


def session_backup(
    *,
    answers: ChecklistAnswers,
    audit: AuditTrail,
    card: ModelCardText | None = None,
    preprocess_json: str | None = None,
    runs: Sequence[Any] = (),
    dataset: Dataset | None = None,
    now: datetime | None = None,
) -> str:
    """The session's specs, runs (configs and histories), checklist answers and audit trail as
    JSON. No data values, no model weights and no keys are in it."""
    document = {
        "format": BACKUP_FORMAT,
        "version": BACKUP_VERSION,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "dataset": None
        if dataset is None
        else {
            "name": dataset.name,
            "sha256": dataset.sha256,
            "rows": len(dataset.frame),
            "columns": [str(name) for name in dataset.frame.columns],
        },
        "preprocess": None if preprocess_json is None else json.loads(preprocess_json),
        "runs": [run.to_dict() for run in runs],
        "checklist": json.loads(answers.to_json()),
        "model_card": {name: getattr(card or ModelCardText(), name) for name in CARD_FIELDS},
        "audit": json.loads(audit.to_json()),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


# An audit event's index is a position in a chain; anything beyond 2**53 is not one (and 1e999
# would overflow int()).
_MAX_EVENT_INDEX = 2**53


def _check_audit_document(audit: object) -> None:
    """Refuse a backup's trail that is not a list of well-typed events, or holds more than
    MODELDESK_MAX_BACKUP_EVENTS, before any event is built or hashed (restore time is linear in
    the events, so the cap bounds it)."""
    if audit is None:
        return
    events = audit.get("events") if isinstance(audit, dict) else None
    if not isinstance(events, list):
        raise UserError("audit.error.bad_json", reason="events is not a list")
    cap = limits.limit("MODELDESK_MAX_BACKUP_EVENTS")
    if len(events) > cap:
        raise UserError("hostile.error.too_many_events", events=len(events), limit=cap)
    deadline = limits.Deadline("backup")
    for position, event in enumerate(events):
        if position % 1024 == 0:
            deadline.check()
        index = event.get("index") if isinstance(event, dict) else None
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not 0 <= index <= _MAX_EVENT_INDEX
            or not isinstance(event.get("details"), dict)
        ):
            raise UserError("audit.error.bad_json", reason=f"event {position}")
        for key in ("time", "kind", "previous", "hash"):
            if not isinstance(event.get(key), str):
                raise UserError("audit.error.bad_json", reason=f"event {position}: {key}")


def read_backup(data: bytes | str) -> Backup:
    """A session backup read back; UserError (and nothing half-read) when any part is wrong."""
    try:
        document = limits.loads(data, what="backup")
    except (ValueError, UnicodeDecodeError):
        raise UserError("compage.backup.error.not_json") from None
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise UserError("compage.backup.error.not_backup")
    if document.get("version") != BACKUP_VERSION:
        raise UserError("compage.backup.error.version", version=str(document.get("version")))
    checklist = document.get("checklist") or {}
    if not isinstance(checklist, dict) or checklist.get("sensitive_data") not in (
        None,
        True,
        False,
    ):
        raise UserError("compage.backup.error.not_backup")
    answers = ChecklistAnswers.from_json(json.dumps(checklist))
    _check_audit_document(document.get("audit"))
    # The backup's trail was chained under another key (or another process's): it cannot be
    # verified here, and restoring appends its events marked imported: never in
    # place of the session's own, which a forged backup could otherwise replace.
    audit = AuditTrail.from_json(json.dumps(document.get("audit") or {"events": []}))
    AuditTrail().import_events(audit.events)  # the same checks the restore makes, nothing kept
    runs = document.get("runs") or []
    if not isinstance(runs, list) or not all(
        isinstance(run, dict) and "run_id" in run and "name" in run for run in runs
    ):
        raise UserError("compage.backup.error.runs")
    card_data = document.get("model_card") or {}
    if not isinstance(card_data, dict):
        raise UserError("compage.backup.error.not_backup")
    card = ModelCardText(**{name: str(card_data.get(name, "")) for name in CARD_FIELDS})
    preprocess = document.get("preprocess")
    dataset = document.get("dataset")
    return Backup(
        answers=answers,
        audit=audit,
        card=card,
        preprocess=preprocess if isinstance(preprocess, dict) else None,
        runs=tuple(runs),
        dataset=dataset if isinstance(dataset, dict) else None,
        created_at=str(document.get("created_at", "")),
    )
