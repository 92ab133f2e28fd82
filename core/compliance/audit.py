"""A keyed hash chain of one session's events (docs/ARCHITECTURE.md, "Shared servers").

Each event stores the MAC of the previous event, and its own MAC (HMAC-SHA-256 under the
server's audit key) covers its index, time, kind, details, whether it was imported and that
previous MAC. Changing, removing or reordering any event breaks every MAC after it, which
`verify` finds; without the key nobody can rewrite the chain so that it verifies again.

The key is the server's (the Streamlit glue passes it in: secrets' `audit_key` or
MODELDESK_AUDIT_KEY). Without one, a random key made once per process is used: a trail then
verifies only while this server process runs, and the page says so.

Restoring a backup never replaces a session's trail: `import_events` appends the backup's
events marked imported. The chain covers that they were imported and what they said at import,
not that they are genuine: they are "imported, not verified here".

Details must be plain JSON. Secrets never enter the trail: keys named like a key, passphrase,
password or token are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterable
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
# Used when the server sets no audit key: random, made once per process, never stored.
_PROCESS_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class AuditKey:
    """The key the chain is made with, and whether the server configured it."""

    key: bytes
    configured: bool


def audit_key(configured: str | bytes | None) -> AuditKey:
    """The server's audit key, or this process's random one when none is set (or it is empty)."""
    if isinstance(configured, str):
        configured = configured.strip().encode("utf-8")
    if configured:
        return AuditKey(bytes(configured), True)
    return AuditKey(_PROCESS_KEY, False)


@dataclass(frozen=True)
class AuditEvent:
    """One recorded event and its place in the chain."""

    index: int
    time: str  # ISO 8601, UTC
    kind: str
    details: dict
    previous: str
    hash: str
    imported: bool = False  # from a restored backup: shown, never verified here

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return {
            "index": self.index,
            "time": self.time,
            "kind": self.kind,
            "details": self.details,
            "imported": self.imported,
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
    imported: int = 0  # events restored from a backup: in the chain, their origin unverified

    @property
    def message(self) -> Message:
        """What the check found."""
        if self.ok and self.imported:
            return Message(
                "audit.verify.ok_imported",
                {"count": self.events - self.imported, "imported": self.imported},
            )
        if self.ok:
            return Message("audit.verify.ok", {"count": self.events})
        return Message("audit.verify.broken", {"index": self.broken_at})


class AuditTrail:
    """An append-only, HMAC-chained list of events (thread-safe).

    `key` is the server's audit key (see `audit_key`); None means this process's random key.
    """

    def __init__(
        self,
        events: list[AuditEvent] | tuple[AuditEvent, ...] = (),
        *,
        key: bytes | None = None,
    ) -> None:
        self._events = list(events)
        self._key = key or _PROCESS_KEY
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
            return self._append(moment, kind, canonical, imported=False)

    def import_events(self, events: Iterable[AuditEvent]) -> int:
        """Append another trail's events (a restored backup) marked imported; return how many.

        The session's own events are never dropped or changed. An imported event keeps its
        time, kind and details; the chain records that it was imported, not that it is genuine.
        All or nothing: a kind this version does not know, or details holding something named
        like a secret, is a UserError and nothing is appended.
        """
        copies = []
        for event in events:
            if event.kind not in EVENT_KINDS:
                raise UserError("audit.error.bad_json", reason=f"kind {event.kind!r}")
            try:
                _refuse_secrets(event.details)
                details = json.loads(_canonical_json(event.details))
            except (ValueError, TypeError) as exc:
                raise UserError("audit.error.bad_json", reason=str(exc)) from None
            copies.append((str(event.time), event.kind, details))
        with self._lock:
            for moment, kind, details in copies:
                self._append(moment, kind, details, imported=True)
        return len(copies)

    def _append(self, moment: str, kind: str, details: dict, *, imported: bool) -> AuditEvent:
        previous = self._events[-1].hash if self._events else GENESIS
        index = len(self._events)
        event = AuditEvent(
            index=index,
            time=moment,
            kind=kind,
            details=details,
            previous=previous,
            hash=event_hash(
                index, moment, kind, details, previous, key=self._key, imported=imported
            ),
            imported=imported,
        )
        self._events.append(event)
        return event

    def verify(self) -> Verification:
        """Recompute every MAC and link; report the first event that does not fit."""
        events = self.events
        previous = GENESIS
        for position, event in enumerate(events):
            expected = event_hash(
                event.index,
                event.time,
                event.kind,
                event.details,
                event.previous,
                key=self._key,
                imported=event.imported,
            )
            if (
                event.index != position
                or event.previous != previous
                or not hmac.compare_digest(event.hash, expected)
            ):
                return Verification(False, len(events), position)
            previous = event.hash
        return Verification(True, len(events), imported=sum(e.imported for e in events))

    def to_json(self) -> str:
        """The whole trail as JSON."""
        return json.dumps(
            {"events": [event.to_dict() for event in self.events]}, ensure_ascii=False, indent=2
        )

    @classmethod
    def from_json(cls, text: str | bytes, *, key: bytes | None = None) -> AuditTrail:
        """A trail from its JSON, as stored (call verify() to check it under `key`)."""
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
                    imported=item.get("imported", False) is True,
                )
                for item in data["events"]
            ]
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError("audit.error.bad_json", reason=str(exc)) from None
        return cls(events, key=key)


def event_hash(
    index: int,
    time: str,
    kind: str,
    details: dict,
    previous: str,
    *,
    key: bytes | None = None,
    imported: bool = False,
) -> str:
    """HMAC-SHA-256 of an event's canonical JSON under `key` (None: this process's key)."""
    payload = {
        "index": index,
        "time": time,
        "kind": kind,
        "details": details,
        "imported": imported,
        "previous": previous,
    }
    message = _canonical_json(payload).encode("utf-8")
    return hmac.new(key or _PROCESS_KEY, message, hashlib.sha256).hexdigest()


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
