"""Test helper shipped with the code: store events *and* their signed checkpoint, as the pipeline would.

``store_signed_events`` links the events (``core.integrity.SessionChains``) into one checkpoint of
partition 0, signs it with the given key and bulk-indexes events and checkpoint with the real
templates: tests of verification, proofs and erasure run against a real Elasticsearch in
milliseconds, without the stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from agent_audit.core.evidence.checkpoint import OpenCheckpoint
from agent_audit.core.evidence.signing import SigningKey
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.settings import Topics
from agent_audit.sinks.indices import event_index, install_templates

__all__ = ["store_signed_events"]


def store_signed_events(es: Elasticsearch, prefix: str, events: Iterable[dict[str, Any]], key: SigningKey,
                        topic_prefix: str = "") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Index the linked events and one signed checkpoint covering them; return both as stored."""
    install_templates(es, prefix)
    cp = OpenCheckpoint(Topics.with_prefix(topic_prefix).raw, 0, opened_at=0.0)
    chains = SessionChains(ChainHasher(key.derive(b"salt")), leaves=cp)
    ordered = sorted(events, key=lambda e: (e["session_id"], e["seq"]))
    stored = [orjson.loads(chains.apply_encoded(ev)[1]) for ev in ordered]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = cp.close(key, now, now)
    operations: list[dict[str, Any]] = []
    for doc in stored:
        index = event_index(prefix, doc["timestamp"][:10].replace("-", "."))
        operations += [{"create": {"_index": index, "_id": doc["event_id"]}}, doc]
    day = now[:10].replace("-", ".")
    operations += [{"create": {"_index": event_index(prefix, day, "checkpoints"),
                               "_id": record["checkpoint_id"]}}, record]
    resp = es.bulk(operations=operations, refresh=True)
    if resp["errors"]:
        failed = next(i for i in resp["items"] if i["create"].get("error"))
        raise AssertionError(f"bulk create failed: {failed}")
    return stored, record
