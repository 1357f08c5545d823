"""Tamper evidence in the cold tier: a session's hash chain re-checked over its archived events.

The archive keeps each event exactly as published, so the chain the stream computed verifies here
as it does in Elasticsearch (``sinks.compliance.verification``), with the same key.
"""

from __future__ import annotations

from agent_audit.core.integrity import ChainHasher, Verdict, verify_chain
from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.queries import session_timeline
from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.store import ObjectStore
from agent_audit.sinks.compliance.identifiers import redactor_for, stored_form

__all__ = ["verify_archived_session"]


def verify_archived_session(store: ObjectStore, settings: Settings, session_id: str) -> Verdict:
    """Intact, or broken / missing at the first bad seq, over the archived events in seq order."""
    form = stored_form(session_id, redactor_for(settings))
    key = settings.integrity_key.encode() if settings.integrity_key else None
    events = session_timeline(open_archive(store), form.lookup_values())
    return verify_chain(events, ChainHasher(key))
