"""The access log: who read what from the audit trail, when, and how many results they got.

Evidence like the events themselves: every entry is first published as an event of the session
``access-<uuid7>`` (one per command run) to the raw topic and flushed, so the stream chains and
checkpoints it with its signing key; then it is written create-only (``_id`` = its event id) to
``{prefix}-access-log``. A read starts only after its ``started`` entry is on the broker, so
interrupting a command (Ctrl-C) still leaves the entry; ``verify --access-log`` compares the
index with the signed copies. ``publish=None`` (tests without a broker) skips the pipeline copy.

One document per entry in ``{prefix}-access-log`` (explicit strict mapping, created on first use).
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

import orjson
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.core.wire import new_event_id, partition_for
from agent_audit.sinks.compliance.store import KW, ensure_index, utc_now
from agent_audit.sinks.queries import scan
from agent_audit.version import __version__

__all__ = ["ACCESS_SESSION_PREFIX", "AccessLog", "access_log_index", "as_event", "kafka_publisher",
           "resolve_actor"]

T = TypeVar("T", bound=Sized)

_MAPPING: dict[str, Any] = {
    "timestamp": {"type": "date"}, "actor": KW, "query": KW,
    "params": {"type": "flattened", "ignore_above": 1024},
    "results": {"type": "long"}, "status": KW, "error": KW, "duration_ms": {"type": "long"},
    "event_id": KW, "session_id": KW, "seq": {"type": "long"},
}
ACCESS_SESSION_PREFIX = "access-"
Publish = Callable[[str, bytes], None]  # (session id, one encoded event), durable when it returns


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
    def __init__(self, es: Elasticsearch, prefix: str, redactor: Redactor,
                 publish: Publish | None = None) -> None:
        self.es = es
        self.index = access_log_index(prefix)
        self.redactor = redactor
        self.publish = publish
        self.session_id = ACCESS_SESSION_PREFIX + new_event_id()
        self._seq = 0
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
                 "results": results, "status": status, "event_id": new_event_id(),
                 "session_id": self.session_id, "seq": self._seq}
        if error:
            entry["error"] = error
        if duration_ms is not None:
            entry["duration_ms"] = duration_ms
        if self.publish is not None:  # on the broker, for the stream to sign, before anything else
            self.publish(self.session_id, orjson.dumps(as_event(entry)))
        self._seq += 1
        self.es.index(index=self.index, id=entry["event_id"], document=entry, op_type="create")
        return entry

    def run(self, actor: str, query: str, params: Mapping[str, Any], read: Callable[[], T]) -> T:
        """Run ``read`` and log it with ``len`` of its result; a failed read is logged as an error."""
        self.ensure()
        start = time.monotonic()
        self.record(actor, query, params, 0, "started")
        try:
            result = read()
        except BaseException as exc:  # Ctrl-C too: the entry says the read was cut short
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
        return _collapsed([hit["_source"] for hit in hits][::-1])


def _collapsed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per read: a ``started`` entry is shown only if its read never finished (Ctrl-C)."""
    done = {(e.get("session_id"), e.get("seq")) for e in entries if e.get("status") != "started"}
    return [e for e in entries if e.get("status") != "started"
            or (e.get("session_id"), int(e.get("seq", -2)) + 1) not in done]


def as_event(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline copy of an access-log entry: an ``input`` event of kind ``access``."""
    details = {k: entry[k] for k in ("actor", "params", "results", "status", "error", "duration_ms")
               if k in entry}
    return {"schema_version": 1, "event_id": entry["event_id"], "kind": "input", "level": "info",
            "timestamp": entry["timestamp"], "session_id": entry["session_id"], "user_id": entry["actor"],
            "agent": {"name": "agent-audit-cli", "version": __version__}, "seq": entry["seq"],
            "payload": {"type": "access", "content": entry["query"], "metadata": details}}


def kafka_publisher(settings: Settings, timeout: float = 10.0) -> Publish:
    """Publish to the raw topic and wait for the broker's ack; a failure raises (no unlogged read)."""
    producer = Producer({**kafka_client_config(settings, "admin"), "enable.idempotence": True})

    def publish(session_id: str, value: bytes) -> None:
        errors: list[str] = []
        partition = partition_for(session_id, settings.raw_partitions)
        producer.produce(settings.topics.raw, value=value, partition=partition,
                         on_delivery=lambda err, _msg: errors.append(err.str()) if err is not None else None)
        if producer.flush(timeout) or errors:
            raise TransientError(f"access log not acknowledged by Kafka: {errors[:1] or 'timeout'}")

    return publish


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
