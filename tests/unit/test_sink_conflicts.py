"""A 409 is a duplicate only when the stored copy commits to the same evidence."""

from __future__ import annotations

import orjson

from agent_audit.sinks.bulk import BulkItem, classify
from agent_audit.sinks.conflicts import CONFLICT, conflict_alert, split_conflicts


def _item(doc_id: str, link: str) -> BulkItem:
    return BulkItem(doc_id, "i", orjson.dumps({"event_id": doc_id, "integrity": {"hash": link}}))


def test_a_409_with_the_same_hash_is_a_duplicate_and_with_another_a_conflict() -> None:
    """Same integrity hash: duplicate; a different hash under the same id: conflicting_event_id."""
    same, other = _item("a", "h1"), _item("b", "h2")
    outcome = classify([same, other], {"items": [{"create": {"status": 409}}, {"create": {"status": 409}}]})
    assert outcome.seen == [same, other]
    stored = {"a": {"integrity": {"hash": "h1"}}, "b": {"integrity": {"hash": "forged"}}}
    assert split_conflicts(outcome.seen, stored) == (1, [(other, CONFLICT)])


def test_checkpoints_conflict_on_their_signature() -> None:
    """A second checkpoint under a taken id with another signature is a conflict too."""
    item = BulkItem("raw/0/3", "i", orjson.dumps({"type": "checkpoint", "signature": "s1"}))
    taken = {"raw/0/3": {"type": "checkpoint", "signature": "s0"}}
    assert split_conflicts([item], taken)[1] == [(item, CONFLICT)]
    assert split_conflicts([item], {"raw/0/3": {"type": "checkpoint", "signature": "s1"}}) == (1, [])


def test_the_conflict_alert_names_the_id_and_is_stable_for_a_replay() -> None:
    """The alert record is keyed by the id and content, so a replayed conflict is one alert."""
    item = _item("a", "h1")
    value, headers = conflict_alert(item)
    again, _ = conflict_alert(item)
    doc = orjson.loads(value)
    assert (doc["rule"], doc["subject"]) == (CONFLICT, "a")
    assert doc["alert_id"] == orjson.loads(again)["alert_id"]
    assert dict(headers)["alert_id"] == doc["alert_id"].encode()
