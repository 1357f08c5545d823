"""Pure halves of the Elasticsearch sink: build a bulk body from Kafka records, classify the answer.

The body reuses each record's bytes as the document source (no decode/re-encode): the stream put
``event_id`` and the event's ``day`` in headers. ``op_type=create`` with ``_id = event_id`` makes
replays harmless: a 409 means "already stored" and counts as success once ``sinks.conflicts``
finds the stored copy commits to the same evidence (else it is a conflicting event id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["BulkItem", "BulkOutcome", "build_body", "chunk_by_bytes", "classify", "item_from_record"]

# Statuses worth retrying: overload, server-side failures, timeouts. Other 4xx are permanent.
_RETRY = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class BulkItem:
    """One document to write; never changed once built. Not ``frozen``: built for every record,
    and a frozen dataclass's ``__init__`` costs three times as much."""
    doc_id: str
    index: str
    source: bytes
    # Versioned documents (metric records) are indexed with external_gte versioning: a replay of
    # the same revision is a no-op, a higher revision replaces it, an older one is refused (409).
    version: int | None = None
    sealed: bytes | None = None  # the record as consumed when ``source`` was decrypted from it


@dataclass
class BulkOutcome:
    stored: int = 0
    duplicates: int = 0
    retry: list[BulkItem] = field(default_factory=list)
    failed: list[tuple[BulkItem, str]] = field(default_factory=list)
    seen: list[BulkItem] = field(default_factory=list)  # answered 409: compared by sinks.conflicts


Headers = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None


def item_from_record(value: bytes, headers: Headers, index_for_day: Callable[[str, str], str],
                     sealed: bytes | None = None) -> BulkItem:
    """Take id and day from headers; fall back to decoding the document if a producer omitted them."""
    sealed = sealed if sealed is not value else None
    meta = dict(headers or ())  # a list of pairs (or a mapping) as consumed; values decoded when used
    day = _text(meta.get("day"))
    if day and (event_id := meta.get("event_id")):  # the stream's events: the hot path, one object
        return BulkItem(_text(event_id), index_for_day(day, "events"), value, None, sealed)
    item = _item(value, meta, day, index_for_day)
    item.sealed = sealed
    return item


def _item(value: bytes, meta: Mapping[str, str | bytes | None], day: str,
          index_for_day: Callable[[str, str], str]) -> BulkItem:
    if day:
        if metric_id := _text(meta.get("metric_id")):
            return BulkItem(metric_id, index_for_day(day, "metrics"), value,
                            int(_text(meta.get("revision")) or 0))
        if alert_id := _text(meta.get("alert_id")):
            return BulkItem(alert_id, index_for_day(day, "alerts"), value)
        if checkpoint_id := _text(meta.get("checkpoint_id")):
            return BulkItem(checkpoint_id, index_for_day(day, "checkpoints"), value)
    doc = orjson.loads(value)
    day = str(doc["timestamp"])[:10].replace("-", ".")
    return BulkItem(str(doc["event_id"]), index_for_day(day, "events"), value)


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def build_body(items: Iterable[BulkItem]) -> bytes:
    """NDJSON: an action line, then the source as it came. A create line is its index's cached
    head plus the JSON-escaped id: 7x faster than dumping a dict per item, the same bytes."""
    parts: list[bytes] = []
    heads: dict[str, bytes] = {}
    dumps = orjson.dumps
    for item in items:
        if item.version is None:
            head = heads.get(item.index)
            if head is None:
                head = heads[item.index] = b'{"create":{"_index":' + dumps(item.index) + b',"_id":'
            parts.append(head + dumps(item.doc_id) + b"}}")
        else:
            parts.append(dumps({"index": {"_index": item.index, "_id": item.doc_id,
                                          "version": item.version, "version_type": "external_gte"}}))
        parts.append(item.source)
    parts.append(b"")
    return b"\n".join(parts)


def classify(items: Sequence[BulkItem], response: dict[str, Any]) -> BulkOutcome:
    """Sort each item of a bulk answer into stored / duplicate / retry / failed (with its reason)."""
    out = BulkOutcome()
    for item, result in zip(items, response.get("items", []), strict=True):
        status = int(next(iter(result.values())).get("status", 0))
        if status in (200, 201):
            out.stored += 1
        elif status == 409:
            out.duplicates += 1
            out.seen.append(item)
        elif status in _RETRY:
            out.retry.append(item)
        else:
            err = next(iter(result.values())).get("error") or {}
            out.failed.append((item, f"es:{status}:{err.get('type', 'unknown')}"))
    return out


def chunk_by_bytes(items: Sequence[BulkItem], max_bytes: int,
                   max_items: int | None = None) -> list[Sequence[BulkItem]]:
    """Split into bulk requests of at most ``max_bytes`` (a lone bigger item goes alone) and items."""
    chunks: list[Sequence[BulkItem]] = []
    start, size = 0, 0
    limit = max_items or len(items)
    for i, item in enumerate(items):
        if size and (size + len(item.source) > max_bytes or i - start >= limit):
            chunks.append(items[start:i])
            start, size = i, 0
        size += len(item.source) + 100  # the action line
    if start < len(items):
        chunks.append(items[start:])
    return chunks
