"""From an ``agent.events`` record to an archive row, and rows to an Arrow table: one place each.

A row keeps the record exactly as it came from Kafka (``event``): the user's content sealed under
their data key (``core.sealing``), so destroying the key erases the row's content wherever the file
is, without rewriting immutable objects. Beside it, typed columns for the questions asked in SQL,
holding nothing personal: the clear fields the stream itself leaves unsealed (ids, kind, level,
time, agent, seq, chain links) and, read from the opened event, the operational figures of tool
calls and outputs (tool, status, duration, model, tokens, cost). The user appears only as the
data key's ``subject`` (a keyed digest, the name forget and the receipt use).

Files written before sealing reached the archive hold the opened event in ``event`` and the user
id in ``user_id``; they read through the same schema (their ``subject`` is null, a new row's
``user_id`` and ``trace_id`` are). ``event_to_row`` is the one conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from agent_audit.core.errors import InvalidEvent

__all__ = ["SCHEMA", "event_to_row", "rows_to_table"]

SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("kind", pa.string()),
    ("level", pa.string()),
    ("session_id", pa.string()),
    ("user_id", pa.string()),  # unsealed records only (files of the previous layout, unsealed topics)
    ("agent_name", pa.string()),
    ("agent_version", pa.string()),
    ("seq", pa.int64()),
    ("trace_id", pa.string()),  # unsealed records only
    ("tool_name", pa.string()),  # tool_call and error events
    ("status", pa.string()),  # tool_call: success | error
    ("duration_ms", pa.float64()),
    ("model", pa.string()),  # output events
    ("tokens_used", pa.int64()),
    ("cost", pa.float64()),
    ("hash", pa.string()),
    ("prev_hash", pa.string()),
    ("event", pa.string()),  # the record as it came from agent.events (sealed), JSON
    ("subject", pa.string()),  # the data key's subject of a sealed record (keyed digest of the user)
])


def event_to_row(value: bytes, opened: bytes | None = None) -> dict[str, Any]:
    """One archive row of the record ``value``; ``opened`` is the event inside it when sealed (None:
    not readable, so only the clear fields fill columns). ``InvalidEvent`` if it is not an event."""
    try:
        clear = orjson.loads(value)
        head = clear.get("sealed")
        ev = orjson.loads(opened) if head is not None and opened is not None else clear
        payload = ev.get("payload") or {}
        meta = (payload.get("metadata") or {}) if ev["kind"] == "output" else {}
        integrity = clear.get("integrity") or {}
        agent = clear.get("agent") or {}
        return {
            "event_id": str(clear["event_id"]),
            "timestamp": datetime.fromisoformat(clear["timestamp"]),
            "kind": clear["kind"],
            "level": clear.get("level", "info"),
            "session_id": clear["session_id"],
            "user_id": None if head is not None else clear["user_id"],
            "agent_name": agent.get("name"),
            "agent_version": agent.get("version"),
            "seq": int(clear["seq"]),
            "trace_id": None if head is not None else clear.get("trace_id"),
            "tool_name": payload.get("tool_name"),
            "status": payload.get("status") if ev["kind"] == "tool_call" else None,
            "duration_ms": payload.get("duration_ms"),
            "model": meta.get("model"),
            "tokens_used": meta.get("tokens_used"),
            "cost": meta.get("cost"),
            "hash": integrity.get("hash"),
            "prev_hash": integrity.get("prev_hash"),
            "event": value.decode(),
            "subject": str(head["subject"]) if head is not None else None,
        }
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
        raise InvalidEvent("archive: not a decodable event") from None


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)
