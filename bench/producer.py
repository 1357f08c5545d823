"""The client's cost on the agent's hot path, beside a raw produce() and an OpenTelemetry span.

Per recorded tool call (median and p99 of single calls, in µs), one thread, against the local
broker, in one run: ``with trail.tool_call(...)`` (the headline: what agents write) and
``record_tool_call``; (a) confluent-kafka ``produce()`` of the same event built and serialized with
orjson; (b) an OpenTelemetry span start+end through a BatchSpanProcessor whose exporter discards.
Then events/s one thread records and delivers (record N, flush until the broker acknowledged all).
Target: median <= 5 µs. ``BENCH_PRODUCER_CALLS`` sets N (default 100000).

The tail: median, p99.9, max and the count of calls over 1 ms and over 5 ms, while the broker is
away (a closed port: everything goes to the spool) and then while the next process replays that
spool, with an agent that does a little other work between calls; before (the broker probe blocked
the transport's thread 0.5 s, and the queue piled up behind it) and now. Goal: max <= 5 ms. The baseline,
interleaved with them (twice), is the same agent loop on a transport that keeps events in a list
and runs no thread: what the machine itself does to a loop of Python calls (on a shared 2-core
machine its scheduler adds spikes of its own). ``BENCH_PRODUCER_TAIL_CALLS`` sets the calls (100000).
"""

from __future__ import annotations

import dataclasses
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
from confluent_kafka import Producer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from agent_audit.core.settings import Settings
from agent_audit.core.wire import new_event_id
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport, MemoryTransport
from agent_audit.producers.publisher import producer_config
from bench.harness import emit, fresh_settings, table

N = int(os.environ.get("BENCH_PRODUCER_CALLS", "100000"))
TAIL_N = int(os.environ.get("BENCH_PRODUCER_TAIL_CALLS", "100000"))
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


def _trail(transport: KafkaTransport | MemoryTransport) -> AuditTrail:
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


Tail = tuple[float, float, float, int, int]  # median, p99.9, max per call (µs); calls over 1 ms, 5 ms


def _paced(transport: KafkaTransport | MemoryTransport, n: int) -> Tail:
    """Single calls of an agent that works a little between them (0.5 ms every 20 calls)."""
    trail = _trail(transport)
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        trail.record_tool_call("search_kb", parameters={"i": i}, duration_ms=1.0)
        samples.append(clock() - start)
        if i % 20 == 0:
            time.sleep(0.0005)
    samples.sort()
    over = [sum(1 for s in samples if s > limit) for limit in (1_000_000, 5_000_000)]
    return samples[n // 2] / 1000, samples[int(n * 0.999)] / 1000, samples[-1] / 1000, over[0], over[1]


def _outage_then_replay(settings: Settings, options: ClientOptions,
                        probe_s: float | None) -> tuple[Tail, Tail]:
    with tempfile.TemporaryDirectory() as spool:
        local = dataclasses.replace(options, spool_dir=Path(spool))
        nowhere = dataclasses.replace(settings, kafka_bootstrap="127.0.0.1:1")
        away = KafkaTransport(nowhere, options=local, exit_hook=False)
        away.replayer.probe_timeout_s = probe_s or away.replayer.probe_timeout_s
        time.sleep(0.5)  # the start-up probe has found the broker away
        during = _paced(away, TAIL_N)
        away.shutdown(0.5)
        back = KafkaTransport(settings, options=local, exit_hook=False)
        back.replayer.probe_timeout_s = probe_s or back.replayer.probe_timeout_s
        replaying = _paced(back, TAIL_N)
        back.shutdown(60)
    return during, replaying


def _tails(settings: Settings, options: ClientOptions) -> list[tuple[str, Tail]]:
    rows: list[tuple[str, Tail]] = []
    for attempt in (1, 2):
        control = _paced(MemoryTransport(), TAIL_N)
        rows.append((f"baseline: same loop, no transport thread, run {attempt}", control))
        for label, probe_s in (("before: 0.5 s probes", 0.5), ("probes <= a linger", None)):
            away, replay = _outage_then_replay(settings, options, probe_s)
            rows += [(f"{label}, broker away, run {attempt}", away),
                     (f"{label}, spool replaying, run {attempt}", replay)]
    return rows


def main() -> None:
    gc.freeze()  # the objects made at start-up are not ours to measure
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as spool:
        options = ClientOptions.from_env()
        options = ClientOptions(**{**options.__dict__, "spool_dir": Path(spool)})
        block, direct = _ours(settings, options)
        raw = _raw_produce(settings, options)
        otel = _otel_span()
        events_s, delivered = _record_and_deliver(settings, options)
        tails = _tails(settings, options)
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
    print(f"\nthe tail: {TAIL_N:,} paced calls per row (load average now {os.getloadavg()[0]:.1f})")
    table(["scenario", "median µs", "p99.9 µs", "max µs", "> 1 ms", "> 5 ms"],
          [[name, f"{m:.2f}", f"{p:.1f}", f"{x:.0f}", str(a), str(b)] for name, (m, p, x, a, b) in tails])
    ours = [t for name, t in tails if "linger" in name]
    before = [t for name, t in tails if "before" in name]
    base = [t for name, t in tails if "baseline" in name]
    emit({"median_us": round(block[0], 2), "p99_us": round(block[1], 2),
          "raw_produce_us": round(raw[0], 2), "otel_span_us": round(otel[0], 2),
          "events_s": round(events_s),
          "tail_max_us": round(max(t[2] for t in ours)), "tail_p999_us": round(max(t[1] for t in ours), 1),
          "tail_over_5ms": sum(t[4] for t in ours),
          "before_tail_max_us": round(max(t[2] for t in before)),
          "before_tail_p999_us": round(max(t[1] for t in before), 1),
          "before_tail_over_5ms": sum(t[4] for t in before),
          "baseline_tail_max_us": round(max(t[2] for t in base)),
          "baseline_tail_p999_us": round(max(t[1] for t in base), 1),
          "baseline_tail_over_5ms": sum(t[4] for t in base)})


if __name__ == "__main__":
    main()
