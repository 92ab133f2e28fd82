"""A hash-chained audit trail of one session's events.

Each event stores the SHA-256 of the previous event, and its own hash covers its index, time,
kind, details and that previous hash. Changing, removing or reordering any event breaks every
hash after it, which `verify` finds. The chain proves integrity against edits of the exported
log, not authorship: whoever rewrites the whole chain can recompute it (sign or timestamp the
exported report for that).

Details must be plain JSON. Secrets never enter the trail: keys named like a key, passphrase,
password or token are refused.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from core.i18n import Message, UserError

EVENT_KINDS = (
    "upload",
    "preprocess",
    "deidentify",
    "train",
    "export",
    "checklist",
    "note",
)
GENESIS = "0" * 64
_SECRET_NAMES = ("key", "passphrase", "password", "secret", "token")


@dataclass(frozen=True)
class AuditEvent:
    """One recorded event and its place in the chain."""

    index: int
    time: str  # ISO 8601, UTC
    kind: str
    details: dict
    previous: str
    hash: str

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "index": self.index,
            "time": self.time,
            "kind": self.kind,
            "details": self.details,
            "previous": self.previous,
            "hash": self.hash,
        }

    @property
    def message(self) -> Message:
        """A one-line description of the event."""
        return Message(f"audit.kind.{self.kind}", {"time": self.time})


@dataclass(frozen=True)
class Verification:
    """The result of checking the chain: ok, or the first event that does not fit."""

    ok: bool
    events: int
    broken_at: int | None = None

    @property
    def message(self) -> Message:
        """What the check found."""
        if self.ok:
            return Message("audit.verify.ok", {"count": self.events})
        return Message("audit.verify.broken", {"index": self.broken_at})


class AuditTrail:
    """An append-only, hash-chained list of events (thread-safe)."""

    def __init__(self, events: list[AuditEvent] | tuple[AuditEvent, ...] = ()) -> None:
        self._events = list(events)
        self._lock = threading.Lock()

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        """The events so far, oldest first."""
        with self._lock:
            return tuple(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def record(self, kind: str, details: dict | None = None, *, now: datetime | None = None):
        """Append one event (kind from EVENT_KINDS) and return it."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown audit event kind {kind!r}")
        details = dict(details or {})
        _refuse_secrets(details)
        canonical = json.loads(_canonical_json(details))  # a plain-JSON copy, or TypeError
        moment = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        with self._lock:
            previous = self._events[-1].hash if self._events else GENESIS
            index = len(self._events)
            event = AuditEvent(
                index=index,
                time=moment,
                kind=kind,
                details=canonical,
                previous=previous,
                hash=event_hash(index, moment, kind, canonical, previous),
            )
            self._events.append(event)
        return event

    def verify(self) -> Verification:
        """Recompute every hash and link; report the first event that does not fit."""
        events = self.events
        previous = GENESIS
        for position, event in enumerate(events):
            expected = event_hash(
                event.index, event.time, event.kind, event.details, event.previous
            )
            if event.index != position or event.previous != previous or event.hash != expected:
                return Verification(False, len(events), position)
            previous = event.hash
        return Verification(True, len(events))

    def to_json(self) -> str:
        """The whole trail as JSON."""
        return json.dumps(
            {"events": [event.to_dict() for event in self.events]}, ensure_ascii=False, indent=2
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditTrail:
        """A trail from its JSON, as stored (call verify() to check it)."""
        try:
            data = json.loads(text)
            events = [
                AuditEvent(
                    index=int(item["index"]),
                    time=str(item["time"]),
                    kind=str(item["kind"]),
                    details=dict(item["details"]),
                    previous=str(item["previous"]),
                    hash=str(item["hash"]),
                )
                for item in data["events"]
            ]
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError("audit.error.bad_json", reason=str(exc)) from None
        return cls(events)


def event_hash(index: int, time: str, kind: str, details: dict, previous: str) -> str:
    """SHA-256 of an event's canonical JSON."""
    payload = {
        "index": index,
        "time": time,
        "kind": kind,
        "details": details,
        "previous": previous,
    }
    return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _refuse_secrets(details: object) -> None:
    if isinstance(details, dict):
        for name, value in details.items():
            lowered = str(name).lower()
            if any(lowered == word or lowered.endswith("_" + word) for word in _SECRET_NAMES):
                raise ValueError(f"audit details must not hold secrets ({name!r})")
            _refuse_secrets(value)
    elif isinstance(details, list | tuple):
        for item in details:
            _refuse_secrets(item)
