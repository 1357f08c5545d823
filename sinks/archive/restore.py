"""Restore: re-index an archived time range into Elasticsearch, for an investigation past hot retention.

Idempotent: each event goes to its daily index with ``_id = event_id`` and ``op_type=create``, so
events still there (or restored before) answer 409 and count as already present; running it twice
stores nothing twice. The documents are the events as published, opened through the data-key store
(``unsealing``), so their hash chains verify as they did before retention removed them; a
forgotten user's come back as their erasure tombstones (what the sink indexes for them), and a row
that opens to neither is left out and counted (``unreadable``). Overload (429, 5xx) is retried.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.store import ObjectStore
from agent_audit.sinks.archive.unsealing import UNREADABLE, RowOpener
from agent_audit.sinks.bulk import BulkItem, build_body, chunk_by_bytes, classify
from agent_audit.sinks.indices import event_index, install_templates

__all__ = ["RestoreResult", "restore"]

_PAGE = 5000


@dataclass(frozen=True)
class RestoreResult:
    read: int
    stored: int
    already_present: int
    refused: list[str]  # "event_id: reason" for documents Elasticsearch refused for good
    erased: int = 0  # restored as erasure tombstones (their user was forgotten)
    unreadable: int = 0  # left out: no key was ever stored, or the archived record was altered

    def to_json(self) -> dict[str, Any]:
        return {"read": self.read, "stored": self.stored, "already_present": self.already_present,
                "refused": self.refused, "erased": self.erased, "unreadable": self.unreadable}


def restore(store: ObjectStore, es: Elasticsearch, prefix: str, since: str, until: str,
            opener: RowOpener) -> RestoreResult:
    """Events with ``since <= timestamp < until`` (ISO 8601) from the archive into ``prefix``'s indices."""
    start, end = datetime.fromisoformat(since), datetime.fromisoformat(until)
    install_templates(es, prefix)
    con = open_archive(store, start.date(), end.date())
    cursor = con.execute("SELECT event_id, strftime(timestamp, '%Y.%m.%d'), event FROM events "
                         "WHERE timestamp >= ? AND timestamp < ?", [start, end])  # streamed: no ORDER BY
    read = stored = present = erased = unreadable = 0
    refused: list[str] = []
    while rows := cursor.fetchmany(_PAGE):
        events = opener.open_all([event for _, _, event in rows])
        read += len(rows)
        items = []
        for (eid, day, _), event in zip(rows, events, strict=True):
            if UNREADABLE in event:
                unreadable += 1
                continue
            erased += "erased" in event
            items.append(BulkItem(eid, event_index(prefix, day), orjson.dumps(event)))
        for chunk in chunk_by_bytes(items, 8 * 1024 * 1024):
            s, p, failed = _write(es, chunk)
            stored, present = stored + s, present + p
            refused += failed
    es.indices.refresh(index=f"{prefix}-events-*", ignore_unavailable=True, allow_no_indices=True)
    return RestoreResult(read, stored, present, refused, erased, unreadable)


def _write(es: Elasticsearch, items: Any) -> tuple[int, int, list[str]]:
    pending, stored, present, refused, backoff = list(items), 0, 0, [], 0.2
    while pending:
        resp = es.bulk(operations=build_body(pending))  # type: ignore[arg-type]  # NDJSON bytes
        outcome = classify(pending, dict(resp.body))
        stored, present = stored + outcome.stored, present + outcome.duplicates
        refused += [f"{item.doc_id}: {reason}" for item, reason in outcome.failed]
        pending = outcome.retry
        if pending:
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
    return stored, present, refused
