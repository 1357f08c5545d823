"""Erasures signed through the pipeline: a tombstone counts only if the stream signed its event's id.

An erasure receipt is an ordinary Elasticsearch document: an insider who can write there could
blank any event and name a genuine receipt. So forget publishes, to the raw topic, the ids it
turned into tombstones, as the events of a session ``erasure-<receipt>-<run>`` closed by an end
event; the stream chains and checkpoints them like any event (the access log works the same way).
``verify`` accepts a tombstone under receipt R only when its id is listed by an intact, complete
signing session of R; one listed by a session not checkpointed yet is pending, not a pass.

Each run signs what is not signed yet for every receipt of the subject, so running forget again
covers what was erased after the first run (a late copy the sink turned into a tombstone).
Whoever may publish to the raw topic can also publish a signing session: in a secured deployment
only forget's principal (the admin) should be allowed to, which the ACLs cannot tell apart today.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from agent_audit import __version__
from agent_audit.core.wire import new_event_id
from agent_audit.sinks.compliance.store import utc_now
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import scan

__all__ = ["ERASURE_SESSION_PREFIX", "erasure_events", "listed_ids", "sign_erasures", "signing_prefix",
           "signing_sessions", "tombstones_of"]

ERASURE_SESSION_PREFIX = "erasure-"
CHUNK = 500  # ids per event: about 19 kB of UUIDs, far below any event size limit
Publish = Callable[[str, bytes], None]


def erasure_events(receipt: str, actor: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """One signing session: the ids in chunks, then the end event that closes it."""
    session = f"{ERASURE_SESSION_PREFIX}{receipt}-{new_event_id()}"
    chunks = [list(ids[i:i + CHUNK]) for i in range(0, len(ids), CHUNK)]
    events = [_event(session, seq, actor, "input", {
        "type": "erasure", "content": f"erasure {receipt}",
        "metadata": {"receipt": receipt, "erased": chunk}}) for seq, chunk in enumerate(chunks)]
    events.append(_event(session, len(chunks), actor, "end", {"final_seq": len(chunks)}))
    return events


def _event(session: str, seq: int, actor: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": new_event_id(), "kind": kind, "level": "info",
            "timestamp": utc_now(), "session_id": session, "user_id": actor,
            "agent": {"name": "agent-audit-cli", "version": __version__}, "seq": seq, "payload": payload}


def tombstones_of(es: Elasticsearch, prefix: str, receipt: str) -> set[str]:
    """The ids of the events stored as tombstones under ``receipt``."""
    query = {"bool": {"filter": [{"term": {"erased.receipt": receipt}}]}}
    with closing(scan(es, events_alias(prefix), query)) as hits:
        return {str(h["_source"]["event_id"]) for h in hits}


def signing_prefix(receipt: str) -> str:
    return f"{ERASURE_SESSION_PREFIX}{receipt}-"


def signing_sessions(es: Elasticsearch, prefix: str, receipt: str) -> dict[str, set[str]]:
    """Each signing session of ``receipt`` stored in Elasticsearch, with the ids it lists."""
    query = {"bool": {"filter": [{"prefix": {"session_id": signing_prefix(receipt)}}]}}
    with closing(scan(es, events_alias(prefix), query)) as hits:
        return listed_ids(hit["_source"] for hit in hits)


def listed_ids(events: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """The ids each signing session's events list, by session."""
    out: dict[str, set[str]] = {}
    for doc in events:
        metadata = (doc.get("payload") or {}).get("metadata") or {}
        listed = metadata.get("erased") if isinstance(metadata, Mapping) else None
        out.setdefault(str(doc["session_id"]), set()).update(
            str(i) for i in (listed if isinstance(listed, list) else []))
    return out


def sign_erasures(es: Elasticsearch, prefix: str, receipts: Iterable[str], actor: str, publish: Publish,
                  also: dict[str, set[str]] | None = None) -> int:
    """Publish a signing session per receipt for its tombstones (and ``also``: ids erased elsewhere,
    the archive's) not listed yet; returns how many ids were published."""
    published = 0
    for receipt in receipts:
        listed = set().union(*signing_sessions(es, prefix, receipt).values())
        ids = sorted((tombstones_of(es, prefix, receipt) | (also or {}).get(receipt, set())) - listed)
        if not ids:
            continue
        for event in erasure_events(receipt, actor, ids):
            publish(str(event["session_id"]), orjson.dumps(event))
        published += len(ids)
    return published
