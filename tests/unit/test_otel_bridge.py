"""The OpenTelemetry bridge follows the GenAI semantic conventions: routed by gen_ai.operation.name,
each model call, tool call and failure recorded once, with the identities the spans carry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode, Tracer

from agent_audit.core.contract import validate_event
from agent_audit.producers import MemoryTransport
from agent_audit.producers.otel_bridge import AuditSpanExporter, TrailPerSession


class Recorder:
    """A tracer whose spans go through the bridge into memory."""

    def __init__(self) -> None:
        self.transport = MemoryTransport()
        self.exporter = AuditSpanExporter(TrailPerSession(agent="default-bot", transport=self.transport),
                                          transport=self.transport)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer: Tracer = provider.get_tracer("test")
        self.session = f"conv-{uuid.uuid4().hex[:8]}"

    @contextmanager
    def span(self, name: str, **attrs: Any) -> Iterator[Any]:
        attrs.setdefault("gen_ai.conversation.id", self.session)
        with self.tracer.start_as_current_span(name, attributes=attrs) as span:
            yield span

    def events(self) -> list[dict[str, Any]]:
        events = self.transport.decoded()
        for e in events:
            validate_event(e)  # everything the bridge records is a valid v1 event
        return events


def _chat(rec: Recorder, **extra: Any) -> None:
    with rec.span("chat gpt-4o", **{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                                    "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 120,
                                    "gen_ai.usage.output_tokens": 30, **extra}):
        pass


def test_a_chat_span_is_one_output_with_input_and_output_tokens_apart() -> None:
    """chat -> output: the response model, input and output tokens kept apart (tokens_used their sum),
    the provider; text_completion and generate_content alike."""
    rec = Recorder()
    _chat(rec)
    for op in ("text_completion", "generate_content"):
        with rec.span(op, **{"gen_ai.operation.name": op, "gen_ai.request.model": "m-2",
                             "gen_ai.usage.output_tokens": 4}):
            pass
    chat, completion, generate = rec.events()
    assert chat["kind"] == "output"
    assert chat["payload"]["metadata"] == {
        "model": "gpt-4o-2024-08-06", "input_tokens": 120, "output_tokens": 30, "tokens_used": 150,
        "provider": "openai", "operation": "chat"}
    assert [e["payload"]["metadata"]["operation"] for e in (completion, generate)] == [
        "text_completion", "generate_content"]
    assert generate["payload"]["metadata"]["tokens_used"] == 4


def test_an_agent_invocation_with_a_model_adds_no_second_output() -> None:
    """invoke_agent (and create_agent) spans repeat their children's model and tokens: only the
    chat inside is an output, so the tokens are counted once."""
    rec = Recorder()
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
             "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 120,
             "gen_ai.usage.output_tokens": 30}
    with rec.span("invoke_agent planner", **agent):
        _chat(rec)
    with rec.span("create_agent planner", **{**agent, "gen_ai.operation.name": "create_agent"}):
        pass
    events = rec.events()
    assert [e["kind"] for e in events] == ["output"]
    assert sum(e["payload"]["metadata"]["tokens_used"] for e in events) == 150


def test_an_embeddings_span_is_a_service_call_not_an_llm_output() -> None:
    """embeddings -> tool_call named gen_ai.embeddings (latency and failures measured per tool), never
    an output: embeddings are no answer of the agent."""
    rec = Recorder()
    with rec.span("embeddings text-embedding-3-small", **{
            "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 42}):
        pass
    (event,) = rec.events()
    assert event["kind"] == "tool_call"
    assert event["payload"]["tool_name"] == "gen_ai.embeddings"
    assert event["payload"]["parameters"] == {"model": "text-embedding-3-small", "input_tokens": 42}


def test_a_tool_execution_keeps_its_arguments_result_and_call_id() -> None:
    """execute_tool -> tool_call: gen_ai.tool.call.arguments -> parameters and .result -> result
    (JSON strings parsed into objects), .id -> call_id, duration from the span."""
    rec = Recorder()
    with rec.span("execute_tool get_weather", **{
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_mszuSIzqtI65i1wAUOE8w5H4",
            "gen_ai.tool.call.arguments": '{"location": "Paris", "unit": "C"}',
            "gen_ai.tool.call.result": '{"temperature": 18}'}):
        pass
    (event,) = rec.events()
    p = event["payload"]
    assert (event["kind"], p["tool_name"], p["status"]) == ("tool_call", "get_weather", "success")
    assert p["parameters"] == {"location": "Paris", "unit": "C"}
    assert p["result"] == {"temperature": 18}
    assert p["call_id"] == "call_mszuSIzqtI65i1wAUOE8w5H4"
    assert p["duration_ms"] >= 0


def test_the_conversation_id_is_the_session_and_the_agent_name_the_agent() -> None:
    """gen_ai.conversation.id -> session_id (not trace-<id>); gen_ai.agent.name -> agent.name; user.id
    -> user_id; one session's events are numbered 0, 1, ... across agents."""
    rec = Recorder()
    _chat(rec, **{"gen_ai.agent.name": "researcher", "user.id": "u-9"})
    _chat(rec, **{"gen_ai.agent.name": "writer", "user.id": "u-9"})
    _chat(rec)
    events = rec.events()
    assert {e["session_id"] for e in events} == {rec.session}
    assert [e["agent"]["name"] for e in events] == ["researcher", "writer", "default-bot"]
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert events[0]["user_id"] == "u-9"


