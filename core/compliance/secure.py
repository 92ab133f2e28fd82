"""Encrypted export: AES-256-GCM under a key derived from a passphrase with scrypt.

Layout of an encrypted file (all of it authenticated; the header is GCM's associated data):

    MAGIC (8 bytes) | log2 N (1) | r (1) | p (1) | salt (16) | nonce (12) | ciphertext + tag

The scrypt cost travels in the header, but decryption accepts only what `encrypt` writes
(r = 8, p = 1, N at most 2**17: 128 MiB): a crafted header cannot make one click allocate
gigabytes or run for seconds. At most MAX_CONCURRENT_DECRYPTS derivations run at once in the
process; one more is refused with a message rather than queued.
A wrong passphrase and a damaged file look the same to GCM: both fail the tag check.
"""

from __future__ import annotations

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.i18n import UserError

MAGIC = b"MDESK\x00E1"
DEFAULT_LOG2_N = 17  # scrypt N = 2**17, r = 8: 128 MiB and ~0.3 s, OWASP's recommendation
MAX_LOG2_N = DEFAULT_LOG2_N  # 128 * r * N bytes = 128 MiB at most
MAX_CONCURRENT_DECRYPTS = 2
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
NONCE_BYTES = 12
MIN_PASSPHRASE_CHARS = 8
FILE_SUFFIX = ".mdenc"
_HEADER = len(MAGIC) + 3 + SALT_BYTES + NONCE_BYTES
_DECRYPT_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_DECRYPTS)


def encrypt(data: bytes, passphrase: str, *, log2_n: int = DEFAULT_LOG2_N) -> bytes:
    """`data` encrypted under `passphrase` (AES-256-GCM, scrypt-derived key, random salt)."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UserError("secure.error.short_passphrase", min=MIN_PASSPHRASE_CHARS)
    if not 10 <= log2_n <= MAX_LOG2_N:
        raise ValueError(f"log2_n must be between 10 and {MAX_LOG2_N}")
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    header = MAGIC + bytes([log2_n, SCRYPT_R, SCRYPT_P]) + salt + nonce
    key = _derive(passphrase, salt, log2_n, SCRYPT_R, SCRYPT_P)
    return header + AESGCM(key).encrypt(nonce, data, header)


def decrypt(blob: bytes, passphrase: str) -> bytes:
    """The plaintext of an `encrypt` result; UserError for a wrong passphrase or damaged file."""
    if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise UserError("secure.error.not_encrypted")
    header = blob[:_HEADER]
    log2_n, r, p = header[len(MAGIC)], header[len(MAGIC) + 1], header[len(MAGIC) + 2]
    if not (10 <= log2_n <= MAX_LOG2_N and r == SCRYPT_R and p == SCRYPT_P):
        raise UserError("secure.error.not_encrypted")
    salt = header[len(MAGIC) + 3 : len(MAGIC) + 3 + SALT_BYTES]
    nonce = header[-NONCE_BYTES:]
    if not _DECRYPT_SLOTS.acquire(blocking=False):
        raise UserError("secure.error.busy")
    try:
        key = _derive(passphrase, salt, log2_n, r, p)
    finally:
        _DECRYPT_SLOTS.release()
    try:
        return AESGCM(key).decrypt(nonce, blob[_HEADER:], header)
    except InvalidTag:
        raise UserError("secure.error.wrong_passphrase") from None


def is_encrypted(blob: bytes) -> bool:
    """Whether `blob` starts like an `encrypt` result."""
    return blob.startswith(MAGIC)


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p)
    return kdf.derive(passphrase.encode("utf-8"))
