"""An OpenTelemetry ``SpanExporter`` that turns tool and LLM spans into audit events.

Spans follow the GenAI semantic conventions: a span with ``gen_ai.tool.name`` (or ``tool.name``)
becomes a ``tool_call`` (duration from the span, status from its status); a span with
``gen_ai.request.model`` becomes an ``output`` carrying the model and token usage. Other spans are
ignored. Session and user come from ``session.id`` / ``user.id`` attributes when present, else from
the trail given. Trace and span ids are kept, so the audit trail joins the traces.
Needs ``opentelemetry-sdk`` (an optional dependency: ``pip install agent-audit[otel]``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from agent_audit.producers.reports import OnceLog
from agent_audit.producers.trail import AuditTrail
from agent_audit.producers.transport import Transport
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

__all__ = ["AuditSpanExporter", "TrailPerSession"]

_report = OnceLog(logging.getLogger(__name__))


class TrailPerSession:
    """A ``trail_for`` that keeps one trail per (session, user), the most recent ``limit`` of them;
    spans without ``session.id`` go to the session named after their trace id."""

    def __init__(self, agent: str, agent_version: str = "0", user_id: str = "unknown",
                 transport: Transport | None = None, level: str = "info", limit: int = 10_000) -> None:
        self.agent, self.agent_version, self.user_id = agent, agent_version, user_id
        self.transport, self.level, self.limit = transport, level, limit
        self._trails: OrderedDict[tuple[str, str], AuditTrail] = OrderedDict()

    def __call__(self, session_id: str | None, user_id: str | None) -> AuditTrail:
        key = (session_id or "unknown", user_id or self.user_id)
        trail = self._trails.get(key)
        if trail is None:
            trail = self._trails[key] = AuditTrail(
                session_id=key[0], user_id=key[1], agent=self.agent, agent_version=self.agent_version,
                level=self.level, transport=self.transport)
            if len(self._trails) > self.limit:
                self._trails.popitem(last=False)
        else:
            self._trails.move_to_end(key)
        return trail


class AuditSpanExporter(SpanExporter):
    def __init__(self, trail_for: Callable[[str | None, str | None], AuditTrail],
                 transport: Transport | None = None) -> None:
        """``trail_for(session_id, user_id)`` returns the trail to record into (ids may be None);
        ``transport``, if given, is what ``force_flush`` flushes."""
        self.trail_for = trail_for
        self.transport = transport
        self.skipped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            try:
                self._export_one(span)
            except Exception:  # one odd span (a non-numeric token count) must not lose the batch
                self.skipped += 1
                _report("span_skipped", "a span could not be turned into an audit event",
                        level=logging.WARNING, exc_info=True)
        return SpanExportResult.SUCCESS

    def _export_one(self, span: ReadableSpan) -> None:
        attrs: dict[str, Any] = dict(span.attributes or {})
        session = _str(attrs.get("session.id")) or _trace_session(span)
        trail = self.trail_for(session, _str(attrs.get("user.id")))
        ids = _ids(span)
        duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        tool = attrs.get("gen_ai.tool.name") or attrs.get("tool.name")
        if tool:
            failed = span.status.status_code == StatusCode.ERROR
            params = {k: v for k, v in attrs.items() if k.startswith("tool.parameters.")}
            trail.record_tool_call(str(tool), parameters=params, duration_ms=max(duration_ms, 0.0),
                                   status="error" if failed else "success",
                                   result={"error": span.status.description} if failed else None,
                                   trace=ids)
        elif "gen_ai.request.model" in attrs:
            tokens = int(attrs.get("gen_ai.usage.input_tokens", 0)) + int(
                attrs.get("gen_ai.usage.output_tokens", 0))
            trail.output("llm_response", content=span.name, tokens_used=tokens or None,
                         model=str(attrs["gen_ai.request.model"]), trace=ids)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.transport.flush(timeout_millis / 1000) if self.transport is not None else True


def _trace_session(span: ReadableSpan) -> str | None:
    ctx = span.get_span_context()
    return f"trace-{ctx.trace_id:032x}" if ctx is not None else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _ids(span: ReadableSpan) -> dict[str, str]:
    ctx = span.get_span_context()
    if ctx is None:
        return {}
    ids = {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}
    if span.parent is not None:
        ids["parent_span_id"] = f"{span.parent.span_id:016x}"
    return ids
