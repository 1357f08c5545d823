"""A retired session's chain head, recovered from the events Elasticsearch stored.

The stream forgets a session idle for ``AUDIT_SESSION_IDLE_S`` (``stream.state``). When a late
event of it arrives, ``StoredHeads`` reads the session's last ``ChainState.RECENT`` stored events
(highest ``seq`` first, only ``seq`` and ``integrity``) and rebuilds the state: the head is the
last link the stream made (highest checkpoint position; the chain runs in arrival order), so the
late event links exactly as it would have. It runs only for a session the stream does not know met at a
``seq`` above 0: a rare path, one small search each. Nothing stored: ``None`` (the chain starts
there). Elasticsearch unreachable or the answer unreadable: it raises, and the processor
dead-letters the event for a later replay rather than link it to a guessed head.

Events still on their way to the index when a session is retired would be missed; the idle time
(a day by default) is far longer than the sink's lag, which is what makes this safe.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.core.es_security import elasticsearch_options
from agent_audit.core.integrity import ChainState
from agent_audit.core.settings import Settings

__all__ = ["StoredHeads"]


class StoredHeads:
    def __init__(self, settings: Settings, es: Elasticsearch | None = None) -> None:
        self.index = f"{settings.index_prefix}-events"  # sinks.indices.events_alias
        self.es = es or Elasticsearch(**elasticsearch_options(settings), request_timeout=10, max_retries=1)
        self.lookups = 0

    def __call__(self, session: str) -> ChainState | None:
        self.lookups += 1
        resp = self.es.search(index=self.index, size=ChainState.RECENT, sort=[{"seq": "desc"}],
                              query={"term": {"session_id": session}},
                              source_includes=["seq", "integrity"], ignore_unavailable=True)
        return head_from_hits(resp["hits"]["hits"])


def head_from_hits(hits: list[dict[str, Any]]) -> ChainState | None:
    """The chain state from stored events (any order); None when there are none.

    Links are ordered as the stream made them: by checkpoint and leaf where the events carry a
    position, else by seq."""
    links = []
    for hit in hits:
        seq, integrity = int(hit["_source"]["seq"]), hit["_source"].get("integrity") or {}
        number, leaf = int(integrity.get("checkpoint", -1)), int(integrity.get("leaf", -1))
        links.append(((number, leaf, seq), (seq, str(integrity["hash"]), integrity.get("prev_hash"),
                                             number, leaf)))
    if not links:
        return None
    recent = tuple(link for _, link in sorted(links))
    head = recent[-1]
    return ChainState(max(r[0] for r in recent), head[1], recent[-ChainState.RECENT:], head[3])
