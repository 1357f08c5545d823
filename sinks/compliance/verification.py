"""Tamper evidence, read side: re-check a session's hash chain over the events as stored."""

from __future__ import annotations

from contextlib import closing

from agent_audit.core.integrity import ChainHasher, Verdict, verify_chain
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.identifiers import redactor_for, stored_form
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import scan
from elasticsearch import Elasticsearch

__all__ = ["verify_session"]


def verify_session(es: Elasticsearch, settings: Settings, session_id: str) -> Verdict:
    """Intact, or broken / missing at the first bad seq (events streamed in seq order, any count)."""
    form = stored_form(session_id, redactor_for(settings))
    key = settings.integrity_key.encode() if settings.integrity_key else None
    query = {"bool": {"filter": [{"terms": {"session_id": form.lookup_values()}}]}}
    with closing(scan(es, events_alias(settings.index_prefix), query, [{"seq": "asc"}])) as hits:
        return verify_chain((hit["_source"] for hit in hits), ChainHasher(key))
