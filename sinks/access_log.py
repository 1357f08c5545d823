"""The access log: who read what from the audit trail, when, and how many results they got.

One document per query in ``{prefix}-access-log`` (explicit strict mapping, created on first use).
Parameters are stored redacted with the stream's own redactor, so the log holds identifiers only in
the form the events hold them and never a raw email, phone or secret typed into a search; results
are counted, never copied.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Mapping, Sized
from typing import Any, TypeVar

from agent_audit.core.redaction import Redactor
from agent_audit.sinks.compliance.store import KW, ensure_index, utc_now
from agent_audit.sinks.queries import scan
from elasticsearch import Elasticsearch

__all__ = ["AccessLog", "access_log_index", "resolve_actor"]

T = TypeVar("T", bound=Sized)

_MAPPING: dict[str, Any] = {
    "timestamp": {"type": "date"}, "actor": KW, "query": KW,
    "params": {"type": "flattened", "ignore_above": 1024},
    "results": {"type": "long"}, "status": KW, "error": KW, "duration_ms": {"type": "long"},
}


def access_log_index(prefix: str) -> str:
    return f"{prefix}-access-log"


def resolve_actor(explicit: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``--actor``, else ``AUDIT_ACTOR``, else the operating-system user."""
    env = os.environ if env is None else env
    if explicit:
        return explicit
    if env.get("AUDIT_ACTOR"):
        return env["AUDIT_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): still say something true
        return f"uid:{os.getuid()}"


class AccessLog:
    def __init__(self, es: Elasticsearch, prefix: str, redactor: Redactor) -> None:
        self.es = es
        self.index = access_log_index(prefix)
        self.redactor = redactor
        self._ready = False

    def ensure(self) -> None:
        """Create the index if needed; call before a query so an unloggable read never starts."""
        if not self._ready:
            ensure_index(self.es, self.index, _MAPPING)
            self._ready = True

    def record(self, actor: str, query: str, params: Mapping[str, Any], results: int, status: str = "ok",
               error: str | None = None, duration_ms: int | None = None) -> dict[str, Any]:
        self.ensure()
        clean, _ = self.redactor.redact_value({k: v for k, v in params.items() if v is not None})
        entry = {"timestamp": utc_now(), "actor": actor, "query": query, "params": clean,
                 "results": results, "status": status}
        if error:
            entry["error"] = error
        if duration_ms is not None:
            entry["duration_ms"] = duration_ms
        self.es.index(index=self.index, document=entry)
        return entry

    def run(self, actor: str, query: str, params: Mapping[str, Any], read: Callable[[], T]) -> T:
        """Run ``read`` and log it with ``len`` of its result; a failed read is logged as an error."""
        self.ensure()
        start = time.monotonic()
        try:
            result = read()
        except Exception as exc:
            self.record(actor, query, params, 0, "error", type(exc).__name__, _ms(start))
            raise
        self.record(actor, query, params, len(result), duration_ms=_ms(start))
        return result

    def entries(self, actor: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (optionally one actor's), oldest first."""
        if not self.es.indices.exists(index=self.index):
            return []
        self.es.indices.refresh(index=self.index)
        query = {"term": {"actor": actor}} if actor else {"match_all": {}}
        hits = scan(self.es, self.index, query, [{"timestamp": "desc"}], limit=limit)
        return [hit["_source"] for hit in hits][::-1]


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
