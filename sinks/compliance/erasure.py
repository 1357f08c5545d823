"""The right to erasure: remove a user's documents from every daily data index, leave a receipt.

Every family is checked generically: an index whose mapping has ``user_id`` is searched for the
user's id as given and as the stream stored it (redacted). Documents under an active legal hold are
kept, and the receipt says how many and where. Running it again removes nothing more (idempotent)
and leaves a second receipt saying so.
"""

from __future__ import annotations

from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.deletion import count_by_index, delete_matching
from agent_audit.sinks.compliance.families import daily_indices, indices_with_field, sealed_indices
from agent_audit.sinks.compliance.holds import HoldStore, held_query
from agent_audit.sinks.compliance.identifiers import (
    identifier_query,
    redactor_for,
    stored_form,
    subject_digest,
)
from agent_audit.sinks.compliance.receipts import Receipt, per_index, store_receipt
from agent_audit.sinks.compliance.store import utc_now
from elasticsearch import Elasticsearch

__all__ = ["forget"]


def forget(es: Elasticsearch, settings: Settings, user_id: str, actor: str) -> Receipt:
    """Delete ``user_id``'s documents everywhere erasure may reach; store and return the receipt."""
    started = utc_now()
    prefix = settings.index_prefix
    form = stored_form(user_id, redactor_for(settings))
    notes = []
    if not form.specific:
        notes.append(f"user ids like this one are stored as the shared placeholder {form.stored}: "
                     "documents holding only the placeholder cannot be attributed to this user and were "
                     "left alone (set AUDIT_REDACTION_KEY so ids are stored as keyed tokens)")
    daily = daily_indices(es, prefix)
    candidates = {d.name for d in daily} & indices_with_field(es, prefix, "user_id")
    user_q = identifier_query("user_id", form.lookup_values())
    held = held_query(HoldStore(es, prefix, redactor_for(settings)).list())
    erase_q = {"bool": {"filter": [user_q], "must_not": [held] if held else []}}
    kept = count_by_index(es, prefix, {"bool": {"filter": [user_q, held]}}, candidates) if held else {}
    to_erase = count_by_index(es, prefix, erase_q, candidates)
    sealed = sealed_indices(es, prefix) if to_erase else set()
    removed = {name: delete_matching(es, name, erase_q, sealed=name in sealed) for name in sorted(to_erase)}
    if kept:
        notes.append("documents under an active legal hold were kept; run forget again once it is released")
    receipt = Receipt(
        action="erasure", requested_by=actor, started_at=started, finished_at=utc_now(),
        families_checked=sorted({d.family for d in daily}), indices_checked=len(candidates),
        removed=per_index(removed), kept_under_hold=per_index(kept),
        subject_digest=subject_digest(user_id, settings),
        subject_stored_form=form.stored if form.redacted else None, notes=notes)
    store_receipt(es, prefix, receipt)
    return receipt
