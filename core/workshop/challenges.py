"""Challenge checks: small declarative tests over a session's own runs, events and data.

A check is a TOML table (validated by `validate_check`, since lesson files are input):

    kind = "run"     # one run meets `where` and every condition
    where = { optimizer = "adam", batch = "mini", status = ["finished"], max_parameters = 1000,
              kind = "mlp", early_stopping = true, message = "nan_loss" }
    conditions = [ { of = "val_accuracy", at = "last", op = ">=", value = 0.95 } ]
    kind = "each"    # runs = [ {where, conditions}, ... ]: each met by some run
    kind = "then"    # first = {...}, second = {...}: a run meets first, a later one second
    kind = "k_anonymity"  # quasi = [...], k = 5: the current table is k-anonymous
    kind = "no_pii"  # columns = [...]: no PII found in those columns (or they are gone)
    kind = "event"   # event = "export", what = "report": the session did it

`of` is a history key (loss, val_loss, accuracy, ...), `param.<w|b|...>`, `test.<metric>`,
`parameters` (weight count), `epochs`, `overfit_ratio` (last val_loss / lowest val_loss),
`epsilon` (the ε a DP-SGD run spent) or `attack_auc` (the membership-inference attack's AUC,
from the run's metrics). `where.dp` picks private (true) or ordinary (false) runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.i18n import UserError
from core.train.status import RunStatus

# The statuses a check may ask for, as lesson files spell them.
_STATUSES = frozenset(str(status) for status in RunStatus)

KINDS = ("run", "each", "then", "k_anonymity", "no_pii", "event")
OPS = (">=", "<=", ">", "<", "near")
AT = ("last", "min", "max")
WHERE = {
    "optimizer", "kind", "batch", "status", "message", "early_stopping", "max_parameters", "dp",
}  # fmt: skip
NAME = re.compile(r"^[a-z0-9_]{1,40}$")
OF = re.compile(r"^(?:[a-z_]{1,30}|param\.[a-z0-9_]{1,10}|test\.[a-z0-9_]{1,30})$")
MAX_ITEMS = 10


@dataclass(frozen=True)
class SessionWork:
    """What a session has done, as the checks read it."""

    runs: Sequence[Any] = ()  # core.train.engine.Run, oldest first
    events: Sequence[Any] = ()  # core.compliance.audit.AuditEvent
    frame: Any = None  # the current dataset's DataFrame, or None


def is_done(check: dict[str, Any], work: SessionWork) -> bool:
    """Whether the session's own work meets the check."""
    kind = check["kind"]
    runs = list(work.runs)
    if kind == "run":
        return any(_run_meets(run, check) for run in runs)
    if kind == "each":
        return all(any(_run_meets(run, part) for run in runs) for part in check["runs"])
    if kind == "then":
        firsts = [i for i, run in enumerate(runs) if _run_meets(run, check["first"])]
        return bool(firsts) and any(
            _run_meets(run, check["second"]) for run in runs[firsts[0] + 1 :]
        )
    if kind == "k_anonymity":
        return _k_anonymous(work.frame, check["quasi"], check["k"])
    if kind == "no_pii":
        return _no_pii(work.frame, check["columns"])
    return any(
        event.kind == check["event"]
        and ("what" not in check or event.details.get("what") == check["what"])
        for event in work.events
    )


def validate_check(check: dict[str, Any], where: str) -> None:
    """Refuse a check that is not one of the documented shapes (UserError naming the place)."""
    kind = check.get("kind")
    if kind not in KINDS:
        raise _bad(f"{where}.kind", ", ".join(KINDS))
    allowed = {
        "run": {"kind", "where", "conditions"},
        "each": {"kind", "runs"},
        "then": {"kind", "first", "second"},
        "k_anonymity": {"kind", "quasi", "k"},
        "no_pii": {"kind", "columns"},
        "event": {"kind", "event", "what"},
    }[kind]
    if set(check) - allowed:
        raise _bad(where, ", ".join(sorted(allowed)))
    if kind == "run":
        _validate_run(check, where)
    elif kind == "each":
        parts = check.get("runs")
        if not isinstance(parts, list) or not 0 < len(parts) <= MAX_ITEMS:
            raise _bad(f"{where}.runs", f"a list of 1 to {MAX_ITEMS} run checks")
        for i, part in enumerate(parts, 1):
            _validate_run(part, f"{where}.runs[{i}]")
    elif kind == "then":
        for part in ("first", "second"):
            _validate_run(check.get(part), f"{where}.{part}")
    elif kind == "k_anonymity":
        _names(check.get("quasi"), f"{where}.quasi")
        k = check.get("k")
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 1000:
            raise _bad(f"{where}.k", "2..1000")
    elif kind == "no_pii":
        _names(check.get("columns"), f"{where}.columns")
    else:
        for key in ("event", "what"):
            if key in check and not (isinstance(check[key], str) and NAME.match(check[key])):
                raise _bad(f"{where}.{key}", "a short name")
        if "event" not in check:
            raise _bad(f"{where}.event", "a short name")


# --- runs -----------------------------------------------------------------------------------


