"""Bridges from the tools agents already use: stdlib logging, structlog, OpenTelemetry spans."""

from __future__ import annotations

import logging
import uuid

import orjson
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from agent_audit.core.contract import validate_event
from agent_audit.producers import AuditTrail, MemoryTransport
from agent_audit.producers.logging_bridge import AuditLogHandler
from agent_audit.producers.otel_bridge import AuditSpanExporter, TrailPerSession
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


def test_tool_and_llm_spans_become_tool_calls_and_outputs_with_trace_ids() -> None:
    """gen_ai tool spans -> tool_call (duration, status); model spans -> output with tokens."""
    trail, t = _trail()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(AuditSpanExporter(lambda _s, _u: trail)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("agent") as root:
        with tracer.start_as_current_span("search", attributes={"gen_ai.tool.name": "search_kb"}):
            pass
        with tracer.start_as_current_span("call", attributes={"gen_ai.tool.name": "pay"}) as span:
            span.set_status(Status(StatusCode.ERROR, "card declined"))
        with tracer.start_as_current_span("chat", attributes={
                "gen_ai.request.model": "m-1", "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 5}):
            pass
        trace_id = f"{root.get_span_context().trace_id:032x}"
    events = _events(t)
    assert [(e["kind"], e["payload"].get("tool_name"), e["payload"].get("status")) for e in events] == [
        ("tool_call", "search_kb", "success"), ("tool_call", "pay", "error"), ("output", None, None)]
    assert events[2]["payload"]["metadata"] == {"tokens_used": 15, "model": "m-1"}
    assert all(e["trace_id"] == trace_id and "parent_span_id" in e for e in events)


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


def test_spans_go_to_one_trail_per_session_and_an_odd_span_is_skipped_not_fatal() -> None:
    """session.id/user.id pick the trail; a span with a non-numeric token count is counted and skipped;
    force_flush flushes the transport."""
    t = MemoryTransport()
    trails = TrailPerSession(agent="bot", transport=t)
    exporter = AuditSpanExporter(trails, transport=t)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    session = f"otel-{uuid.uuid4().hex[:6]}"
    with tracer.start_as_current_span("s", attributes={"gen_ai.tool.name": "a", "session.id": session,
                                                       "user.id": "u-9"}):
        pass
    with tracer.start_as_current_span("bad", attributes={"gen_ai.request.model": "m",
                                                         "gen_ai.usage.input_tokens": "many"}):
        pass
    with tracer.start_as_current_span("s2", attributes={"gen_ai.tool.name": "b", "session.id": session,
                                                        "user.id": "u-9"}):
        pass
    events = _events(t)
    assert [(e["session_id"], e["user_id"], e["seq"]) for e in events] == [(session, "u-9", 0),
                                                                            (session, "u-9", 1)]
    assert exporter.skipped == 1
    assert exporter.force_flush(1000)
