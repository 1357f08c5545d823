"""An OpenTelemetry ``SpanExporter`` that turns tool and LLM spans into audit events.

Spans follow the GenAI semantic conventions: a span with ``gen_ai.tool.name`` (or ``tool.name``)
becomes a ``tool_call`` (duration from the span, status from its status); a span with
``gen_ai.request.model`` becomes an ``output`` carrying the model and token usage. Other spans are
ignored. Session and user come from ``session.id`` / ``user.id`` attributes when present, else from
the trail given. Trace and span ids are kept, so the audit trail joins the traces.
Needs ``opentelemetry-sdk`` (an optional dependency: ``pip install agent-audit[otel]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from producers.trail import AuditTrail

__all__ = ["AuditSpanExporter"]


class AuditSpanExporter(SpanExporter):
    def __init__(self, trail_for: Callable[[str | None, str | None], AuditTrail]) -> None:
        """``trail_for(session_id, user_id)`` returns the trail to record into (ids may be None)."""
        self.trail_for = trail_for

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            attrs: dict[str, Any] = dict(span.attributes or {})
            trail = self.trail_for(_str(attrs.get("session.id")), _str(attrs.get("user.id")))
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
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


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
