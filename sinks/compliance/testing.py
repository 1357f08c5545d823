"""Test helpers shipped with the code: store events as the pipeline would, without running it.

``store_events`` chains events per session (``core.integrity.SessionChains``, as the stream does)
and bulk-indexes them into the daily index of the given day with the real templates, so tests of
queries and compliance run against a real Elasticsearch in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.sinks.indices import event_index, install_templates

__all__ = ["store_events"]


def store_events(es: Elasticsearch, prefix: str, events: Iterable[dict[str, Any]], day: str | None = None,
                 integrity_key: bytes | None = None, family: str = "events") -> list[dict[str, Any]]:
    """Chain, index (``_id = event_id``) and refresh; ``day`` defaults to each event's own date.
    Returns the documents as stored."""
    install_templates(es, prefix)
    chains = SessionChains(ChainHasher(integrity_key))
    stored = [chains.apply(ev) for ev in sorted(events, key=lambda e: (e["session_id"], e["seq"]))]
    operations: list[dict[str, Any]] = []
    for doc in stored:
        index = event_index(prefix, day or doc["timestamp"][:10].replace("-", "."), family)
        operations += [{"create": {"_index": index, "_id": doc["event_id"]}}, doc]
    if operations:
        resp = es.bulk(operations=operations, refresh=True)
        if resp["errors"]:
            failed = next(i for i in resp["items"] if i["create"].get("error"))
            raise AssertionError(f"bulk create failed: {failed}")
    return stored
