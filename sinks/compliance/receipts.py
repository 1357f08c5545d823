"""Receipts of what erasure and retention removed, where, when and by whom (``{prefix}-erasure-receipts``).

A receipt names a subject only by a digest and its redacted form, never the identifier itself:
the receipt must not keep what the erasure removed.

An erasure receipt lists every store the subject's data may be in (``stores``), each with an
honest status; it is ``complete`` only when every store is done, ``pending`` (with the date it will
be, when one is known) otherwise. It is stored first as ``running`` (so a crashed run resumes under
the same id, and the tombstones it wrote name a receipt that exists), then replaced when finished.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.sinks.compliance.store import KW, ensure_index, receipts_index

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
    "stores": {"properties": {"store": KW, "kind": KW, "status": KW, "documents": {"type": "long"},
                              "until": {"type": "date"}, "detail": {"type": "text"},
                              "objects": {"type": "long"}, "expires": {"type": "date"}}},
    "pending_until": {"type": "date"}, "running": {"type": "boolean"},
}
_DONE = frozenset({"erased", "shredded", "no user data", "pseudonymized", "operator action"})


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
    stores: list[dict[str, Any]] = field(default_factory=list)  # erasure: every store and its status
    running: bool = False  # stored before the work, so a crashed run resumes under the same id

    @property
    def total_removed(self) -> int:
        return sum(r["documents"] for r in self.removed)

    @property
    def total_kept_under_hold(self) -> int:
        return sum(r["documents"] for r in self.kept_under_hold)

    @property
    def status(self) -> str:
        """complete: nothing in scope is left; pending: a store is not done yet (a topic still to
        expire, a legal hold, an index that could not be opened); partial (retention): a hold kept some."""
        if self.running:
            return "running"
        if self.stores:
            return "complete" if all(s["status"] in _DONE for s in self.stores) else "pending"
        return "partial" if self.kept_under_hold else "complete"

    @property
    def pending_until(self) -> str | None:
        """When the last dated store will be done (a topic's expiry), if every pending one has a date."""
        pending = [s for s in self.stores if s["status"] not in _DONE]
        if not pending or any(not s.get("until") for s in pending):
            return None
        return max(str(s["until"]) for s in pending)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "total_removed": self.total_removed,
                "total_kept_under_hold": self.total_kept_under_hold, "pending_until": self.pending_until}


def store_receipt(es: Elasticsearch, prefix: str, receipt: Receipt, replace: bool = False) -> None:
    """Store a new receipt (``replace``: finish the running one stored under the same id)."""
    ensure_index(es, receipts_index(prefix), _MAPPING)
    es.indices.put_mapping(index=receipts_index(prefix), properties={  # indices made before them
        k: _MAPPING[k] for k in ("stores", "pending_until", "running")})
    es.index(index=receipts_index(prefix), id=receipt.receipt_id, document=receipt.to_json(),
             op_type="index" if replace else "create", refresh=True)  # rare writes: visible at once