def test_a_span_without_a_conversation_is_its_traces_session() -> None:
    """No gen_ai.conversation.id nor session.id: the session is trace-<trace id>."""
    rec = Recorder()
    with rec.tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat",
                                                              "gen_ai.request.model": "m"}) as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
    (event,) = rec.events()
    assert event["session_id"] == f"trace-{trace_id}"


def test_error_type_makes_failures_errors() -> None:
    """error.type: a failed tool is a tool_call with status error plus an error event of that type;
    a failed chat is an error event and no output; a failed agent invocation an error event."""
    rec = Recorder()
    with rec.span("execute_tool pay", **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "pay",
                                         "error.type": "CardDeclined"}) as span:
        span.set_status(Status(StatusCode.ERROR, "card declined"))
    _chat(rec, **{"error.type": "rate_limit_exceeded"})
    with rec.span("invoke_agent", **{"gen_ai.operation.name": "invoke_agent", "error.type": "timeout"}):
        pass
    tool, tool_error, chat_error, agent_error = rec.events()
    assert (tool["kind"], tool["payload"]["status"]) == ("tool_call", "error")
    assert tool["payload"]["result"]["error"] == {"type": "CardDeclined", "message": "card declined"}
    assert (tool_error["kind"], tool_error["payload"]["type"], tool_error["payload"]["tool_name"]) == (
        "error", "CardDeclined", "pay")
    assert (chat_error["kind"], chat_error["payload"]["type"]) == ("error", "rate_limit_exceeded")
    assert (agent_error["kind"], agent_error["payload"]["type"]) == ("error", "timeout")


def test_the_older_attribute_shape_still_maps_and_trace_ids_are_kept() -> None:
    """Without gen_ai.operation.name: gen_ai.tool.name -> tool_call (ERROR status -> error),
    gen_ai.request.model -> output; every event carries the trace, span and parent span ids."""
    rec = Recorder()
    with rec.tracer.start_as_current_span("agent") as root:
        with rec.span("search", **{"gen_ai.tool.name": "search_kb", "tool.parameters.q": "refund"}):
            pass
        with rec.span("chat", **{"gen_ai.request.model": "m-1", "gen_ai.usage.input_tokens": 10}):
            pass
        trace_id = f"{root.get_span_context().trace_id:032x}"
    tool, output = rec.events()
    assert (tool["payload"]["tool_name"], tool["payload"]["parameters"]) == ("search_kb", {"q": "refund"})
    assert output["payload"]["metadata"]["model"] == "m-1"
    assert all(e["trace_id"] == trace_id and "parent_span_id" in e and "span_id" in e
               for e in (tool, output))


def test_an_odd_span_is_skipped_and_counted_not_fatal() -> None:
    """A non-numeric token count skips that span (counted in ``skipped``); the next span is still
    recorded; force_flush flushes the transport."""
    rec = Recorder()
    _chat(rec, **{"gen_ai.usage.input_tokens": "many"})
    _chat(rec)
    assert len(rec.events()) == 1
    assert rec.exporter.skipped == 1
    assert rec.exporter.force_flush(1000)


def test_spans_of_other_operations_record_nothing() -> None:
    """A span with no GenAI operation (an HTTP request, a database query) is ignored."""
    rec = Recorder()
    with rec.span("GET /orders", **{"http.request.method": "GET"}):
        pass
    assert rec.events() == []
