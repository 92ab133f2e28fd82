"""The audit trail: a hash chain that verify() checks, and that tampering breaks."""

import json
from datetime import UTC, datetime

import pytest

from core.compliance.audit import AuditTrail, event_hash
from core.i18n import UserError

WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def session_trail() -> AuditTrail:
    trail = AuditTrail()
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
    result = AuditTrail.from_json(json.dumps(data)).verify()
    assert not result.ok
    assert result.broken_at == position
    assert result.message.key == "audit.verify.broken"


def test_rehashing_one_event_still_breaks_the_link_to_the_next():
    data = json.loads(session_trail().to_json())
    event = data["events"][2]
    event["details"] = {"label": "anonymised"}
    event["hash"] = event_hash(
        event["index"], event["time"], event["kind"], event["details"], event["previous"]
    )
    result = AuditTrail.from_json(json.dumps(data)).verify()
    assert (result.ok, result.broken_at) == (False, 3)


def test_removing_or_reordering_events_is_found():
    data = json.loads(session_trail().to_json())
    removed = {"events": data["events"][:2] + data["events"][3:]}
    assert AuditTrail.from_json(json.dumps(removed)).verify().broken_at == 2
    swapped = {"events": [data["events"][1], data["events"][0], *data["events"][2:]]}
    assert AuditTrail.from_json(json.dumps(swapped)).verify().broken_at == 0


def test_round_trip_through_json_keeps_the_chain():
    trail = session_trail()
    again = AuditTrail.from_json(trail.to_json())
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
