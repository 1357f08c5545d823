"""Erasure in place in Elasticsearch: a user's events become tombstones, other documents go.

An event (a document with a chain link) is replaced under the same ``_id`` by its tombstone
(``core.sealing.tombstone``: identity, position and link, ``erased {receipt, at}``, no content),
so its session still verifies; a document of another family is deleted. Tombstones are excluded
from the next search, so a second run, or a run resumed after a crash, only finds what is left.

Every daily index is reached: a sealed one is made writable for the time it takes and sealed
again; a closed one is opened and closed again (if it cannot be opened, it is reported pending).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from agent_audit.core.errors import TransientError
from agent_audit.core.sealing import tombstone
from agent_audit.sinks.compliance.deletion import writable
from agent_audit.sinks.queries import scan

__all__ = ["IndexErasure", "closed_indices", "erase_in_index", "opened", "unerased"]

_ERASED = {"properties": {"receipt": {"type": "keyword"}, "at": {"type": "date"}}}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class IndexErasure:
    index: str
    tombstoned: int
    deleted: int


def unerased(query: dict[str, Any]) -> dict[str, Any]:
    """``query`` minus what an erasure already turned into a tombstone."""
    return {"bool": {"filter": [query], "must_not": [{"exists": {"field": "erased"}}]}}


def closed_indices(es: Elasticsearch, prefix: str) -> list[str]:
    names = es.indices.get_settings(index=f"{prefix}-*", name="index.uuid", expand_wildcards="closed",
                                    allow_no_indices=True)
    return sorted(names)


@contextmanager
def opened(es: Elasticsearch, index: str) -> Iterator[None]:
    """A closed index opened for the time of the block, closed again afterwards."""
    es.indices.open(index=index, wait_for_active_shards="1")
    try:
        yield
    finally:
        es.indices.close(index=index)


def erase_in_index(es: Elasticsearch, index: str, query: dict[str, Any], receipt: str, at: str, *,
                   sealed: bool = False, page: int = 500, progress: Progress | None = None) -> IndexErasure:
    """Tombstone the events and delete the other documents of ``index`` matching ``query``."""
    tombstoned = deleted = 0
    with writable(es, index, sealed):
        es.indices.put_mapping(index=index, properties={"erased": _ERASED})  # strict mappings made before
        ops: list[dict[str, Any]] = []
        for hit in scan(es, index, unerased(query), page=page):
            doc = hit["_source"]
            if "seq" in doc and "event_id" in doc:
                ops += [{"index": {"_index": index, "_id": hit["_id"]}}, tombstone(doc, receipt, at)]
                tombstoned += 1
            else:
                ops.append({"delete": {"_index": index, "_id": hit["_id"]}})
                deleted += 1
            if len(ops) >= 2 * page:
                _bulk(es, index, ops)
                ops = []
                if progress:
                    progress(f"{index}: {tombstoned + deleted} erased so far")
        if ops:
            _bulk(es, index, ops)
        es.indices.refresh(index=index)  # the next search (and a second run) sees the erasure
    return IndexErasure(index, tombstoned, deleted)


def _bulk(es: Elasticsearch, index: str, ops: list[dict[str, Any]]) -> None:
    try:
        resp = es.bulk(operations=ops)
    except ApiError as exc:
        raise TransientError(f"bulk erasure in {index} failed: http {exc.meta.status}") from exc
    for item in resp["items"]:
        result = next(iter(item.values()))
        if result.get("status", 500) >= 300 and result.get("status") != 404:  # 404: already gone
            raise TransientError(f"bulk erasure in {index} failed: {(result.get('error') or {}).get('type')}")
