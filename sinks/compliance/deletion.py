"""Deleting documents by query without ``_delete_by_query``: point-in-time search for ids, bulk delete.

Works on every Elasticsearch. A sealed index (``index.blocks.write``) is opened for the deletion and
sealed again afterwards, even if the deletion fails: erasure and retention must reach old data too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.core.errors import TransientError
from agent_audit.sinks.queries import scan

__all__ = ["count_by_index", "delete_matching", "writable"]


def count_by_index(es: Elasticsearch, prefix: str, query: dict[str, Any],
                   among: Iterable[str]) -> dict[str, int]:
    """Matching documents per index, for the indices named in ``among`` only (one request)."""
    allowed = set(among)
    if not allowed:
        return {}
    resp = es.search(index=f"{prefix}-*", size=0, query=query, ignore_unavailable=True,
                     allow_no_indices=True, expand_wildcards="open",
                     aggs={"per_index": {"terms": {"field": "_index", "size": 10_000}}})
    buckets = resp.get("aggregations", {}).get("per_index", {}).get("buckets", [])
    return {b["key"]: b["doc_count"] for b in buckets if b["key"] in allowed}


@contextmanager
def writable(es: Elasticsearch, index: str, sealed: bool) -> Iterator[None]:
    if not sealed:
        yield
        return
    es.indices.put_settings(index=index, settings={"index.blocks.write": False})
    try:
        yield
    finally:
        es.indices.put_settings(index=index, settings={"index.blocks.write": True})


def delete_matching(es: Elasticsearch, index: str, query: dict[str, Any], *, sealed: bool = False,
                    page: int = 1000) -> int:
    """Delete the documents of ``index`` matching ``query``; returns how many were deleted."""
    deleted = 0
    with writable(es, index, sealed):
        ids: list[str] = []
        for hit in scan(es, index, query, source=False, page=page):
            ids.append(hit["_id"])
            if len(ids) >= page:
                deleted += _bulk_delete(es, index, ids)
                ids = []
        if ids:
            deleted += _bulk_delete(es, index, ids)
        es.indices.refresh(index=index)  # the next search (and a second run) sees the deletion
    return deleted


def _bulk_delete(es: Elasticsearch, index: str, ids: list[str]) -> int:
    resp = es.bulk(operations=[{"delete": {"_index": index, "_id": i}} for i in ids])
    deleted = 0
    for item in resp["items"]:
        result = item["delete"]
        if result.get("result") == "deleted":
            deleted += 1
        elif result.get("status") != 404:  # 404: already gone (a concurrent run), which is the goal
            raise TransientError(f"bulk delete in {index} failed: {result.get('error')}")
    return deleted
