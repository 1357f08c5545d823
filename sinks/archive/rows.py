"""From an ``agent.events`` record to an archive row, and rows to an Arrow table: one place each.

A row keeps the event exactly as the stream published it (``event``: its JSON, so restore gives
Elasticsearch the same document and the hash chain verifies over the same content), beside typed
columns for the questions asked in SQL (who, when, what kind, which tool, how long). Every column
but ``event`` is a copy of a field of it.

``event_to_row`` is the one conversion: where per-user encrypted content is to be decrypted (or
kept as ciphertext) before archiving, that step goes there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from agent_audit.core.errors import InvalidEvent

__all__ = ["SCHEMA", "event_to_row", "row_to_event", "rows_to_table"]

SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("kind", pa.string()),
    ("level", pa.string()),
    ("session_id", pa.string()),
    ("user_id", pa.string()),
    ("agent_name", pa.string()),
    ("agent_version", pa.string()),
    ("seq", pa.int64()),
    ("trace_id", pa.string()),
    ("tool_name", pa.string()),  # tool_call and error events
    ("status", pa.string()),  # tool_call: success | error
    ("duration_ms", pa.float64()),
    ("model", pa.string()),  # output events
    ("tokens_used", pa.int64()),
    ("cost", pa.float64()),
    ("hash", pa.string()),
    ("prev_hash", pa.string()),
    ("event", pa.string()),  # the event's JSON as published on agent.events
])


def event_to_row(value: bytes) -> dict[str, Any]:
    """One archive row; ``InvalidEvent`` if the record is not an event (no payload text in it)."""
    try:
        ev = orjson.loads(value)
        payload = ev.get("payload") or {}
        meta = (payload.get("metadata") or {}) if ev["kind"] == "output" else {}
        integrity = ev.get("integrity") or {}
        agent = ev.get("agent") or {}
        return {
            "event_id": str(ev["event_id"]),
            "timestamp": datetime.fromisoformat(ev["timestamp"]),
            "kind": ev["kind"],
            "level": ev.get("level", "info"),
            "session_id": ev["session_id"],
            "user_id": ev["user_id"],
            "agent_name": agent.get("name"),
            "agent_version": agent.get("version"),
            "seq": int(ev["seq"]),
            "trace_id": ev.get("trace_id"),
            "tool_name": payload.get("tool_name"),
            "status": payload.get("status") if ev["kind"] == "tool_call" else None,
            "duration_ms": payload.get("duration_ms"),
            "model": meta.get("model"),
            "tokens_used": meta.get("tokens_used"),
            "cost": meta.get("cost"),
            "hash": integrity.get("hash"),
            "prev_hash": integrity.get("prev_hash"),
            "event": value.decode(),
        }
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
        raise InvalidEvent("archive: not a decodable event") from None


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)


def row_to_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event as published (what restore indexes and verification hashes)."""
    event: dict[str, Any] = orjson.loads(row["event"])
    return event
