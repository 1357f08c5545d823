"""OTLP/HTTP trace requests, protobuf or JSON, read into ``GenAISpan`` objects.

Both encodings give the same spans: ids as lowercase hex, attribute values as plain Python (OTLP
JSON writes 64-bit integers as strings and ids as hex, not base64, so it is read by hand rather than
through protobuf's JSON mapping). Resource attributes ride along for the agent's fallback name. A
body that is not a valid request raises ``OtlpDecodeError`` (the receiver answers 400); it never
carries the body's content, which may hold personal data.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agent_audit.producers.otlp.genai import GenAISpan

__all__ = ["OtlpDecodeError", "decode_request", "decompress"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class OtlpDecodeError(ValueError):
    """The body is not an OTLP trace request in the announced encoding."""


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip|deflate``, refusing output past ``limit`` bytes (a zip bomb)."""
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise OtlpDecodeError(f"unsupported Content-Encoding {encoding!r}")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise OtlpDecodeError(f"body is not valid {encoding}") from exc
    if len(out) > limit:
        raise OtlpDecodeError(f"decompressed body exceeds {limit} bytes")
    return out


def decode_request(body: bytes, content_type: str) -> list[GenAISpan]:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == PROTOBUF:
        return list(_from_protobuf(body))
    if media == JSON:
        return list(_from_json(body))
    raise OtlpDecodeError(f"unsupported Content-Type {media!r} (use {PROTOBUF} or {JSON})")


# --- protobuf ------------------------------------------------------------------------------------
def _from_protobuf(body: bytes) -> Iterator[GenAISpan]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError("body is not a protobuf ExportTraceServiceRequest") from exc
    for resource_spans in request.resource_spans:
        resource = {kv.key: _any_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _proto_span(span, resource)


def _proto_span(span: Span, resource: Mapping[str, Any]) -> GenAISpan:
    return GenAISpan(
        name=span.name,
        attributes={kv.key: _any_value(kv.value) for kv in span.attributes},
        start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
        trace_id=span.trace_id.hex() or None, span_id=span.span_id.hex() or None,
        parent_span_id=span.parent_span_id.hex() or None,
        status_error=span.status.code == Status.STATUS_CODE_ERROR,
        status_message=span.status.message, resource=resource)


def _any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which) if which else None


# --- JSON ----------------------------------------------------------------------------------------
def _from_json(body: bytes) -> Iterator[GenAISpan]:
    try:
        request = orjson.loads(body)
        for resource_spans in request.get("resourceSpans") or ():
            resource = _json_attributes(resource_spans.get("resource", {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans") or ():
                for span in scope_spans.get("spans") or ():
                    yield _json_span(span, resource)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise OtlpDecodeError("body is not an OTLP/JSON ExportTraceServiceRequest") from exc


def _json_span(span: dict[str, Any], resource: Mapping[str, Any]) -> GenAISpan:
    status = span.get("status") or {}
    return GenAISpan(
        name=str(span.get("name", "")), attributes=_json_attributes(span.get("attributes")),
        start_ns=int(span.get("startTimeUnixNano") or 0), end_ns=int(span.get("endTimeUnixNano") or 0),
        trace_id=_hex_id(span.get("traceId"), 32), span_id=_hex_id(span.get("spanId"), 16),
        parent_span_id=_hex_id(span.get("parentSpanId"), 16),
        status_error=status.get("code") in (2, "STATUS_CODE_ERROR"),
        status_message=str(status.get("message", "")), resource=resource)


def _json_attributes(attributes: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {str(kv["key"]): _json_value(kv.get("value") or {}) for kv in attributes or ()}


_SCALARS = {"stringValue": str, "boolValue": bool, "intValue": int, "doubleValue": float}


def _json_value(value: dict[str, Any]) -> Any:
    for key, convert in _SCALARS.items():  # int64 is a string in OTLP/JSON: int() reads both
        if key in value:
            return convert(value[key])
    if "arrayValue" in value:
        return [_json_value(v) for v in value["arrayValue"].get("values") or ()]
    if "kvlistValue" in value:
        return _json_attributes(value["kvlistValue"].get("values"))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"]).hex()
    return None


def _hex_id(value: Any, length: int) -> str | None:
    if not value:
        return None
    text = str(value).lower()
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        raise ValueError("a trace or span id is not hex of the right length")
    return text
