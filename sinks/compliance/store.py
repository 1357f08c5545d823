"""The compliance records' own indices: one index each, explicit strict mappings, created on first use.

They are not daily data indices (no ``-YYYY.MM.DD`` suffix), so retention and erasure never touch
them: receipts, holds and the access log are the evidence those operations leave behind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

__all__ = ["KW", "ensure_index", "holds_index", "receipts_index", "utc_now"]

KW: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds, the timestamp of every compliance record."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def receipts_index(prefix: str) -> str:
    return f"{prefix}-erasure-receipts"


def holds_index(prefix: str) -> str:
    return f"{prefix}-legal-holds"


def ensure_index(es: Elasticsearch, name: str, properties: dict[str, Any], replicas: int = 0) -> None:
    """Create ``name`` with this mapping unless it exists (idempotent, safe against a racing creator)."""
    if es.indices.exists(index=name):
        return
    try:
        es.indices.create(index=name, settings={"number_of_shards": 1, "number_of_replicas": replicas},
                          mappings={"dynamic": "strict", "properties": properties})
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
