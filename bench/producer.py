"""The client's cost on the agent's hot path, beside a raw produce() and an OpenTelemetry span.

Per recorded tool call (median and p99 of single calls, in µs), one thread, against the local
broker, in one run: ``with trail.tool_call(...)`` (the headline: what agents write) and
``record_tool_call``; (a) confluent-kafka ``produce()`` of the same event built and serialized with
orjson; (b) an OpenTelemetry span start+end through a BatchSpanProcessor whose exporter discards.
Then events/s one thread records and delivers (record N, flush until the broker acknowledged all).
Target: median <= 5 µs. ``BENCH_PRODUCER_CALLS`` sets N (default 100000).
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from agent_audit.core.settings import Settings
from agent_audit.core.wire import new_event_id
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport
from agent_audit.producers.publisher import producer_config
from confluent_kafka import Producer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from bench.harness import emit, fresh_settings, table

N = int(os.environ.get("BENCH_PRODUCER_CALLS", "100000"))
PARAMS = {"query": "refund policy", "top_k": 3}
RESULT = {"hits": 3}


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _timed(call: Callable[[int], object], n: int) -> tuple[float, float]:
    """Median and p99 of single calls, in µs (a warm-up of 2% first)."""
    for i in range(n // 50):
        call(i)
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(i)
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def _trail(transport: KafkaTransport) -> AuditTrail:
    return AuditTrail(session_id=f"bench-{uuid.uuid4().hex[:6]}", user_id="u", agent="bench",
                      transport=transport)


def _ours(settings: Settings, options: ClientOptions) -> tuple[tuple[float, float], tuple[float, float]]:
    transport = KafkaTransport(settings, options=options, exit_hook=False)
    trail = _trail(transport)

    def with_block(i: int) -> None:
        with trail.tool_call("search_kb", PARAMS) as call:
            call.result = RESULT

    block = _timed(with_block, N)
    direct = _timed(lambda i: trail.record_tool_call(
        "search_kb", parameters=PARAMS, result=RESULT, duration_ms=12.5), N)
    transport.shutdown(60)
    return block, direct


def _raw_produce(settings: Settings, options: ClientOptions) -> tuple[float, float]:
    config = producer_config(settings, options)
    config.pop("log_level")
    raw = Producer(config)

    def produce(i: int) -> None:
        event = {"schema_version": 1, "event_id": new_event_id(), "kind": "tool_call", "level": "info",
                 "timestamp": datetime.now(UTC).isoformat(), "session_id": "bench", "user_id": "u",
                 "agent": {"name": "bench", "version": "0"}, "seq": i,
                 "payload": {"tool_name": "search_kb", "parameters": PARAMS, "result": RESULT,
                             "status": "success", "duration_ms": 12.5}}
        try:
            raw.produce(settings.topics.raw, value=orjson.dumps(event), partition=0)
        except BufferError:
            raw.poll(0.1)
        if i % 1000 == 0:
            raw.poll(0)

    figures = _timed(produce, N)
    raw.flush(60)
    return figures


def _otel_span() -> tuple[float, float]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    tracer = provider.get_tracer("bench")

    def span(i: int) -> None:
        with tracer.start_as_current_span("search_kb", attributes={"gen_ai.tool.name": "search_kb"}):
            pass

    figures = _timed(span, N)
    provider.shutdown()
    return figures


def _record_and_deliver(settings: Settings, options: ClientOptions) -> tuple[float, bool]:
    transport = KafkaTransport(settings, options=options, exit_hook=False)
    trail = _trail(transport)
    start = time.perf_counter()
    for i in range(N):
        trail.record_tool_call("search_kb", parameters={"i": i}, duration_ms=1.0)
    delivered = transport.flush(120)
    events_s = N / (time.perf_counter() - start)
    transport.shutdown(5)
    return events_s, delivered and transport.counters.sent == N


def main() -> None:
    gc.freeze()  # the objects made at start-up are not ours to measure
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as spool:
        options = ClientOptions.from_env()
        options = ClientOptions(**{**options.__dict__, "spool_dir": Path(spool)})
        block, direct = _ours(settings, options)
        raw = _raw_produce(settings, options)
        otel = _otel_span()
        events_s, delivered = _record_and_deliver(settings, options)
    print(f"producer benchmark: {N:,} calls per path, one thread, local broker; all delivered: {delivered}")
    rows: list[tuple[str, tuple[float, float]]] = [
        ("with trail.tool_call(...) (headline)", block),
        ("trail.record_tool_call(...)", direct),
        ("(a) orjson event + confluent produce()", raw),
        ("(b) OpenTelemetry span, BatchSpanProcessor", otel),
    ]
    table(["path", "median µs", "p99 µs", "median vs (a)"],
          [[name, f"{m:.2f}", f"{p:.2f}", f"{m / raw[0]:.2f}x"] for name, (m, p) in rows])
    print(f"recorded and delivered by one thread: {events_s:,.0f} events/s")
    emit({"median_us": round(block[0], 2), "p99_us": round(block[1], 2),
          "raw_produce_us": round(raw[0], 2), "otel_span_us": round(otel[0], 2),
          "events_s": round(events_s)})


if __name__ == "__main__":
    main()
