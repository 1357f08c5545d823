"""The right to erasure: remove a user's documents from every daily data index, leave a receipt.

Every family is checked generically: an index whose mapping has ``user_id`` is searched for the
user's id as given and as the stream stored it (redacted). Documents under an active legal hold are
kept, and the receipt says how many and where. Running it again removes nothing more (idempotent)
and leaves a second receipt saying so.

The receipt (``{prefix}-erasure-receipts``) records what was removed where, when and by whom; it
names the subject only by a digest and the redacted form, never the identifier itself.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from core.settings import Settings
from sinks.compliance.deletion import count_by_index, delete_matching
from sinks.compliance.families import daily_indices, indices_with_field, sealed_indices
from sinks.compliance.holds import HoldStore, held_query
from sinks.compliance.identifiers import redactor_for, stored_form, subject_digest
from sinks.compliance.store import KW, ensure_index, receipts_index

__all__ = ["Receipt", "forget"]

_PER_INDEX = {"properties": {"index": KW, "documents": {"type": "long"}}}
_MAPPING: dict[str, Any] = {
    "receipt_id": KW, "action": KW, "status": KW,
    "subject_digest": KW, "subject_stored_form": KW,
    "requested_by": KW, "started_at": {"type": "date"}, "finished_at": {"type": "date"},
    "families_checked": KW, "indices_checked": {"type": "long"},
    "removed": _PER_INDEX, "total_removed": {"type": "long"},
    "kept_under_hold": _PER_INDEX, "total_kept_under_hold": {"type": "long"},
    "notes": {"type": "text"},
}


@dataclass(frozen=True)
class Receipt:
    receipt_id: str
    subject_digest: str
    subject_stored_form: str | None  # the redacted form, when redaction changed the id
    requested_by: str
    started_at: str
    finished_at: str
    families_checked: list[str]
    indices_checked: int
    removed: list[dict[str, Any]]
    kept_under_hold: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    action: str = "erasure"

    @property
    def total_removed(self) -> int:
        return sum(r["documents"] for r in self.removed)

    @property
    def total_kept_under_hold(self) -> int:
        return sum(r["documents"] for r in self.kept_under_hold)

    @property
    def status(self) -> str:
        """complete: nothing of this user is left that erasure could reach."""
        return "partial" if self.kept_under_hold else "complete"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "total_removed": self.total_removed,
                "total_kept_under_hold": self.total_kept_under_hold}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _per_index(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"index": name, "documents": n} for name, n in sorted(counts.items()) if n]


def forget(es: Elasticsearch, settings: Settings, user_id: str, actor: str) -> Receipt:
    """Delete ``user_id``'s documents everywhere erasure may reach; store and return the receipt."""
    started = _now()
    prefix = settings.index_prefix
    form = stored_form(user_id, redactor_for(settings))
    notes = []
    if not form.specific:
        notes.append(f"user ids like this one are stored as the shared placeholder {form.stored}: "
                     "documents holding only the placeholder cannot be attributed to this user and were "
                     "left alone (set AUDIT_REDACTION_KEY so ids are stored as keyed tokens)")
    daily = daily_indices(es, prefix)
    candidates = {d.name for d in daily} & indices_with_field(es, prefix, "user_id")
    user_q = {"terms": {"user_id": form.lookup_values()}}
    held = held_query(HoldStore(es, prefix, redactor_for(settings)).list())
    erase_q = {"bool": {"filter": [user_q], "must_not": [held] if held else []}}
    kept = count_by_index(es, prefix, {"bool": {"filter": [user_q, held]}}, candidates) if held else {}
    to_erase = count_by_index(es, prefix, erase_q, candidates)
    sealed = sealed_indices(es, prefix) if to_erase else set()
    removed = {name: delete_matching(es, name, erase_q, sealed=name in sealed) for name in sorted(to_erase)}
    if kept:
        notes.append("documents under an active legal hold were kept; run forget again once it is released")
    receipt = Receipt(
        receipt_id=uuid.uuid4().hex, subject_digest=subject_digest(user_id, settings),
        subject_stored_form=form.stored if form.redacted else None, requested_by=actor,
        started_at=started, finished_at=_now(), families_checked=sorted({d.family for d in daily}),
        indices_checked=len(candidates), removed=_per_index(removed), kept_under_hold=_per_index(kept),
        notes=notes)
    ensure_index(es, receipts_index(prefix), _MAPPING)
    es.index(index=receipts_index(prefix), id=receipt.receipt_id, document=receipt.to_json(),
             op_type="create", refresh="wait_for")
    return receipt
