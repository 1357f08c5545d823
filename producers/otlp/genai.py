"""One OpenTelemetry GenAI span becomes at most two audit events, routed by ``gen_ai.operation.name``.

The rule is that every model call, tool call and failure is recorded once:

=====================================  =========================================================
``gen_ai.operation.name``              recorded as
=====================================  =========================================================
chat, text_completion, generate_content  ``output``: model (response, else request), input and
                                         output tokens apart (``tokens_used`` is their sum, the
                                         per-model metric), provider, finish reasons
invoke_agent, create_agent,            nothing: their token counts repeat their children's
invoke_workflow                        (recording them would count every token twice)
execute_tool                           ``tool_call``: ``gen_ai.tool.call.arguments`` -> parameters,
                                       ``.result`` -> result, ``.id`` -> call_id, span duration
embeddings, retrieval                  ``tool_call`` named ``gen_ai.embeddings`` / ``gen_ai.retrieval``:
                                       a call to a service whose latency and failures matter, but
                                       no answer of the agent, so never an ``output``
(absent)                               the older shape: ``gen_ai.tool.name`` -> tool_call,
                                       ``gen_ai.request.model`` -> chat; anything else is ignored
=====================================  =========================================================

A span with ``error.type`` (or an ERROR status) is a failure: a model call becomes an ``error``
event instead of an output; a tool call is recorded with status ``error`` and an ``error`` event
(as ``AuditTrail.tool_call`` does); an agent invocation records the ``error`` alone.
Identity: session = ``gen_ai.conversation.id``, else ``session.id``, else ``trace-<trace id>``;
user = ``user.id`` (or ``enduser.id``); agent = ``gen_ai.agent.name``, else the caller's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = ["GenAISpan", "Identity", "SpanTrail", "identity_of", "record_span"]

MODEL_CALLS = frozenset({"chat", "text_completion", "generate_content"})
AGENT_SPANS = frozenset({"invoke_agent", "create_agent", "invoke_workflow"})
SERVICE_CALLS = frozenset({"embeddings", "retrieval"})


@dataclass(frozen=True)
class GenAISpan:
    """What the mapping reads of a span, whichever way it arrived (SDK object or OTLP request)."""

    name: str
    attributes: Mapping[str, Any]
    start_ns: int = 0
    end_ns: int = 0
    trace_id: str | None = None  # lowercase hex, as the contract stores them
    span_id: str | None = None
    parent_span_id: str | None = None
    status_error: bool = False
    status_message: str = ""
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return max(0.0, (self.end_ns - self.start_ns) / 1e6)

    def ids(self) -> dict[str, str]:
        ids = {"trace_id": self.trace_id, "span_id": self.span_id, "parent_span_id": self.parent_span_id}
        return {k: v for k, v in ids.items() if v}


@dataclass(frozen=True)
class Identity:
    session_id: str | None
    user_id: str | None
    agent: str | None


class SpanTrail(Protocol):
    """The part of ``AuditTrail`` the mapping records into."""

    def output(self, type: str = ..., content: Any = ..., *, tokens_used: int | None = ...,
               model: str | None = ..., cost: float | None = ..., metadata: dict[str, Any] | None = ...,
               level: str = ..., trace: dict[str, str] | None = ...) -> bool: ...

    def error(self, exc: BaseException | None = ..., *, type: str | None = ..., message: str | None = ...,
              tool_name: str | None = ..., recovery_action: str | None = ...,
              trace: dict[str, str] | None = ...) -> bool: ...

    def record_tool_call(self, tool_name: str, *, parameters: Any = ..., result: Any = ...,
                         status: str = ..., duration_ms: float = ..., level: str | None = ...,
                         trace: dict[str, str] | None = ..., call_id: str | None = ...) -> bool: ...


def identity_of(span: GenAISpan) -> Identity:
    a = span.attributes
    session = _text(a.get("gen_ai.conversation.id")) or _text(a.get("session.id"))
    if session is None and span.trace_id:
        session = f"trace-{span.trace_id}"
    user = _text(a.get("user.id")) or _text(a.get("enduser.id"))
    return Identity(session, user, _text(a.get("gen_ai.agent.name")))


def operation_of(span: GenAISpan) -> str | None:
    """``gen_ai.operation.name``, or the operation the older attribute shape implies."""
    a = span.attributes
    op = _text(a.get("gen_ai.operation.name"))
    if op:
        return op
    if a.get("gen_ai.tool.name") or a.get("tool.name"):
        return "execute_tool"
    if a.get("gen_ai.request.model"):
        return "chat"
    return None


def record_span(span: GenAISpan, trail: SpanTrail) -> int:
    """Record the span's events into ``trail``; return how many. Raises ``ValueError`` on a
    malformed attribute (a token count that is not a number): the caller counts and skips it."""
    op = operation_of(span)
    if op in MODEL_CALLS:
        return _model_call(span, trail, op)
    if op == "execute_tool":
        return _tool_call(span, trail, _text(span.attributes.get("gen_ai.tool.name"))
                          or _text(span.attributes.get("tool.name")) or "tool")
    if op in SERVICE_CALLS:
        return _tool_call(span, trail, f"gen_ai.{op}")
    if op in AGENT_SPANS and _failure(span) is not None:
        return _error(span, trail, None)
    return 0


def _model_call(span: GenAISpan, trail: SpanTrail, op: str) -> int:
    if _failure(span) is not None:
        return _error(span, trail, None)
    a = span.attributes
    usage = {k: _count(a.get(f"gen_ai.usage.{k}")) for k in ("input_tokens", "output_tokens")}
    meta: dict[str, Any] = {k: v for k, v in usage.items() if v is not None}
    for key, attr in (("provider", "gen_ai.provider.name"), ("provider", "gen_ai.system"),
                      ("response_id", "gen_ai.response.id")):
        if attr in a and key not in meta:
            meta[key] = _text(a[attr])
    if "gen_ai.response.finish_reasons" in a:
        meta["finish_reasons"] = [str(r) for r in _as_list(a["gen_ai.response.finish_reasons"])]
    meta["operation"] = op
    total = sum(v for v in usage.values() if v is not None) if meta.keys() & usage.keys() else None
    model = _text(a.get("gen_ai.response.model")) or _text(a.get("gen_ai.request.model"))
    content = a.get("gen_ai.output.messages", "")
    trail.output("llm_response", content=content if isinstance(content, str) else _json_text(content),
                 tokens_used=total, model=model, metadata=meta, trace=span.ids())
    return 1


def _tool_call(span: GenAISpan, trail: SpanTrail, tool: str) -> int:
    a = span.attributes
    if "gen_ai.tool.call.arguments" in a:
        params: Any = _structured(a["gen_ai.tool.call.arguments"])
    else:  # the older shape: one attribute per parameter
        params = {k.removeprefix("tool.parameters."): v for k, v in a.items()
                  if k.startswith("tool.parameters.")}
    if tool.startswith("gen_ai.") and not params:
        params = {k: v for k, v in (("model", _text(a.get("gen_ai.request.model"))),
                                    ("input_tokens", _count(a.get("gen_ai.usage.input_tokens"))))
                  if v is not None}
    failure = _failure(span)
    result = _structured(a["gen_ai.tool.call.result"]) if "gen_ai.tool.call.result" in a else None
    if failure is not None:
        result = {**(result or {}), "error": {"type": failure[0], "message": failure[1]}}
    trail.record_tool_call(tool, parameters=params, result=result, duration_ms=span.duration_ms,
                           status="success" if failure is None else "error", trace=span.ids(),
                           call_id=_text(a.get("gen_ai.tool.call.id")))
    return 1 + (_error(span, trail, tool) if failure is not None else 0)


def _error(span: GenAISpan, trail: SpanTrail, tool: str | None) -> int:
    kind, message = _failure(span) or ("Error", "")
    trail.error(type=kind, message=message, tool_name=tool, trace=span.ids())
    return 1


def _failure(span: GenAISpan) -> tuple[str, str] | None:
    kind = _text(span.attributes.get("error.type"))
    if kind is None and not span.status_error:
        return None
    return kind or "Error", span.status_message


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a token count is not a number")
    count = int(value)  # a non-numeric string raises ValueError: the span is skipped and counted
    if count < 0:
        raise ValueError("a token count is negative")
    return count


def _structured(value: Any) -> dict[str, Any]:
    """Arguments and results are JSON strings in most SDKs; the contract stores objects."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {"value": value}
    return value if isinstance(value, dict) else {"value": value}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
