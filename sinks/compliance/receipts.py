"""Receipts of what erasure and retention removed, where, when and by whom (``{prefix}-erasure-receipts``).

A receipt names a subject only by a digest and its redacted form, never the identifier itself:
the receipt must not keep what the erasure removed.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from agent_audit.sinks.compliance.store import KW, ensure_index, receipts_index
from elasticsearch import Elasticsearch

__all__ = ["Receipt", "per_index", "store_receipt"]

_PER_INDEX = {"properties": {"index": KW, "documents": {"type": "long"}}}
_MAPPING: dict[str, Any] = {
    "receipt_id": KW, "action": KW, "status": KW,
    "subject_digest": KW, "subject_stored_form": KW,
    "requested_by": KW, "started_at": {"type": "date"}, "finished_at": {"type": "date"},
    "families_checked": KW, "indices_checked": {"type": "long"}, "indices_deleted": KW,
    "removed": _PER_INDEX, "total_removed": {"type": "long"},
    "kept_under_hold": _PER_INDEX, "total_kept_under_hold": {"type": "long"},
    "notes": {"type": "text"},
}


def per_index(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"index": name, "documents": n} for name, n in sorted(counts.items()) if n]


@dataclass(frozen=True)
class Receipt:
    action: str  # "erasure" | "retention"
    requested_by: str
    started_at: str
    finished_at: str
    families_checked: list[str]
    indices_checked: int
    removed: list[dict[str, Any]]  # [{index, documents}], documents deleted (whole indices included)
    kept_under_hold: list[dict[str, Any]]
    indices_deleted: list[str] = field(default_factory=list)
    subject_digest: str | None = None
    subject_stored_form: str | None = None  # the redacted form, when redaction changed the id
    notes: list[str] = field(default_factory=list)
    receipt_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def total_removed(self) -> int:
        return sum(r["documents"] for r in self.removed)

    @property
    def total_kept_under_hold(self) -> int:
        return sum(r["documents"] for r in self.kept_under_hold)

    @property
    def status(self) -> str:
        """complete: nothing in scope is left; partial: a legal hold kept some of it."""
        return "partial" if self.kept_under_hold else "complete"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "total_removed": self.total_removed,
                "total_kept_under_hold": self.total_kept_under_hold}


def store_receipt(es: Elasticsearch, prefix: str, receipt: Receipt) -> None:
    ensure_index(es, receipts_index(prefix), _MAPPING)
    es.index(index=receipts_index(prefix), id=receipt.receipt_id, document=receipt.to_json(),
             op_type="create", refresh=True)  # rare writes: visible at once
