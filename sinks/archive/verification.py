"""Tamper evidence in the cold tier: an archived session verifies like one in Elasticsearch.

The same verifier (``sinks.compliance.verification.Verifier``) over the archive's events: the
chain of each event, the signed checkpoints the stream published (from Elasticsearch, checked with
the public keys alone), erased events accepted when a signed erasure lists them (the signing
sessions read from the archive too, which keeps them as long as the tombstones). The archived rows are opened
through the data-key store first (``unsealing``): a forgotten user's read as their tombstones, and
a row whose sealed content was altered reads as unreadable, which the verdict names as modified
(with the reason in its notes). Rows removed from an archived object show as deleted or truncated,
as they would in Elasticsearch.
"""

from __future__ import annotations

from typing import Any

import duckdb
from elasticsearch import Elasticsearch

from agent_audit.core.evidence.verdicts import SessionVerdict
from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.queries import session_timeline
from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.store import ObjectStore
from agent_audit.sinks.archive.unsealing import UNREADABLE, RowOpener, build_row_opener
from agent_audit.sinks.compliance.signed_erasures import listed_ids, signing_prefix
from agent_audit.sinks.compliance.verification import SweepReport, Verifier

__all__ = ["ArchivedEvents", "archive_verifier", "sweep_archive", "verify_archived_session"]


class ArchivedEvents:
    """The verifier's event source: a session's archived rows, opened; remembers unreadable ones."""

    def __init__(self, con: duckdb.DuckDBPyConnection, opener: RowOpener) -> None:
        self.con, self.opener = con, opener
        self.unreadable: list[str] = []

    def __call__(self, names: list[str]) -> list[dict[str, Any]]:
        events = session_timeline(self.con, names, self.opener)
        self.unreadable = [f"seq {e['seq']} unreadable: {e[UNREADABLE]}" for e in events if UNREADABLE in e]
        return events

    def signing(self, receipt: str) -> dict[str, set[str]]:
        """The receipt's signing sessions as archived: they outlive the hot tier's copies."""
        rows = self.con.execute("SELECT event FROM events WHERE starts_with(session_id, ?)",
                                [signing_prefix(receipt)]).fetchall()
        return listed_ids(self.opener.open_all([r[0] for r in rows]))


def archive_verifier(store: ObjectStore, es: Elasticsearch, settings: Settings,
                     opener: RowOpener | None = None) -> tuple[Verifier, ArchivedEvents]:
    """A ``Verifier`` whose events are the archive's (opened), its checkpoints and receipts the trail's."""
    source = ArchivedEvents(open_archive(store), opener or build_row_opener(settings))
    return Verifier(es, settings, source=source, signing=source.signing), source


def verify_archived_session(store: ObjectStore, es: Elasticsearch, settings: Settings, session_id: str,
                            opener: RowOpener | None = None) -> SessionVerdict:
    verifier, source = archive_verifier(store, es, settings, opener)
    verdict = verifier.session(session_id)
    verdict.notes += source.unreadable
    return verdict


def sweep_archive(store: ObjectStore, es: Elasticsearch, settings: Settings, since: str | None,
                  until: str | None, opener: RowOpener | None = None) -> SweepReport:
    """Every session named by a checkpoint closed in the range, verified from its archived rows,
    and each partition's checkpoint chain there (``agent-audit verify --since`` on the cold tier)."""
    verifier, _ = archive_verifier(store, es, settings, opener)
    return verifier.sweep(since, until)
