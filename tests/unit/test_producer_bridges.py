"""Bridges from the tools agents already use: stdlib logging, structlog (OpenTelemetry: test_otel_bridge)."""

from __future__ import annotations

import logging
import uuid

import orjson
import structlog

from agent_audit.core.contract import validate_event
from agent_audit.producers import AuditTrail, MemoryTransport
from agent_audit.producers.logging_bridge import AuditLogHandler
from agent_audit.producers.structlog_bridge import AuditProcessor


def _trail() -> tuple[AuditTrail, MemoryTransport]:
    t = MemoryTransport()
    trail = AuditTrail(session_id=f"s-{uuid.uuid4().hex}", user_id="u", agent="a", transport=t, level="debug")
    return trail, t


def _events(t: MemoryTransport) -> list[dict]:  # type: ignore[type-arg]
    events = [orjson.loads(e) for e in t.events]
    for e in events:
        validate_event(e)
    return events


def test_log_records_become_reasoning_and_exceptions_become_errors() -> None:
    """logger.info -> reasoning at info; logger.exception -> error with the stack trace."""
    trail, t = _trail()
    log = logging.getLogger("agent-under-test")
    log.setLevel(logging.DEBUG)
    log.addHandler(AuditLogHandler(trail))
    log.info("looking up order %s", 42)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("lookup failed")
    first, second = _events(t)
    assert (first["kind"], first["payload"]["thought"]) == ("reasoning", "looking up order 42")
    assert first["level"] == "info"
    assert second["kind"] == "error"
    assert second["payload"]["type"] == "ZeroDivisionError"
    assert "lookup failed" in second["payload"]["message"]


def test_structlog_events_are_recorded_and_passed_on_unchanged() -> None:
    """The processor records the event and returns the dict for the next processor."""
    trail, t = _trail()
    captured: list[dict] = []  # type: ignore[type-arg]

    def keep(_l: object, _m: str, ev: dict) -> dict:  # type: ignore[type-arg]
        captured.append(dict(ev))
        raise structlog.DropEvent

    logger = structlog.wrap_logger(None, processors=[AuditProcessor(trail), keep])  # type: ignore[list-item]
    logger.info("tool chosen", tool="search")
    logger.error("gave up")
    assert captured[0]["tool"] == "search"
    kinds = [(e["kind"], e["level"]) for e in _events(t)]
    assert kinds == [("reasoning", "info"), ("error", "error")]


def test_the_log_handler_ignores_the_clients_own_loggers() -> None:
    """A handler on the root logger never records the client's reports: no feedback loop; a logger of the
    agent's own named like ours (``producers``) is recorded."""
    trail, t = _trail()
    handler = AuditLogHandler(trail)
    own = logging.LogRecord("agent_audit.producers.transport", logging.WARNING, __file__, 1, "x", (), None)
    handler.emit(own)
    handler.emit(logging.LogRecord("agent", logging.WARNING, __file__, 1, "retrying", (), None))
    handler.emit(logging.LogRecord("producers.orders", logging.WARNING, __file__, 1, "theirs", (), None))
    assert [e["payload"]["thought"] for e in _events(t)] == ["retrying", "theirs"]
