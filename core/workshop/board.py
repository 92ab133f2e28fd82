"""The room board: runs participants chose to post, in this process's memory only.

Nothing reaches the board without `post()` (the participant's click); an entry holds a
nickname, the lesson, the run's config, metrics and curves, never data. A participant who
leaves (`leave()`, or silence past `liveness_s` seen by `prune()`) takes their entries along.
The facilitator view is behind a password checked in constant time; `reveal()` shows the
board to the room.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_ENTRIES = 300
MAX_PER_SESSION = 10
MAX_NICKNAME = 40
MAX_POINTS = 500
MAX_WAIT_S = 300.0  # the longest back-off: a guesser gets about 300 tries a day per key
MAX_TRACKED = 10_000  # keys remembered; the oldest are forgotten first


def free_attempts() -> int:
    """Wrong guesses allowed before the back-off starts (MODELDESK_LOGIN_ATTEMPTS, default 5)."""
    try:
        value = int(os.environ.get("MODELDESK_LOGIN_ATTEMPTS", "5"))
    except ValueError:
        return 5
    return value if value > 0 else 5


class AttemptLimiter:
    """Attempt limiting with back-off for a secret typed in a form (the facilitator password,
    the room code), per key: a session and an address are each a key, and a try is refused
    while any of its keys waits. After `free_attempts()` wrong tries, each further one makes
    that key wait 2, 4, 8 ... seconds, at most MAX_WAIT_S; a right one clears the keys."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait_s(self, keys: tuple[str, ...]) -> float:
        """Seconds before any of `keys` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            until = max((self._failures.get(key, (0, 0.0))[1] for key in keys), default=0.0)
        return max(until - now, 0.0)

    def failed(self, keys: tuple[str, ...]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                count = self._failures.pop(key, (0, 0.0))[0] + 1
                extra = count - free_attempts()
                wait = min(2.0**extra, MAX_WAIT_S) if extra > 0 else 0.0
                self._failures[key] = (count, now + wait)
                while len(self._failures) > MAX_TRACKED:
                    self._failures.popitem(last=False)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def check(
        self, given: object, expected: str | None, keys: tuple[str, ...]
    ) -> tuple[bool, float]:
        """password_ok with limiting: (matched, seconds to wait). While a key waits nothing is
        compared and the try does not count."""
        wait = self.wait_s(keys)
        if wait > 0:
            return False, wait
        if password_ok(given, expected):
            self.succeeded(keys)
            return True, 0.0
        self.failed(keys)
        return False, 0.0


@dataclass(frozen=True)
class BoardEntry:
    """One posted run."""

    session: str
    nickname: str
    lesson: str
    run_id: str
    config: dict[str, Any]
    metrics: dict[str, float]
    curves: dict[str, list[float]] = field(default_factory=dict)
    challenges_done: tuple[str, ...] = ()


def password_ok(given: object, expected: str | None) -> bool:
    """The facilitator's password, compared in constant time; no password set never opens."""
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def clean_nickname(text: object) -> str:
    """A nickname as shown to the room: printable, one line, at most MAX_NICKNAME characters."""
    value = "".join(c for c in str(text or "") if c.isprintable()).strip()
    return value[:MAX_NICKNAME]


class RoomBoard:
    """The posted runs of one room."""

    def __init__(self, liveness_s: float = 120.0, clock: Callable[[], float] = time.monotonic):
        self.liveness_s = liveness_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[BoardEntry] = []
        self._last_seen: dict[str, float] = {}
        self._revealed = False

    def post(self, entry: BoardEntry) -> bool:
        """Add a participant's run (their click); False when the board or their share is full."""
        curves = {k: [float(v) for v in vs[-MAX_POINTS:]] for k, vs in entry.curves.items()}
        entry = BoardEntry(
            entry.session,
            clean_nickname(entry.nickname) or "?",
            entry.lesson,
            entry.run_id,
            dict(entry.config),
            {k: float(v) for k, v in entry.metrics.items()},
            curves,
            tuple(entry.challenges_done),
        )
        with self._lock:
            mine = [e for e in self._entries if e.session == entry.session]
            if len(self._entries) >= MAX_ENTRIES or len(mine) >= MAX_PER_SESSION:
                return False
            self._entries = [
                e
                for e in self._entries
                if not (e.session == entry.session and e.run_id == entry.run_id)
            ]
            self._entries.append(entry)
            self._last_seen[entry.session] = self._clock()
            return True

    def heartbeat(self, session: str) -> None:
        with self._lock:
            if session in self._last_seen:
                self._last_seen[session] = self._clock()

    def leave(self, session: str) -> None:
        """Remove every entry of a participant who left."""
        with self._lock:
            self._entries = [e for e in self._entries if e.session != session]
            self._last_seen.pop(session, None)

    def prune(self, now: float | None = None) -> None:
        """Participants silent past liveness_s have left."""
        now = self._clock() if now is None else now
        with self._lock:
            gone = {s for s, seen in self._last_seen.items() if now - seen > self.liveness_s}
            self._entries = [e for e in self._entries if e.session not in gone]
            for session in gone:
                del self._last_seen[session]

    def entries(self, lesson: str | None = None) -> list[BoardEntry]:
        with self._lock:
            return [e for e in self._entries if lesson is None or e.lesson == lesson]

    def posted_by(self, session: str) -> list[BoardEntry]:
        with self._lock:
            return [e for e in self._entries if e.session == session]

    def leaderboard(
        self, metric: str, *, lesson: str | None = None, higher_is_better: bool = True
    ) -> list[BoardEntry]:
        """Entries with the metric, best first (one line per nickname, their best run)."""
        best: dict[str, BoardEntry] = {}
        sign = 1 if higher_is_better else -1
        for entry in self.entries(lesson):
            if metric not in entry.metrics:
                continue
            held = best.get(entry.nickname)
            if held is None or sign * entry.metrics[metric] > sign * held.metrics[metric]:
                best[entry.nickname] = entry
        return sorted(best.values(), key=lambda e: -sign * e.metrics[metric])

    def reveal(self, shown: bool = True) -> None:
        with self._lock:
            self._revealed = shown

    @property
    def revealed(self) -> bool:
        with self._lock:
            return self._revealed
