"""A retired session's chain head, recovered from the events Elasticsearch stored.

The stream forgets a session idle for ``AUDIT_SESSION_IDLE_S`` (``stream.state``). When a late
event of it arrives, ``StoredHeads`` reads the session's last ``ChainState.RECENT`` stored events
(highest ``seq`` first, only ``seq`` and ``integrity.hash``) and rebuilds the head, so the late
event links exactly as it would have. It runs only for a session the stream does not know met at a
``seq`` above 0: a rare path, one small search each. Nothing stored: ``None`` (the chain starts
there). Elasticsearch unreachable or the answer unreadable: it raises, and the processor
dead-letters the event for a later replay rather than link it to a guessed head.

Events still on their way to the index when a session is retired would be missed; the idle time
(a day by default) is far longer than the sink's lag, which is what makes this safe.
"""

from __future__ import annotations

from typing import Any

from agent_audit.core.integrity import ChainState
from agent_audit.core.settings import Settings
from elasticsearch import Elasticsearch

__all__ = ["StoredHeads"]


class StoredHeads:
    def __init__(self, settings: Settings, es: Elasticsearch | None = None) -> None:
        self.index = f"{settings.index_prefix}-events"  # sinks.indices.events_alias
        self.es = es or Elasticsearch(settings.es_url, api_key=settings.es_api_key, request_timeout=10,
                                      max_retries=1)
        self.lookups = 0

    def __call__(self, session: str) -> ChainState | None:
        self.lookups += 1
        resp = self.es.search(index=self.index, size=ChainState.RECENT, sort=[{"seq": "desc"}],
                              query={"term": {"session_id": session}},
                              source_includes=["seq", "integrity.hash"], ignore_unavailable=True)
        return head_from_hits(resp["hits"]["hits"])


def head_from_hits(hits: list[dict[str, Any]]) -> ChainState | None:
    """The head from stored events, newest first as searched; None when there are none."""
    pairs = sorted((int(h["_source"]["seq"]), str(h["_source"]["integrity"]["hash"])) for h in hits)
    if not pairs:
        return None
    return ChainState(pairs[-1][0], tuple(pairs))
