"""Tamper evidence in the cold tier: an archived session verifies like one in Elasticsearch.

The same verifier (``sinks.compliance.verification.Verifier``) over the archive's events: the
chain of each event, the signed checkpoints the stream published (from Elasticsearch, checked with
the public keys alone), erased events accepted under a known receipt. The archived rows are opened
through the data-key store first (``unsealing``): a forgotten user's read as their tombstones, and
a row whose sealed content was altered reads as unreadable, which the verdict names as modified.
Rows removed from an archived object show as deleted or truncated, as they would in Elasticsearch.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from agent_audit.core.evidence.verdicts import SessionVerdict
from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.queries import session_timeline
from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.store import ObjectStore
from agent_audit.sinks.archive.unsealing import RowOpener, build_row_opener
from agent_audit.sinks.compliance.verification import Verifier

__all__ = ["archive_verifier", "verify_archived_session"]


def archive_verifier(store: ObjectStore, es: Elasticsearch, settings: Settings,
                     opener: RowOpener | None = None) -> Verifier:
    """A ``Verifier`` whose events are the archive's (opened), its checkpoints and receipts the trail's."""
    con = open_archive(store)
    rows = opener or build_row_opener(settings)
    return Verifier(es, settings, source=lambda names: session_timeline(con, names, rows))


def verify_archived_session(store: ObjectStore, es: Elasticsearch, settings: Settings, session_id: str,
                            opener: RowOpener | None = None) -> SessionVerdict:
    return archive_verifier(store, es, settings, opener).session(session_id)
