"""An agent in any language sends GenAI spans with its stock OpenTelemetry exporter to
``agent-audit otlp``; the events reach Elasticsearch through the real stream and sink, redacted.
The receiver speaks OTLP/HTTP as the spec says: protobuf and JSON, 400 for a body that is no
request, 401 without the token, partial success for spans it cannot map."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agent_audit.core.settings import Settings
from agent_audit.producers import MemoryTransport
from agent_audit.producers.kafka_transport import KafkaTransport
from agent_audit.producers.options import ClientOptions
from agent_audit.producers.otlp.options import OtlpOptions
from agent_audit.producers.otlp.receiver import OtlpReceiver
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import session_timeline
from agent_audit.stack.workers import running_workers
from tests.integration.waiting import read_topic, wait_for_count

EMAIL = "jane.doe@example.com"
TOKEN = "s3cret"


@pytest.fixture
def memory_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver(OtlpOptions(port=0, token=TOKEN), MemoryTransport()).start()
    yield receiver
    receiver.stop()


def _post(receiver: OtlpReceiver, body: bytes, content_type: str,
          token: str | None = TOKEN) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(receiver.url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - our own loopback URL
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _send_agent_session(endpoint: str, conversation: str) -> None:
    """What an agent does with the stock SDK and exporter: a chat, a tool call, an agent span."""
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    tracer = provider.get_tracer("agent")
    base = {"gen_ai.conversation.id": conversation, "user.id": "u-otlp"}
    with tracer.start_as_current_span("invoke_agent support", attributes={
            **base, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100}):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                **base, "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                "gen_ai.output.messages": f'[{{"role": "assistant", "content": "mail {EMAIL}"}}]'}):
            pass
        with tracer.start_as_current_span("execute_tool send_mail", attributes={
                **base, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_mail",
                "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.arguments": f'{{"to": "{EMAIL}"}}'}):
            pass
    assert provider.force_flush(30_000)
    provider.shutdown()


@pytest.mark.timeout(300)
def test_spans_from_the_stock_exporter_reach_elasticsearch_redacted(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Stock OTLPSpanExporter -> receiver -> raw topic -> stream -> sink: one output and one tool call
    in the conversation's session, numbered 0 and 1 (the agent span adds none), the agent named by
    the resource's service.name, the email replaced, the call id kept."""
    transport = KafkaTransport(settings, options=ClientOptions(spool_dir=tmp_path / "spool"), exit_hook=False)
    receiver = OtlpReceiver(OtlpOptions(port=0), transport).start()
    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    try:
        _send_agent_session(receiver.url, conversation)
    finally:
        assert receiver.stop(flush_timeout=60)
        transport.shutdown(10)
    assert (receiver.recorder.events, receiver.recorder.rejected) == (2, 0)

    with running_workers(settings.to_env(), tmp_path / "logs") as workers:
        assert wait_for_count(es, events_alias(settings.index_prefix), 2, workers, timeout=180) == 2
    timeline = session_timeline(es, settings.index_prefix, conversation)
    assert [(e["kind"], e["seq"], e["agent"]["name"], e["user_id"]) for e in timeline] == [
        ("output", 0, "support-bot", "u-otlp"), ("tool_call", 1, "support-bot", "u-otlp")]
    output, tool = timeline
    assert output["payload"]["metadata"]["tokens_used"] == 120
    assert tool["payload"]["call_id"] == "call_1"
    stored = orjson.dumps(timeline).decode()
    assert EMAIL not in stored and "[EMAIL" in stored


def test_json_requests_are_recorded_and_bad_ones_refused(memory_receiver: OtlpReceiver) -> None:
    """OTLP/JSON is recorded (the answer is JSON); a non-request is 400, no token 401, a span with a
    malformed token count comes back as partial_success.rejectedSpans and the others are kept."""
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "chat",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                           {"key": "gen_ai.request.model", "value": {"stringValue": "m"}}]}
    bad = {**span, "spanId": "eee19b7ec3c1b175", "attributes": [
        *span["attributes"], {"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "many"}}]}
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span, bad]}]}]}).encode()
    status, answer = _post(memory_receiver, body, "application/json")
    assert status == 200
    assert json.loads(answer)["partialSuccess"]["rejectedSpans"] == "1"
    transport = memory_receiver.transport
    assert isinstance(transport, MemoryTransport)
    assert [e["kind"] for e in transport.decoded()] == ["output"]
    assert _post(memory_receiver, b"garbage", "application/x-protobuf")[0] == 400
    assert _post(memory_receiver, body, "application/json", token=None)[0] == 401
    assert _post(memory_receiver, body, "application/json", token="wrong")[0] == 401
    assert len(transport.events) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(url: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - a GET: 501, but it answers
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("agent-audit otlp did not start listening")


@pytest.mark.timeout(180)
def test_the_otlp_command_records_until_sigterm_then_flushes(settings: Settings, tmp_path: Path) -> None:
    """`agent-audit otlp` serves until SIGTERM, then flushes: exit 0, its summary on stderr, and the
    span's event on the raw topic."""
    port = _free_port()
    env = {**os.environ, **settings.to_env(), "AUDIT_OTLP_PORT": str(port),
           "AUDIT_SPOOL_DIR": str(tmp_path / "spool")}
    proc = subprocess.Popen([sys.executable, "-m", "agent_audit.cli.main", "otlp"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1/traces"
    try:
        _wait_listening(url, proc)
        session = f"cli-{uuid.uuid4().hex[:8]}"
        span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "tool",
                "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
                               {"key": "gen_ai.tool.name", "value": {"stringValue": "lookup"}},
                               {"key": "gen_ai.conversation.id", "value": {"stringValue": session}}]}
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "1 events recorded, 0 spans rejected, delivered: True" in err
    lines = [json.loads(line) for msg in read_topic(settings, settings.topics.raw, 1, timeout=60)
             for line in msg.value().split(b"\n") if line.strip()]
    assert [(e["session_id"], e["payload"]["tool_name"]) for e in lines] == [(session, "lookup")]

