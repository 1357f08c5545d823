"""Valid v1 events for tests, built by hand (independent of the producer client under test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agent_audit.core.wire import new_event_id

BASE_TIME = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def event(kind: str, seq: int, *, session: str = "s-1", user: str = "u-1",
          payload: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
    defaults: dict[str, dict[str, Any]] = {
        "input": {"type": "text", "content": "hello"},
        "reasoning": {"thought": "look it up", "plan": ["search"], "confidence": 0.7},
        "tool_call": {"tool_name": "search_kb", "parameters": {"q": "refund"},
                      "result": {"hits": 3}, "status": "success", "duration_ms": 42.0},
        "output": {"type": "text", "content": "done",
                   "metadata": {"tokens_used": 120, "model": "m-1", "cost": 0.002}},
        "error": {"type": "TimeoutError", "message": "tool timed out", "tool_name": "search_kb"},
    }
    ts = (at or BASE_TIME + timedelta(milliseconds=seq * 10)).isoformat().replace("+00:00", "Z")
    return {
        "schema_version": 1,
        "event_id": new_event_id(),
        "kind": kind,
        "level": "error" if kind == "error" else "info",
        "timestamp": ts,
        "session_id": session,
        "user_id": user,
        "agent": {"name": "test-agent", "version": "1.0"},
        "seq": seq,
        "payload": payload if payload is not None else defaults[kind],
    }
