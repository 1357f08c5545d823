"""The OTLP/HTTP trace receiver: ``POST /v1/traces`` (protobuf or JSON) -> audit events on the raw topic.

A 200 means every GenAI span of the request was handed to the client's transport, as an agent's own
``AuditTrail`` call would be (bounded queue, disk spool while Kafka is away, counted drops); spans
that cannot be mapped are reported back as ``partial_success.rejected_spans`` (the OTLP way to say
"do not retry these"), never silently. A body that is not a trace request is a 400, one that is too
large a 413, a missing or wrong bearer token (when ``AUDIT_OTLP_TOKEN`` is set) a 401. Bodies are
never logged: they may hold personal data, which the stream redacts. Shutting down flushes the
transport, and what cannot be delivered in time stays in the spool.
"""

from __future__ import annotations

import hmac
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from agent_audit.producers.otlp.decode import JSON, OtlpDecodeError, decode_request, decompress
from agent_audit.producers.otlp.genai import GenAISpan, identity_of, record_span
from agent_audit.producers.otlp.options import OtlpOptions
from agent_audit.producers.otlp.trails import TrailPerSession
from agent_audit.producers.reports import OnceLog
from agent_audit.producers.transport import Transport

__all__ = ["OtlpReceiver", "SpanRecorder"]

log = logging.getLogger(__name__)
_report = OnceLog(log)
PATH = "/v1/traces"


class SpanRecorder:
    """Records decoded spans into one trail per (session, user, agent); counts what it rejected."""

    def __init__(self, trails: TrailPerSession) -> None:
        self.trails = trails
        self.events = 0
        self.rejected = 0
        self._lock = threading.Lock()

    def record(self, spans: list[GenAISpan]) -> int:
        """Record the spans; return how many were rejected (malformed GenAI attributes)."""
        rejected = events = 0
        for span in spans:
            try:
                who = identity_of(span)
                agent = who.agent or _text(span.resource.get("service.name"))
                events += record_span(span, self.trails(who.session_id, who.user_id, agent))
            except Exception:
                rejected += 1
                _report("span_rejected", "an OTLP span could not be turned into an audit event",
                        level=logging.WARNING, exc_info=True)
        with self._lock:
            self.events += events
            self.rejected += rejected
        return rejected


class OtlpReceiver:
    """``start()`` serves on a background thread (tests, embedding); ``serve_forever()`` in the
    foreground (the CLI); ``stop()`` closes the socket and flushes the transport."""

    def __init__(self, options: OtlpOptions, transport: Transport) -> None:
        self.options = options
        self.transport = transport
        self.recorder = SpanRecorder(TrailPerSession(agent=options.agent, transport=transport))
        self.server = ThreadingHTTPServer((options.host, options.port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def start(self) -> OtlpReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self, flush_timeout: float = 10.0) -> bool:
        """Stop accepting, then flush; True if everything recorded was delivered."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
        self.server.server_close()
        return self.transport.flush(flush_timeout)


def _handler_for(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    options = receiver.options

    class Handler(BaseHTTPRequestHandler):
        server_version = "agent-audit-otlp"

        def do_POST(self) -> None:
            if self.path.split("?")[0] != PATH:
                return self._reply(HTTPStatus.NOT_FOUND, f"only {PATH} is served")
            if options.token is not None and not _bearer_ok(self.headers.get("Authorization"), options.token):
                return self._reply(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
            length = int(self.headers.get("Content-Length") or 0)
            if length > options.max_bytes:
                too_large = f"body over {options.max_bytes} bytes"
                return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
            content_type = self.headers.get("Content-Type", "")
            try:
                body = decompress(self.rfile.read(length), self.headers.get("Content-Encoding"),
                                  options.max_bytes)
                spans = decode_request(body, content_type)
            except OtlpDecodeError as exc:
                return self._reply(HTTPStatus.BAD_REQUEST, str(exc))
            rejected = receiver.recorder.record(spans)
            self._export_response(content_type, rejected)
            return None

        def _export_response(self, content_type: str, rejected: int) -> None:
            response = ExportTraceServiceResponse()
            if rejected:
                response.partial_success.rejected_spans = rejected
                response.partial_success.error_message = "spans with malformed GenAI attributes"
            if content_type.split(";", maxsplit=1)[0].strip().lower() == JSON:
                partial = ({"partialSuccess": {"rejectedSpans": str(rejected),
                                               "errorMessage": response.partial_success.error_message}}
                           if rejected else {})
                self._send(HTTPStatus.OK, JSON, orjson.dumps(partial))
            else:
                self._send(HTTPStatus.OK, "application/x-protobuf", response.SerializeToString())

        def _reply(self, status: HTTPStatus, message: str) -> None:
            self._send(status, "text/plain; charset=utf-8", message.encode())

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("otlp.request " + format, *args)  # the request line only, never the body

    return Handler


def _bearer_ok(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
