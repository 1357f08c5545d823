"""The client's cost on the agent's hot path, beside a raw produce() and an OpenTelemetry span.

Per recorded tool call (median and p99 of single calls, in µs), one thread, against the local
broker, in one run: ``with trail.tool_call(...)`` (the headline: what agents write) and
``record_tool_call``; (a) confluent-kafka ``produce()`` of the same event built and serialized with
orjson; (b) an OpenTelemetry span start+end through a BatchSpanProcessor whose exporter discards.
Then events/s one thread records and delivers (record N, flush until the broker acknowledged all).
Target: median <= 3 µs and <= 0.2 of the span (the mean of two span runs, before and after ours).
``BENCH_PRODUCER_CALLS`` sets N (default 100000).

The tail of the agent's thread, in phases: a bare loop (no call: the interpreter's and the machine's
own pauses), a call as long as ours on a transport with no thread (as exposed to preemption as
ours), broker healthy, broker away (a closed port: everything goes to the spool), the next
process replaying that spool, the bare loop again; an agent that does 0.5 ms of other work every 20
calls. Per phase: median, p99, p99.9, max, and the max less the call's run-queue wait. Goal: max <=
5 ms, or no worse than the bare loop where the machine's noise dominates. To tell the causes apart,
each call is bracketed by the thread's /proc schedstat (ns on a CPU, ns waiting on a run queue) and
gc.callbacks log every collection: the time of the calls over 1 ms is split into machine (run
queue: other processes had the CPU), gc, GIL/lock (off-CPU, not queued: another thread of ours held
the GIL) and cpu. ``BENCH_PRODUCER_TAIL_CALLS`` sets the calls per phase (100000).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import statistics
import tempfile
import threading
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
from agent_audit.producers import AuditTrail, ClientOptions, Counters, KafkaTransport, Transport
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
    """Median and p99 of single calls, in µs, after a warm-up of n calls (steady state: the queue's
    memory already touched once, as in an agent that has been running a while)."""
    for i in range(n):
        call(i)
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(i)
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def _trail(transport: Transport) -> AuditTrail:
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


class ThreadClock:
    """The calling thread's scheduler counters (/proc schedstat): ns on a CPU, ns waiting on a run
    queue. Waiting on a run queue is the machine (other processes); off-CPU and not waiting there
    is blocked (the GIL, a lock). Zeros where the file is missing."""

    def __init__(self) -> None:
        try:
            path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
            self._fd: int | None = os.open(path, os.O_RDONLY)
        except OSError:
            self._fd = None

    def read(self) -> tuple[int, int]:
        if self._fd is None:
            return 0, 0
        cpu, queued = os.pread(self._fd, 64, 0).split()[:2]
        return int(cpu), int(queued)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


class GcLog:
    """Start and end (perf_counter_ns) of every collection while it is installed."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []
        self._start = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter_ns()
        else:
            self.spans.append((self._start, time.perf_counter_ns()))

    def within(self, start: int, end: int) -> int:
        return sum(max(0, min(b, end) - max(a, start)) for a, b in self.spans if b > start and a < end)


@dataclasses.dataclass
class Tail:
    """One phase's calls (µs) and, over the calls slower than 1 ms, where their time went (ms)."""
    median: float
    p99: float
    p999: float
    max: float
    max_net: float  # the slowest call less its run-queue wait: the part the machine did not cause
    over_1ms: int
    over_5ms: int
    machine_ms: float  # waiting on a run queue (other processes had the CPU)
    gc_ms: float  # collections (on this thread: the agent's allocations trigger them)
    blocked_ms: float  # off-CPU, not queued: the GIL held by another thread, or a lock
    cpu_ms: float  # on a CPU, outside collections: our code, or the interpreter's


