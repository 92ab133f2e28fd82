"""The audit trail: an HMAC chain that verify() checks, and that tampering breaks."""

import json
from datetime import UTC, datetime

import pytest

from core.compliance.audit import AuditTrail, audit_key, event_hash
from core.i18n import UserError

WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


KEY = b"server audit key for the tests"


def session_trail() -> AuditTrail:
    trail = AuditTrail(key=KEY)
    trail.record("upload", {"name": "people.csv", "sha256": "ab" * 32, "rows": 120}, now=WHEN)
    trail.record("preprocess", {"target": "churn", "dropped": ["name"]}, now=WHEN)
    trail.record("deidentify", {"label": "pseudonymised", "actions": ["mask:phone"]}, now=WHEN)
    trail.record("train", {"epochs": 20, "seed": 0}, now=WHEN)
    trail.record("export", {"what": "report", "format": "html", "encrypted": True}, now=WHEN)
    trail.record("checklist", {"item": "security.backup", "answer": "yes"}, now=WHEN)
    return trail


def test_an_untouched_chain_verifies():
    trail = session_trail()
    result = trail.verify()
    assert result.ok and result.events == 6
    assert trail.events[0].previous == "0" * 64
    assert all(b.previous == a.hash for a, b in zip(trail.events, trail.events[1:], strict=False))
    assert result.message.key == "audit.verify.ok"


@pytest.mark.parametrize(
    ("position", "change"),
    [
        (1, lambda event: {**event, "details": {"target": "income", "dropped": ["name"]}}),
        (0, lambda event: {**event, "time": "2030-01-01T00:00:00+00:00"}),
        (3, lambda event: {**event, "kind": "export"}),
    ],
)
def test_editing_any_event_breaks_the_chain_there(position, change):
    data = json.loads(session_trail().to_json())
    data["events"][position] = change(data["events"][position])
    result = AuditTrail.from_json(json.dumps(data), key=KEY).verify()
    assert not result.ok
    assert result.broken_at == position
    assert result.message.key == "audit.verify.broken"


def test_rehashing_one_event_still_breaks_the_link_to_the_next():
    data = json.loads(session_trail().to_json())
    event = data["events"][2]
    event["details"] = {"label": "anonymised"}
    event["hash"] = event_hash(
        event["index"], event["time"], event["kind"], event["details"], event["previous"], key=KEY
    )
    result = AuditTrail.from_json(json.dumps(data), key=KEY).verify()
    assert (result.ok, result.broken_at) == (False, 3)


def test_removing_or_reordering_events_is_found():
    data = json.loads(session_trail().to_json())
    removed = {"events": data["events"][:2] + data["events"][3:]}
    assert AuditTrail.from_json(json.dumps(removed), key=KEY).verify().broken_at == 2
    swapped = {"events": [data["events"][1], data["events"][0], *data["events"][2:]]}
    assert AuditTrail.from_json(json.dumps(swapped), key=KEY).verify().broken_at == 0


def test_round_trip_through_json_keeps_the_chain():
    trail = session_trail()
    again = AuditTrail.from_json(trail.to_json(), key=KEY)
    assert again.events == trail.events
    assert again.verify().ok


def test_secrets_never_enter_the_trail():
    trail = AuditTrail()
    for details in ({"key": "abc"}, {"export": {"passphrase": "p"}}, {"pseudonym_key": "k"}):
        with pytest.raises(ValueError):
            trail.record("export", details)
    assert len(trail) == 0
    trail.record("deidentify", {"keep_last": 4})  # a setting named like "key" but not one
    assert len(trail) == 1


def test_bad_json_and_unknown_kinds():
    with pytest.raises(UserError):
        AuditTrail.from_json("not json")
    with pytest.raises(ValueError):
        AuditTrail().record("party", {})


def _rechain(events: list[dict], hash_one) -> list[dict]:
    """The whole chain recomputed by someone with `hash_one` (an attacker's idea of the MAC)."""
    previous = "0" * 64
    for position, event in enumerate(events):
        event.update(index=position, previous=previous)
        event["hash"] = hash_one(event)
        previous = event["hash"]
    return events


