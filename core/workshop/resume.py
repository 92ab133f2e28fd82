"""Resume tokens: a reload or a dropped connection gets the participant's work back.

A session holds one token (`new_token()`: 256 random bits, URL-safe), carried in its URL. The
store maps the token's hash to the session's work, in this process's memory only, for at most
`ttl_s` after the last save and for at most `max_entries` sessions (the oldest go first). A
restore needs the token *and* the same browser binding (a hash of a value only that browser
sends, e.g. its cookie): a token pasted into another participant's browser gets nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

DEFAULT_TTL_S = 2 * 3600.0
DEFAULT_MAX_ENTRIES = 500
TOKEN_BYTES = 32


def new_token() -> str:
    """An unguessable token (256 bits from the OS's CSPRNG)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(value: object) -> bool:
    """Whether a URL value could be a token at all (hostile input: refuse anything else)."""
    return (
        isinstance(value, str)
        and 40 <= len(value) <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
    )


def browser_binding(xsrf_cookie: object) -> str:
    """A stable value of one browser from Streamlit's XSRF cookie ("2|mask|masked|time": the
    token, mask XOR masked, stays the same while the mask changes per response)."""
    if not isinstance(xsrf_cookie, str) or len(xsrf_cookie) > 400:
        return ""
    parts = xsrf_cookie.split("|")
    if len(parts) == 4 and parts[0] == "2":
        try:
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            return ""
        return bytes(a ^ b for a, b in zip(mask, masked, strict=False)).hex()
    return xsrf_cookie


class ResumeStore:
    """Token -> (browser binding, payload), bounded in time and count, in memory."""

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[bytes, float, Any]] = OrderedDict()

    def save(self, token: str, binding: str, payload: Any) -> None:
        """Keep (or refresh) a session's work under its token."""
        if not looks_like_token(token):
            return
        key = _digest(token)
        with self._lock:
            self._expire()
            self._entries[key] = (_digest(binding), self._clock(), payload)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def restore(self, token: object, binding: str) -> Any:
        """The work saved under `token` by this same browser, or None."""
        if not looks_like_token(token):
            return None
        assert isinstance(token, str)
        with self._lock:
            self._expire()
            entry = self._entries.get(_digest(token))
        if entry is None or not hmac.compare_digest(entry[0], _digest(binding)):
            return None
        return entry[2]

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(_digest(token), None)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            key, (_, saved, _) = next(iter(self._entries.items()))
            if now - saved <= self.ttl_s:
                break
            del self._entries[key]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