def _run_meets(run: Any, check: dict[str, Any]) -> bool:
    where = check.get("where", {})
    if "status" in where and run.status not in where["status"]:
        return False
    if "status" not in where and not RunStatus(run.status).usable:
        return False
    if "optimizer" in where and run.train_spec.optimizer != where["optimizer"]:
        return False
    if "kind" in where and run.model_spec.kind != where["kind"]:
        return False
    if "batch" in where and (run.train_spec.batch_size is None) != (where["batch"] == "full"):
        return False
    if "early_stopping" in where and run.train_spec.early_stopping != where["early_stopping"]:
        return False
    if "message" in where and (
        run.message is None or run.message.key.rsplit(".", 1)[-1] != where["message"]
    ):
        return False
    if "max_parameters" in where and _parameters(run) > where["max_parameters"]:
        return False
    if "dp" in where and bool(getattr(run.train_spec, "dp", False)) != where["dp"]:
        return False
    return all(_condition(run, c) for c in check.get("conditions", ()))


def _condition(run: Any, condition: dict[str, Any]) -> bool:
    value = _value(run, condition["of"], condition.get("at", "last"))
    if value is None or not math.isfinite(value):
        return False
    target, op = float(condition["value"]), condition["op"]
    if op == "near":
        return abs(value - target) <= float(condition.get("tolerance", 0.05))
    return {
        ">=": value >= target,
        "<=": value <= target,
        ">": value > target,
        "<": value < target,
    }[op]


def _value(run: Any, of: str, at: str) -> float | None:
    if of == "parameters":
        return float(_parameters(run))
    if of == "epochs":
        return float(run.epochs_trained)
    if of == "overfit_ratio":
        losses = run.history.get("val_loss") or []
        return losses[-1] / min(losses) if losses and min(losses) > 0 else None
    if of == "epsilon":
        epsilon = (getattr(run, "privacy", None) or {}).get("epsilon")
        return float(epsilon) if isinstance(epsilon, int | float) else None
    if of == "attack_auc":
        attack = ((run.metrics or {}).get("privacy") or {}).get("membership_inference") or {}
        return float(attack["auc"]) if isinstance(attack.get("auc"), int | float) else None
    if of.startswith("test."):
        metric = run.metrics.get(of[5:])
        return float(metric) if isinstance(metric, int | float) else None
    series = run.parameters.get(of[6:]) if of.startswith("param.") else run.history.get(of)
    if not series:
        return None
    return float({"last": series[-1], "min": min(series), "max": max(series)}[at])


def _parameters(run: Any) -> int:
    return sum(int(w.size) for w in run.weights or ())


# --- data -----------------------------------------------------------------------------------


def _k_anonymous(frame: Any, quasi: list[str], k: int) -> bool:
    from core.compliance.anonymity import k_anonymity

    if frame is None or not len(frame) or not set(quasi) <= set(frame.columns):
        return False
    return k_anonymity(frame, quasi, k).k >= k


def _no_pii(frame: Any, columns: list[str]) -> bool:
    from core.compliance.privacy import scan_frame

    if frame is None:
        return False
    present = [c for c in columns if c in frame.columns]
    if not present:
        return True
    scan = scan_frame(frame[present])
    return not any(column.entities for column in scan.columns)


# --- validation -----------------------------------------------------------------------------


def _validate_run(check: object, where: str) -> None:
    if not isinstance(check, dict) or set(check) - {"kind", "where", "conditions"}:
        raise _bad(where, "a table with where and conditions")
    filters = check.get("where", {})
    if not isinstance(filters, dict) or set(filters) - WHERE:
        raise _bad(f"{where}.where", ", ".join(sorted(WHERE)))
    for key, value in filters.items():
        ok = {
            "status": isinstance(value, list)
            and all(isinstance(v, str) and v in _STATUSES for v in value),
            "early_stopping": isinstance(value, bool),
            "dp": isinstance(value, bool),
            "max_parameters": isinstance(value, int) and not isinstance(value, bool) and value > 0,
            "batch": value in ("full", "mini"),
        }.get(key, isinstance(value, str) and bool(NAME.match(value)))
        if not ok:
            raise _bad(f"{where}.where.{key}", "a value of the documented type")
    conditions = check.get("conditions", [])
    if not isinstance(conditions, list) or len(conditions) > MAX_ITEMS:
        raise _bad(f"{where}.conditions", f"a list of at most {MAX_ITEMS}")
    for i, condition in enumerate(conditions, 1):
        place = f"{where}.conditions[{i}]"
        if not isinstance(condition, dict) or set(condition) - {
            "of",
            "at",
            "op",
            "value",
            "tolerance",
        }:
            raise _bad(place, "of, at, op, value, tolerance")
        if not isinstance(condition.get("of"), str) or not OF.match(condition["of"]):
            raise _bad(f"{place}.of", "a history key, param.<name>, test.<metric>, parameters")
        if condition.get("at", "last") not in AT:
            raise _bad(f"{place}.at", ", ".join(AT))
        if condition.get("op") not in OPS:
            raise _bad(f"{place}.op", ", ".join(OPS))
        for key in ("value", "tolerance"):
            number = condition.get(key, 0.0)
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise _bad(f"{place}.{key}", "a number")
            if not math.isfinite(number):
                raise _bad(f"{place}.{key}", "a finite number")
        if "value" not in condition:
            raise _bad(f"{place}.value", "a number")


def _names(value: object, where: str) -> None:
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_ITEMS
        or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value)
    ):
        raise _bad(where, "a list of column names")


def _bad(where: str, expected: str) -> UserError:
    return UserError("workshop.error.field", where=where, expected=expected)
