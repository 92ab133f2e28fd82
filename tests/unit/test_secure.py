"""Encrypted export: AES-GCM under a scrypt key; wrong passphrases and damage are user errors."""

import pytest

from core.compliance.secure import DEFAULT_LOG2_N, decrypt, encrypt, is_encrypted
from core.i18n import UserError

FAST = 12  # tests use a cheaper scrypt cost, except the one round trip at the default


def test_round_trip_at_the_default_cost():
    data = "报告 report ✓".encode() * 100
    blob = encrypt(data, "correct horse battery")
    assert is_encrypted(blob)
    assert blob[8] == DEFAULT_LOG2_N
    assert data not in blob
    assert decrypt(blob, "correct horse battery") == data


def test_each_encryption_is_salted_and_different():
    first = encrypt(b"same", "passphrase!", log2_n=FAST)
    second = encrypt(b"same", "passphrase!", log2_n=FAST)
    assert first != second
    assert decrypt(first, "passphrase!") == decrypt(second, "passphrase!") == b"same"


def test_wrong_passphrase_is_a_user_error():
    blob = encrypt(b"secret", "right passphrase", log2_n=FAST)
    with pytest.raises(UserError) as error:
        decrypt(blob, "wrong passphrase")
    assert error.value.message.key == "secure.error.wrong_passphrase"


@pytest.mark.parametrize("position", [9, 20, 40, -1])
def test_any_changed_byte_is_detected(position):
    blob = bytearray(encrypt(b"model bundle bytes", "passphrase!", log2_n=FAST))
    blob[position] ^= 1
    with pytest.raises(UserError):
        decrypt(bytes(blob), "passphrase!")


def test_not_our_format_and_short_passphrases():
    with pytest.raises(UserError) as error:
        decrypt(b"PK\x03\x04 a zip file, not encrypted" * 3, "passphrase!")
    assert error.value.message.key == "secure.error.not_encrypted"
    with pytest.raises(UserError):
        encrypt(b"x", "short")


def test_a_crafted_huge_cost_is_refused():
    blob = bytearray(encrypt(b"x", "passphrase!", log2_n=FAST))
    blob[8] = 40
    with pytest.raises(UserError):
        decrypt(bytes(blob), "passphrase!")


@pytest.mark.parametrize(("log2_n", "r", "p"), [(20, 32, 1), (20, 8, 1), (17, 32, 1), (12, 8, 16)])
def test_only_the_cost_encrypt_writes_is_accepted(log2_n, r, p):
    # A hostile file sets the cost: 55 bytes with N = 2**20, r = 32 took 21.6 s and 4.1 GB.
    blob = bytearray(encrypt(b"x", "passphrase!", log2_n=FAST))
    blob[8], blob[9], blob[10] = log2_n, r, p
    with pytest.raises(UserError) as error:
        decrypt(bytes(blob), "passphrase!")
    assert error.value.message.key == "secure.error.not_encrypted"


def test_decrypts_beyond_the_concurrency_cap_are_refused(monkeypatch):
    import threading

    from core.compliance import secure

    monkeypatch.setattr(secure, "_DECRYPT_SLOTS", threading.BoundedSemaphore(1))
    blob = encrypt(b"x", "passphrase!", log2_n=FAST)
    assert secure._DECRYPT_SLOTS.acquire(blocking=False)
    try:
        with pytest.raises(UserError) as error:
            decrypt(blob, "passphrase!")
        assert error.value.message.key == "secure.error.busy"
    finally:
        secure._DECRYPT_SLOTS.release()
    assert decrypt(blob, "passphrase!") == b"x"
