"""OTLP trace requests decode to the same spans as the SDK sees them, in protobuf and in JSON; a body
that is not a request is a clear error; the receiver's options refuse an open port without a token
in production."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agent_audit.core.errors import ConfigError
from agent_audit.producers import MemoryTransport
from agent_audit.producers.otel_bridge import genai_span
from agent_audit.producers.otlp.decode import OtlpDecodeError, decode_request, decompress
from agent_audit.producers.otlp.options import OtlpOptions
from agent_audit.producers.otlp.receiver import SpanRecorder
from agent_audit.producers.otlp.trails import TrailPerSession

ATTRS: dict[str, Any] = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
                         "gen_ai.tool.call.arguments": '{"order": 7}', "gen_ai.usage.input_tokens": 12,
                         "gen_ai.request.temperature": 0.5, "gen_ai.request.stream": True,
                         "gen_ai.response.finish_reasons": ("stop", "length"),
                         "gen_ai.conversation.id": "conv-1"}


def _sdk_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "billing-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent"), \
            tracer.start_as_current_span("execute_tool lookup", attributes=ATTRS) as span:
        span.set_status(Status(StatusCode.ERROR, "no such order"))
    return list(memory.get_finished_spans())


def _comparable(span: Any) -> dict[str, Any]:
    d = dict(vars(span))
    d["attributes"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["attributes"].items()}
    d["resource"] = {"service.name": d["resource"]["service.name"]}
    return d


def test_protobuf_requests_decode_to_the_spans_the_sdk_saw() -> None:
    """Names, attributes of every type, ids in hex, parent, ERROR status, times and the resource's
    service.name come out of protobuf as the SDK bridge reads them."""
    spans = _sdk_spans()
    decoded = decode_request(encode_spans(spans).SerializeToString(), "application/x-protobuf")
    assert [_comparable(d) for d in decoded] == [_comparable(genai_span(s)) for s in spans]


def test_json_requests_decode_like_protobuf() -> None:
    """OTLP/JSON: hex ids (not base64), int64 as strings, enum codes as numbers, arrays and kvlists."""
    body = b"""{"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "billing-agent"}}]},
      "scopeSpans": [{"spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173", "name": "chat", "startTimeUnixNano": "1000000000",
        "endTimeUnixNano": "1250000000", "status": {"code": 2, "message": "boom"},
        "attributes": [
          {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
          {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.5}},
          {"key": "gen_ai.request.stream", "value": {"boolValue": true}},
          {"key": "gen_ai.response.finish_reasons", "value": {"arrayValue": {"values": [
              {"stringValue": "stop"}]}}},
          {"key": "args", "value": {"kvlistValue": {"values": [{"key": "q", "value": {"intValue": 3}}]}}}
        ]}]}]}]}"""
    (span,) = decode_request(body, "application/json; charset=utf-8")
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b173")
    assert span.attributes == {"gen_ai.usage.input_tokens": 12, "gen_ai.request.temperature": 0.5,
                               "gen_ai.request.stream": True, "gen_ai.response.finish_reasons": ["stop"],
                               "args": {"q": 3}}
    assert (span.status_error, span.status_message, span.duration_ms) == (True, "boom", 250.0)
    assert span.resource == {"service.name": "billing-agent"}


@pytest.mark.parametrize(("body", "content_type"), [
    (b"\xff\xfe not protobuf", "application/x-protobuf"),
    (b'{"resourceSpans": 3}', "application/json"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', "application/json"),
    (b"{}", "text/plain"),
])
def test_a_body_that_is_not_a_trace_request_is_a_decode_error(body: bytes, content_type: str) -> None:
    """Garbage, a wrong shape, a malformed id or an unknown media type: OtlpDecodeError."""
    with pytest.raises(OtlpDecodeError):
        decode_request(body, content_type)


def test_gzip_bodies_are_inflated_within_the_bound() -> None:
    """Content-Encoding gzip is undone; past the byte bound (a zip bomb) it is refused."""
    body = gzip.compress(b"x" * 10_000)
    assert decompress(body, "gzip", 20_000) == b"x" * 10_000
    with pytest.raises(OtlpDecodeError):
        decompress(body, "gzip", 1000)
    with pytest.raises(OtlpDecodeError):
        decompress(b"not gzip", "gzip", 1000)


def test_the_recorder_uses_service_name_when_spans_name_no_agent() -> None:
    """No gen_ai.agent.name: the resource's service.name is the agent; spans are recorded once."""
    transport = MemoryTransport()
    recorder = SpanRecorder(TrailPerSession(agent="otlp", transport=transport))
    body = encode_spans(_sdk_spans()).SerializeToString()
    assert recorder.record(decode_request(body, "application/x-protobuf")) == 0
    tool, error = transport.decoded()
    assert {tool["agent"]["name"], error["agent"]["name"]} == {"billing-agent"}
    assert (tool["session_id"], tool["payload"]["parameters"]) == ("conv-1", {"order": 7})


def test_an_open_receiver_needs_a_token_in_production() -> None:
    """Production, a non-loopback host and no AUDIT_OTLP_TOKEN: ConfigError; loopback or a token is fine."""
    with pytest.raises(ConfigError, match="AUDIT_OTLP_TOKEN"):
        OtlpOptions.from_env({"AUDIT_OTLP_HOST": "0.0.0.0"}).check(production=True)  # noqa: S104
    OtlpOptions.from_env({}).check(production=True)
    OtlpOptions.from_env({"AUDIT_OTLP_HOST": "0.0.0.0", "AUDIT_OTLP_TOKEN": "t"}).check(production=True)  # noqa: S104
    OtlpOptions.from_env({"AUDIT_OTLP_HOST": "0.0.0.0"}).check(production=False)  # noqa: S104
    with pytest.raises(ConfigError, match="AUDIT_OTLP_PORT"):
        OtlpOptions.from_env({"AUDIT_OTLP_PORT": "http"})