FORGED_EXPORT = {
    "time": "2025-01-02T03:04:05+00:00",
    "kind": "export",
    "details": {"what": "report", "format": "html", "encrypted": True},
}


@pytest.mark.parametrize(
    "hash_one",
    [
        # the old unkeyed chain: SHA-256 of the canonical JSON
        lambda e: (
            __import__("hashlib")
            .sha256(
                json.dumps(
                    {k: e[k] for k in ("index", "time", "kind", "details", "previous")},
                    sort_keys=True,
                    ensure_ascii=False,
                    separators=(",", ":"),
                ).encode()
            )
            .hexdigest()
        ),
        # the right algorithm under a key the attacker guessed
        lambda e: event_hash(
            e["index"], e["time"], e["kind"], e["details"], e["previous"], key=b"guess"
        ),
    ],
)
def test_a_chain_rewritten_without_the_server_key_does_not_verify(hash_one):
    # Forged: a fake "export (encrypted)" event, the whole chain re-hashed, the upload gone.
    data = json.loads(session_trail().to_json())
    events = [dict(e) for e in data["events"] if e["kind"] != "upload"] + [dict(FORGED_EXPORT)]
    forged = {"events": _rechain(events, hash_one)}
    result = AuditTrail.from_json(json.dumps(forged), key=KEY).verify()
    assert (result.ok, result.broken_at) == (False, 0)


def test_a_trail_verifies_only_under_the_key_it_was_made_with():
    text = session_trail().to_json()
    assert AuditTrail.from_json(text, key=KEY).verify().ok
    assert not AuditTrail.from_json(text, key=b"another server").verify().ok
    assert not AuditTrail.from_json(text).verify().ok  # this process's random key


def test_the_key_comes_from_the_server_or_is_random_per_process():
    configured = audit_key("  s3cret  ")
    assert (configured.key, configured.configured) == (b"s3cret", True)
    for nothing in (None, "", "   ", b""):
        fallback = audit_key(nothing)
        assert not fallback.configured and len(fallback.key) == 32
    assert audit_key(None).key == audit_key("").key, "one random key per process"
    plain = AuditTrail()
    plain.record("note", {"n": 1})
    assert AuditTrail.from_json(plain.to_json(), key=audit_key(None).key).verify().ok


def test_restoring_appends_imported_events_and_keeps_the_session_own():
    # A backup whose chain was forged: the session's real upload must survive.
    own = AuditTrail(key=KEY)
    own.record("upload", {"name": "real.csv", "rows": 3}, now=WHEN)
    forged_events = _rechain(
        [dict(FORGED_EXPORT)],
        lambda e: event_hash(
            e["index"], e["time"], e["kind"], e["details"], e["previous"], key=b"x"
        ),
    )
    backup = AuditTrail.from_json(json.dumps({"events": forged_events}))
    assert own.import_events(backup.events) == 1
    own.record("note", {"restored_backup": {"audit_events": 1}}, now=WHEN)
    kinds = [(e.kind, e.imported) for e in own.events]
    assert kinds == [("upload", False), ("export", True), ("note", False)]
    assert own.events[0].details == {"name": "real.csv", "rows": 3}
    result = own.verify()
    assert result.ok and result.imported == 1
    assert result.message.key == "audit.verify.ok_imported"
    assert result.message.params == {"count": 2, "imported": 1}
    # Re-exported, the imported mark is covered by the MAC: flipping it breaks the chain.
    data = json.loads(own.to_json())
    data["events"][1]["imported"] = False
    assert AuditTrail.from_json(json.dumps(data), key=KEY).verify().broken_at == 1
    assert AuditTrail.from_json(own.to_json(), key=KEY).verify().ok


def test_an_import_with_a_bad_event_appends_nothing():
    own = AuditTrail(key=KEY)
    own.record("upload", {"name": "real.csv"}, now=WHEN)
    good = own.events[0]
    from dataclasses import replace

    for bad in (replace(good, kind="party"), replace(good, details={"api_token": "t"})):
        with pytest.raises(UserError):
            own.import_events([good, bad])
    assert len(own) == 1 and own.verify().ok
