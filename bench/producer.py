"""The client's cost on the agent's hot path, beside a raw produce() and an OpenTelemetry span.

Per recorded tool call (median and p99 of single calls, in µs), measured in one thread against the
local broker, with (a) confluent-kafka ``produce()`` of the same event serialized with orjson and
(b) an OpenTelemetry span start+end through a BatchSpanProcessor whose exporter discards. Then
events/s one thread records and delivers (record N, flush until the broker acknowledged all).
Target: median <= 5 µs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from confluent_kafka import Producer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from bench.harness import emit, fresh_settings, table
from core.wire import new_event_id
from producers import AuditTrail, KafkaTransport

N = int(os.environ.get("BENCH_PRODUCER_CALLS", "100000"))


class Discard(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _timed(call: Callable[[int], None], n: int) -> tuple[float, float]:
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(i)
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def main() -> None:
    with fresh_settings() as settings:
        transport = KafkaTransport(settings)
        trail = AuditTrail(session_id="bench", user_id="u", agent="bench", transport=transport)
        ours = _timed(lambda i: trail.record_tool_call(
            "search_kb", parameters={"query": "refund", "i": i}, result={"hits": 3}, duration_ms=12.5), N)
        transport.flush(60)

        raw = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5,
                        "compression.type": "lz4", "enable.idempotence": True})

        def raw_produce(i: int) -> None:
            event = {"schema_version": 1, "event_id": new_event_id(), "kind": "tool_call", "level": "info",
                     "timestamp": datetime.now(UTC).isoformat(), "session_id": "bench", "user_id": "u",
                     "agent": {"name": "bench", "version": "0"}, "seq": i,
                     "payload": {"tool_name": "search_kb", "parameters": {"query": "refund", "i": i},
                                 "result": {"hits": 3}, "status": "success", "duration_ms": 12.5}}
            try:
                raw.produce(settings.topics.raw, value=orjson.dumps(event), partition=0)
            except BufferError:
                raw.poll(0.1)
            if i % 1000 == 0:
                raw.poll(0)

        raw_figures = _timed(raw_produce, N)
        raw.flush(60)

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Discard()))
        tracer = provider.get_tracer("bench")

        def span(i: int) -> None:
            with tracer.start_as_current_span("search_kb", attributes={"gen_ai.tool.name": "search_kb"}):
                pass

        otel = _timed(span, N)
        provider.shutdown()

        delivery = KafkaTransport(settings)
        t2 = AuditTrail(session_id="bench-2", user_id="u", agent="bench", transport=delivery)
        start = time.perf_counter()
        for i in range(N):
            t2.record_tool_call("search_kb", parameters={"i": i}, duration_ms=1.0)
        delivered = delivery.flush(120)
        events_s = N / (time.perf_counter() - start)
        delivery.close()
        transport.close()
    print(f"producer benchmark: {N:,} calls per path, one thread; all delivered: {delivered}")
    table(["path", "median µs", "p99 µs"], [
        ["AuditTrail.record_tool_call", f"{ours[0]:.2f}", f"{ours[1]:.2f}"],
        ["(a) orjson + confluent produce()", f"{raw_figures[0]:.2f}", f"{raw_figures[1]:.2f}"],
        ["(b) OpenTelemetry span, BatchSpanProcessor", f"{otel[0]:.2f}", f"{otel[1]:.2f}"],
    ])
    print(f"recorded and delivered by one thread: {events_s:,.0f} events/s")
    emit({"median_us": round(ours[0], 2), "p99_us": round(ours[1], 2),
          "raw_produce_us": round(raw_figures[0], 2), "otel_span_us": round(otel[0], 2),
          "events_s": round(events_s)})


if __name__ == "__main__":
    main()