def _paced(call: Callable[[int], object], n: int) -> Tail:
    """Single calls of an agent that works a little between them (0.5 ms every 20 calls)."""
    clock, ns = ThreadClock(), time.perf_counter_ns
    collections = GcLog()
    gc.callbacks.append(collections)
    rows = []
    try:
        for i in range(n):
            cpu0, queued0 = clock.read()
            start = ns()
            call(i)
            end = ns()
            cpu1, queued1 = clock.read()
            rows.append((end - start, start, end, cpu1 - cpu0, queued1 - queued0))
            if i % 20 == 0:
                time.sleep(0.0005)
    finally:
        gc.callbacks.remove(collections)
        clock.close()
    return _summary(rows, collections)


def _summary(rows: list[tuple[int, int, int, int, int]], collections: GcLog) -> Tail:
    walls = sorted(r[0] for r in rows)
    n = len(walls)
    slow = [r for r in rows if r[0] > 1_000_000]
    machine = gc_ns = blocked = cpu = 0
    for wall, start, end, cpu_ns, queued_ns in slow:
        queued = min(queued_ns, wall)
        in_gc = min(collections.within(start, end), wall - queued)
        on_cpu = min(cpu_ns, wall - queued)
        machine, gc_ns = machine + queued, gc_ns + in_gc
        cpu += max(0, on_cpu - in_gc)
        blocked += max(0, wall - queued - max(on_cpu, in_gc))
    net = max(r[0] - min(r[4], r[0]) for r in rows)
    return Tail(walls[n // 2] / 1000, walls[int(n * 0.99)] / 1000, walls[int(n * 0.999)] / 1000,
                walls[-1] / 1000, net / 1000, sum(1 for w in walls if w > 1_000_000),
                sum(1 for w in walls if w > 5_000_000), machine / 1e6, gc_ns / 1e6, blocked / 1e6, cpu / 1e6)


def _recording(trail: AuditTrail) -> Callable[[int], object]:
    return lambda i: trail.record_tool_call("search_kb", parameters={"i": i}, duration_ms=1.0)


def _phases(settings: Settings, options: ClientOptions) -> list[tuple[str, Tail]]:
    """Bare loop, broker healthy, broker away (spooling), spool replaying; the bare loop again."""
    rows = [("bare loop (no call, the machine's own pauses)", _paced(_nothing, TAIL_N)),
            ("same-length call, no thread (whole line on the agent's thread)",
             _paced(_recording(_trail(Discarding())), TAIL_N))]
    healthy = KafkaTransport(settings, options=options, exit_hook=False)
    rows.append(("broker healthy", _paced(_recording(_trail(healthy)), TAIL_N)))
    healthy.shutdown(60)
    with tempfile.TemporaryDirectory() as spool:
        local = dataclasses.replace(options, spool_dir=Path(spool))
        nowhere = dataclasses.replace(settings, kafka_bootstrap="127.0.0.1:1")
        away = KafkaTransport(nowhere, options=local, exit_hook=False)
        time.sleep(0.5)  # the start-up probe has found the broker away
        rows.append(("broker away (spooling)", _paced(_recording(_trail(away)), TAIL_N)))
        away.shutdown(0.5)
        spooled = away.counters.spooled
        back = KafkaTransport(settings, options=local, exit_hook=False)
        rows.append((f"spool replaying ({spooled:,} events)", _paced(_recording(_trail(back)), TAIL_N)))
        back.shutdown(60)
    rows.append(("bare loop again", _paced(_nothing, TAIL_N)))
    return rows


class Discarding:
    """A transport without a thread: the trail builds the whole line on the agent's thread (as long a
    call as ours, so as exposed to the machine's preemptions), kept in a list cleared every 1000."""

    def __init__(self) -> None:
        self.kept: list[bytes] = []
        self.counters = Counters()

    def send(self, session_id: str, encoded: bytes) -> bool:
        self.kept.append(encoded)
        if len(self.kept) >= 1000:
            self.kept = []
        return True

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> bool:
        return True


def _nothing(i: int) -> None:
    return None


def main() -> None:
    gc.freeze()  # the objects made at start-up are not ours to measure (what we advise agents too)
    load_before = os.getloadavg()
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as spool:
        options = dataclasses.replace(ClientOptions.from_env(), spool_dir=Path(spool))
        otel = _otel_span()
        block, direct = _ours(settings, options)
        raw = _raw_produce(settings, options)
        otel_after = _otel_span()  # the span again: the machine's speed drifts within a run
        events_s, delivered = _record_and_deliver(settings, options)
        phases = _phases(settings, options)
    span = (otel[0] + otel_after[0]) / 2
    print(f"producer benchmark: {N:,} calls per path, one thread, local broker; all delivered: {delivered}; "
          f"load average {load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at the end")
    rows: list[tuple[str, tuple[float, float]]] = [
        ("with trail.tool_call(...) (headline)", block),
        ("trail.record_tool_call(...)", direct),
        ("(a) orjson event + confluent produce()", raw),
        ("(b) OpenTelemetry span, BatchSpanProcessor (first)", otel),
        ("(b) OpenTelemetry span, BatchSpanProcessor (again)", otel_after),
    ]
    table(["path", "median µs", "p99 µs", "x OTel span", "x (a)"],
          [[name, f"{m:.2f}", f"{p:.2f}", f"{m / span:.3f}", f"{m / raw[0]:.2f}"] for name, (m, p) in rows])
    print(f"recorded and delivered by one thread: {events_s:,.0f} events/s")
    print(f"\nthe agent thread's tail: {TAIL_N:,} paced calls per phase (0.5 ms of other work every 20"
          " calls); calls over 1 ms split by where their time went (ms, summed)")
    table(["phase", "median µs", "p99 µs", "p99.9 µs", "max µs", "max less run-queue µs", "> 1 ms", "> 5 ms",
           "machine", "gc", "GIL/lock", "cpu"],
          [[name, f"{t.median:.2f}", f"{t.p99:.1f}", f"{t.p999:.1f}", f"{t.max:.0f}", f"{t.max_net:.0f}",
            str(t.over_1ms), str(t.over_5ms), f"{t.machine_ms:.1f}", f"{t.gc_ms:.1f}", f"{t.blocked_ms:.1f}",
            f"{t.cpu_ms:.1f}"] for name, t in phases])
    print("machine: waiting on a run queue (other processes); gc: collections on this thread; GIL/lock: "
          "off-CPU and not queued (another thread held the GIL); cpu: on a CPU outside collections")
    ours = [t for name, t in phases if "bare" not in name and "no thread" not in name]
    bare = [t for name, t in phases if "bare" in name]
    alike = [t for name, t in phases if "no thread" in name]
    emit({"median_us": round(block[0], 2), "p99_us": round(block[1], 2), "record_us": round(direct[0], 2),
          "otel_span_us": round(span, 2), "x_otel_span": round(block[0] / span, 3),
          "raw_produce_us": round(raw[0], 2), "events_s": round(events_s),
          "load_avg": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
          "phases": {name.split(" (")[0]: {"median_us": round(t.median, 2), "p99_us": round(t.p99, 1),
                                            "p999_us": round(t.p999, 1), "max_us": round(t.max),
                                            "max_net_us": round(t.max_net), "over_5ms": t.over_5ms,
                                            "machine_ms": round(t.machine_ms, 1), "gc_ms": round(t.gc_ms, 1),
                                            "blocked_ms": round(t.blocked_ms, 1)} for name, t in phases},
          "tail_max_us": round(max(t.max for t in ours)),
          "tail_max_net_us": round(max(t.max_net for t in ours)),
          "tail_p999_us": round(max(t.p999 for t in ours), 1),
          "bare_max_us": round(max(t.max for t in bare)),
          "bare_max_net_us": round(max(t.max_net for t in bare)),
          "same_length_max_us": round(alike[0].max), "same_length_max_net_us": round(alike[0].max_net)})


if __name__ == "__main__":
    main()
