"""An OpenTelemetry ``SpanExporter`` that records GenAI spans as audit events, once each.

Spans are routed by ``gen_ai.operation.name`` following the GenAI semantic conventions: model calls
become ``output`` events (input and output tokens apart), tool executions ``tool_call`` events with
their arguments, result and call id, failures (``error.type``) ``error`` events; agent invocations
add nothing, so no token is counted twice. The table is in ``producers.otlp.genai``, shared with the
OTLP receiver. Session, user and agent come from ``gen_ai.conversation.id``, ``user.id`` and
``gen_ai.agent.name``; trace and span ids are kept, so the audit trail joins the traces.
A span that cannot be mapped (a non-numeric token count) is counted in ``skipped`` and logged once;
the rest of the batch is still recorded. Needs ``opentelemetry-sdk`` (``agent-audit[otel]``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from agent_audit.producers.otlp.genai import GenAISpan, identity_of, record_span
from agent_audit.producers.otlp.trails import TrailPerSession
from agent_audit.producers.reports import OnceLog
from agent_audit.producers.trail import AuditTrail
from agent_audit.producers.transport import Transport

__all__ = ["AuditSpanExporter", "TrailFor", "TrailPerSession", "genai_span"]

_report = OnceLog(logging.getLogger(__name__))

# trail_for(session_id, user_id, agent_name) -> the trail to record into; any id may be None.
TrailFor = Callable[[str | None, str | None, str | None], AuditTrail]


class AuditSpanExporter(SpanExporter):
    def __init__(self, trail_for: TrailFor, transport: Transport | None = None) -> None:
        """``trail_for(session_id, user_id, agent)`` returns the trail to record into (ids may be None,
        e.g. ``TrailPerSession``); ``transport``, if given, is what ``force_flush`` flushes."""
        self.trail_for = trail_for
        self.transport = transport
        self.skipped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            try:
                view = genai_span(span)
                who = identity_of(view)
                record_span(view, self.trail_for(who.session_id, who.user_id, who.agent))
            except Exception:  # one odd span (a non-numeric token count) must not lose the batch
                self.skipped += 1
                _report("span_skipped", "a span could not be turned into an audit event",
                        level=logging.WARNING, exc_info=True)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.transport.flush(timeout_millis / 1000) if self.transport is not None else True


def genai_span(span: ReadableSpan) -> GenAISpan:
    """The SDK's span as the mapping reads it."""
    ctx = span.get_span_context()
    return GenAISpan(
        name=span.name,
        attributes=dict(span.attributes or {}),
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        trace_id=f"{ctx.trace_id:032x}" if ctx is not None else None,
        span_id=f"{ctx.span_id:016x}" if ctx is not None else None,
        parent_span_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
        status_error=span.status.status_code == StatusCode.ERROR,
        status_message=span.status.description or "",
        resource=dict(span.resource.attributes) if span.resource is not None else {},
    )
