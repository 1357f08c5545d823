"""Right to be forgotten: remove a user's documents from every index, with a receipt.

This Elasticsearch has no ``_delete_by_query`` (and a full one would do the same work): a
point-in-time search collects the ids, bulk deletes remove them. Running it again removes nothing
and says so. The receipt (what was removed where, when, by whom) is stored and returned; it names
the user only by a hash, so the receipt index does not keep the identifier it erased.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

__all__ = ["forget_user"]

PAGE = 1000


def forget_user(es: Elasticsearch, prefix: str, user_ids: list[str], actor: str) -> dict[str, Any]:
    """Delete every document whose ``user_id`` is one of ``user_ids`` (raw and redacted forms)."""
    pattern = f"{prefix}-events-*"
    removed: Counter[str] = Counter()
    if es.indices.exists(index=pattern, allow_no_indices=False, ignore_unavailable=True):
        matches = _matching(es, pattern, user_ids)
        for start in range(0, len(matches), PAGE):
            _delete(es, matches[start:start + PAGE])
        removed.update(index for index, _ in matches)
        es.indices.refresh(index=pattern)
    receipt = {
        "user_hash": hashlib.sha256(user_ids[0].encode()).hexdigest(),
        "removed": dict(removed), "total": sum(removed.values()),
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "actor": actor,
    }
    es.index(index=f"{prefix}-erasure-receipts", document=receipt, refresh=True)
    return receipt


def _matching(es: Elasticsearch, pattern: str, user_ids: list[str]) -> list[tuple[str, str]]:
    pit = es.open_point_in_time(index=pattern, keep_alive="1m")["id"]
    found: list[tuple[str, str]] = []
    after: list[Any] | None = None
    try:
        while True:
            resp = es.search(size=PAGE, pit={"id": pit, "keep_alive": "1m"}, source=False,
                             query={"terms": {"user_id": user_ids}}, sort=["_shard_doc"],
                             search_after=after)
            hits = resp["hits"]["hits"]
            found += [(h["_index"], h["_id"]) for h in hits]
            if len(hits) < PAGE:
                return found
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)


def _delete(es: Elasticsearch, batch: list[tuple[str, str]]) -> None:
    resp = es.bulk(operations=[{"delete": {"_index": index, "_id": doc_id}} for index, doc_id in batch])
    failures = [i for i in resp["items"] if i["delete"].get("status") not in (200, 404)]
    if failures:
        raise RuntimeError(f"{len(failures)} deletions failed; run forget again (it is idempotent)")
