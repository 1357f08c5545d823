"""Legal holds: named sessions or users whose events retention must keep, stored in
``{prefix}-legal-holds``. Released holds stay in the index (with who released them, and when) as a
record; only active ones exempt anything.

A hold stores the identifier as the stream stored it (redacted), never a raw email or phone, and
its forms under earlier redaction keys (``also``), so it keeps covering documents written before a
key rotation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from agent_audit.core.redaction import Redactor
from agent_audit.sinks.compliance.identifiers import identifier_query, stored_form
from agent_audit.sinks.compliance.store import KW, ensure_index, holds_index, utc_now
from agent_audit.sinks.queries import scan

__all__ = ["FIELD_OF_SCOPE", "Hold", "HoldStore", "held_query"]

FIELD_OF_SCOPE = {"session": "session_id", "user": "user_id"}

_MAPPING: dict[str, Any] = {
    "hold_id": KW, "scope": KW, "value": KW, "also": KW, "specific": {"type": "boolean"},
    "reason": {"type": "text"}, "status": KW,
    "created_at": {"type": "date"}, "created_by": KW,
    "released_at": {"type": "date"}, "released_by": KW,
}


@dataclass(frozen=True)
class Hold:
    hold_id: str
    scope: str  # "session" | "user"
    value: str  # the identifier as stored in the events
    specific: bool  # False: a shared placeholder ("[EMAIL]"), which holds every such subject
    reason: str
    created_at: str
    created_by: str
    status: str = "active"
    released_at: str | None = None
    released_by: str | None = None
    also: tuple[str, ...] = ()  # the identifier under earlier redaction-key versions

    def values(self) -> list[str]:
        return [self.value, *self.also]

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if k == "also" else v for k, v in asdict(self).items()
                if v is not None and v != ()}


def held_query(holds: Sequence[Hold]) -> dict[str, Any] | None:
    """Documents any active hold covers, or None when nothing is held."""
    should = []
    for scope, field in FIELD_OF_SCOPE.items():
        values = sorted({v for h in holds if h.scope == scope and h.status == "active" for v in h.values()})
        if values:
            should.append(identifier_query(field, values))
    return {"bool": {"should": should, "minimum_should_match": 1}} if should else None


class HoldStore:
    def __init__(self, es: Elasticsearch, prefix: str, redactor: Redactor) -> None:
        self.es = es
        self.index = holds_index(prefix)
        self.redactor = redactor

    def add(self, scope: str, identifier: str, reason: str, actor: str) -> Hold:
        if scope not in FIELD_OF_SCOPE:
            raise ValueError(f"scope must be one of {sorted(FIELD_OF_SCOPE)}, got {scope!r}")
        ensure_index(self.es, self.index, _MAPPING)
        self.es.indices.put_mapping(index=self.index, properties={"also": KW})  # indices made before it
        form = stored_form(identifier, self.redactor)
        clean_reason, _ = self.redactor.redact_text(reason)  # a reason may quote a person
        hold = Hold(uuid.uuid4().hex, scope, form.stored, form.specific, clean_reason, utc_now(), actor,
                    also=form.older)
        self.es.index(index=self.index, id=hold.hold_id, document=hold.to_json(), op_type="create",
                      refresh=True)  # rare writes: visible at once
        return hold

    def list(self, include_released: bool = False) -> list[Hold]:
        if not self.es.indices.exists(index=self.index):
            return []
        query = {"match_all": {}} if include_released else {"term": {"status": "active"}}
        hits = scan(self.es, self.index, query, [{"created_at": "asc"}])
        return [_hold(hit["_source"]) for hit in hits]

    def release(self, hold_id: str, actor: str) -> Hold | None:
        """Mark a hold released (kept as a record); None if there is no such hold."""
        try:
            current = self.es.get(index=self.index, id=hold_id)["_source"]
        except NotFoundError:
            return None
        if current["status"] == "released":
            return _hold(current)
        change = {"status": "released", "released_at": utc_now(), "released_by": actor}
        self.es.update(index=self.index, id=hold_id, doc=change, refresh=True)
        return _hold({**current, **change})


def _hold(source: dict[str, Any]) -> Hold:
    return Hold(**{**source, "also": tuple(source.get("also", ()))})
