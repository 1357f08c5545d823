"""An erasure receipt is complete only when every store is done; pending says until when, if known."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_audit.core.settings import Settings
from agent_audit.sinks.bulk import item_from_record
from agent_audit.sinks.compliance.rawtopic import RawTruncation
from agent_audit.sinks.compliance.reach import kafka_stores, spool_store
from agent_audit.sinks.compliance.receipts import Receipt

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _receipt(stores: list[dict[str, object]]) -> Receipt:
    return Receipt("erasure", "dpo", "t0", "t1", ["events"], 1, [], [], stores=stores)


def test_every_store_done_is_complete() -> None:
    """Shredded topics, erased indices, content-free topics and the spool instructions: complete."""
    stores = [*kafka_stores(Settings(), AT, 1, RawTruncation(deleted=5, unprocessed=0)), spool_store(),
              {"store": "agent-events-2026.11.25", "status": "erased"}]
    receipt = _receipt(stores)
    assert (receipt.status, receipt.pending_until) == ("complete", None)


def test_unprocessed_raw_records_leave_it_pending_until_they_expire() -> None:
    """Raw records the stream has not processed yet: pending until retention + segment + check."""
    settings = Settings(raw_retention_ms=86_400_000)
    receipt = _receipt(kafka_stores(settings, AT, 1, RawTruncation(deleted=0, unprocessed=3)))
    assert receipt.status == "pending"
    assert receipt.pending_until == "2026-12-02T01:05:00Z"  # + 1 day + 1 h segment + 5 min check


def test_a_hold_or_an_unopened_index_is_pending_without_a_date() -> None:
    """A store waiting on people (a hold's release, an index to open) has no date to promise."""
    held = _receipt([{"store": "agent-legal-holds", "status": "held"},
                     {"store": "x", "status": "expiring", "until": "2026-12-02T00:00:00Z"}])
    assert (held.status, held.pending_until) == ("pending", None)
    assert _receipt([{"store": "agent-events-2026.01.01", "status": "pending"}]).status == "pending"


def test_a_running_receipt_says_running() -> None:
    """The receipt stored before the work is marked running until the run replaces it."""
    receipt = Receipt("erasure", "dpo", "t0", "t1", [], 0, [], [], running=True)
    assert receipt.status == "running"


def test_the_sink_keeps_the_sealed_record_for_its_dead_letters() -> None:
    """A document decrypted for indexing remembers the sealed bytes: a refusal dead-letters those."""
    item = item_from_record(b'{"plain":1}', [("event_id", b"e1"), ("day", b"2026.11.25")],
                            lambda day, family: f"agent-{family}-{day}", b'{"sealed":{}}')
    assert item.sealed == b'{"sealed":{}}' and item.source == b'{"plain":1}'
    same = b'{"plain":1}'
    assert item_from_record(same, [("event_id", b"e1"), ("day", b"d")], lambda d, f: "i", same).sealed is None
