"""What erasure can say of the stores it does not rewrite: the Kafka topics and the agents' spools.

- ``agent.events`` and the DLQ hold the user's content only sealed under their data key: destroyed
  at T, every copy there is unreadable from T (workers that cached the key drop it by T + the cache).
- The raw topic holds unredacted envelopes that cannot be rewritten: what the stream processed is
  deleted by forget (``rawtopic``); what it has not yet expires. A record is gone at most retention
  + segment roll + the broker's retention check after it was written, so the receipt dates that.
- The state, metrics, partials and alerts topics hold no user content (hashes keyed by session,
  per-tool aggregates).
- Agent spools sit on the agents' hosts: out of reach. A replayed spooled event of the user is
  shredded on arrival (its key is destroyed), but the files hold it raw until replayed or deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.rawtopic import RawTruncation

__all__ = ["RETENTION_CHECK_MS", "kafka_stores", "spool_store"]

RETENTION_CHECK_MS = 300_000  # Kafka's log.retention.check.interval.ms default


def _rfc3339(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def kafka_stores(settings: Settings, destroyed_at: datetime, subjects: int,
                 raw: RawTruncation) -> list[dict[str, Any]]:
    t = settings.topics
    shredded_by = _rfc3339(destroyed_at + timedelta(seconds=settings.key_cache_s))
    raw_gone = destroyed_at + timedelta(milliseconds=settings.raw_retention_ms + settings.raw_segment_ms
                                        + RETENTION_CHECK_MS)
    sealed = f"{subjects} data key(s) destroyed at {_rfc3339(destroyed_at)}: every copy is unreadable"
    no_content = "holds no user content"
    return [
        {"store": t.events, "kind": "kafka", "status": "shredded", "until": shredded_by, "detail": sealed},
        {"store": t.dlq, "kind": "kafka", "status": "shredded", "until": shredded_by,
         "detail": sealed + " (dead letters naming no user were redacted as text)"},
        _raw_store(t.raw, raw, _rfc3339(raw_gone)),
        {"store": t.state, "kind": "kafka", "status": "no user data",
         "detail": no_content + " (hash-chain heads keyed by the session id as stored, metric windows)"},
        *({"store": name, "kind": "kafka", "status": "no user data",
           "detail": no_content + " (per-tool aggregates)"} for name in (t.metrics, t.partials, t.alerts)),
    ]


def _raw_store(topic: str, raw: RawTruncation, gone: str) -> dict[str, Any]:
    detail = (f"{raw.deleted} record(s) the stream had processed deleted (DeleteRecords); "
              "a later spool replay of this user's events would sit here, unredacted, until its retention")
    if raw.unprocessed:
        return {"store": topic, "kind": "kafka", "status": "expiring", "until": gone,
                "documents": raw.unprocessed, "detail": f"{raw.unprocessed} record(s) not yet processed "
                "by the stream expire by then (the stream shreds this user's among them); " + detail}
    return {"store": topic, "kind": "kafka", "status": "erased", "documents": raw.deleted, "detail": detail}


def spool_store() -> dict[str, Any]:
    return {"store": "agent spools (AUDIT_SPOOL_DIR on each agent host)", "kind": "agent",
            "status": "operator action",
            "detail": "not reachable from here. Spooled events of this user are shredded on arrival when "
                      "replayed; to remove the files sooner, let each agent replay its spool (restore "
                      "Kafka access) or delete its AUDIT_SPOOL_DIR files written before the forget"}
