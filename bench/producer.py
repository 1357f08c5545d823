"""The client's cost on the agent's hot path, beside a raw produce() and an OpenTelemetry span.

Per recorded tool call (median and p99 of single calls, in µs), one thread, against the local
broker: ``with trail.tool_call(...)`` (the headline: what agents write) and ``record_tool_call``;
(a) confluent-kafka ``produce()`` of the same event built and serialized with orjson; (b) an
OpenTelemetry span start+end through a BatchSpanProcessor whose exporter discards; and an empty
call, the harness's own cost (in every figure, not subtracted).
Same conditions for all: one long-lived transport, producer and tracer provider, and many short
rounds; in each, every path (in an order rotated per round) is warmed up (the first round long:
code specialised, memory touched; then a tenth of a block) and timed for one block of single
calls; then, untimed, every path is flushed, so no queue overflows (drops are counted and printed:
a dropped event is a cheaper call) and no backlog grows. The background threads (ours, the span
processor's, librdkafka's) run during the rounds as they would. Figures: the median and p99 of all
timed calls of a path, the quartiles of its per-round medians, the ratio to the span (pooled, and
the quartiles of the same-round ratios: the machine's speed drifts, a ratio within a round less).
Target: median <= 3 µs and <= 0.2 of the span. Then events/s one thread records and delivers
(record N, flush until the broker acknowledged all). ``BENCH_PRODUCER_CALLS`` sets the timed calls
per path (default 100000), ``BENCH_PRODUCER_ROUNDS`` the rounds they are spread over (50).

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
ROUNDS = int(os.environ.get("BENCH_PRODUCER_ROUNDS", "50"))
TAIL_N = int(os.environ.get("BENCH_PRODUCER_TAIL_CALLS", "100000"))
FIRST_WARM_UP = 20_000  # then a tenth of a block before each block
PARAMS = {"query": "refund policy", "top_k": 3}
RESULT = {"hits": 3}


class Discard(SpanExporter):
    """Counts what it is given: spans the processor dropped never arrive here."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


@dataclasses.dataclass
class CallPath:
    """One measured path: its call, the untimed step after each block, and what it dropped."""
    name: str
    call: Callable[[int], object]
    settle: Callable[[], object]
    dropped: Callable[[], int]
    calls: int = 0  # warm-up and timed
    samples: list[int] = dataclasses.field(default_factory=list)
    round_medians: list[float] = dataclasses.field(default_factory=list)

    figures: tuple[float, float] = (0.0, 0.0)  # median and p99 (µs), kept by ``finish``

    def finish(self) -> None:
        """Keep the median and p99, let the samples go: the tail phases after this must not pay for
        full collections traversing the bench's own lists (an agent's heap holds no such thing)."""
        ordered = sorted(self.samples)
        self.figures = (statistics.median(ordered) / 1000, ordered[int(len(ordered) * 0.99)] / 1000)
        self.samples = []

    def median(self) -> float:
        return self.figures[0]

    def p99(self) -> float:
        return self.figures[1]


def _block(call: Callable[[int], object], n: int, start: int) -> list[int]:
    """n single calls, each timed (ns); the same loop for every path."""
    samples = []
    clock = time.perf_counter_ns
    for i in range(start, start + n):
        t0 = clock()
        call(i)
        samples.append(clock() - t0)
    return samples


def _measure(paths: list[CallPath], n: int, rounds: int) -> None:
    """Rounds of: each path (order rotated per round) warmed up and timed for one block; then,
    untimed, every path settled. Short blocks, many rounds: the machine's drifts reach all paths."""
    per_round = max(1, n // rounds)
    for r in range(rounds):
        shift = r % len(paths)
        for path in paths[shift:] + paths[:shift]:
            warm_up = FIRST_WARM_UP if r == 0 else max(1, per_round // 10)
            _block(path.call, warm_up, 0)
            samples = _block(path.call, per_round, r * per_round)
            path.calls += warm_up + per_round
            path.samples.extend(samples)
            path.round_medians.append(statistics.median(samples) / 1000)
        for path in paths:
            path.settle()
    for path in paths:
        path.finish()


def _trail(transport: Transport) -> AuditTrail:
    return AuditTrail(session_id=f"bench-{uuid.uuid4().hex[:6]}", user_id="u", agent="bench",
                      transport=transport)


def _ours(transport: KafkaTransport) -> tuple[CallPath, CallPath]:
    trail = _trail(transport)

    def with_block(i: int) -> None:
        with trail.tool_call("search_kb", PARAMS) as call:
            call.result = RESULT

    def direct(i: int) -> None:
        trail.record_tool_call("search_kb", parameters=PARAMS, result=RESULT, duration_ms=12.5)

    def settle() -> None:
        transport.flush(60)

    def dropped() -> int:
        return transport.counters.dropped

    return (CallPath("with trail.tool_call(...) (headline)", with_block, settle, dropped),
            CallPath("trail.record_tool_call(...)", direct, settle, dropped))


def _raw_produce(settings: Settings, raw: Producer) -> CallPath:
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

    return CallPath("(a) orjson event + confluent produce()", produce, lambda: raw.flush(60), lambda: 0)


def _otel_span(provider: TracerProvider, exporter: Discard) -> CallPath:
    tracer = provider.get_tracer("bench")

    def span(i: int) -> None:
        with tracer.start_as_current_span("search_kb", attributes={"gen_ai.tool.name": "search_kb"}):
            pass

    path = CallPath("(b) OpenTelemetry span, BatchSpanProcessor", span, provider.force_flush, lambda: 0)
    path.dropped = lambda: path.calls - exporter.exported  # spans made, less those exported
    return path


def _nothing(i: int) -> None:
    return None


def _ratios(path: CallPath, base: CallPath) -> list[float]:
    return [m / b for m, b in zip(path.round_medians, base.round_medians, strict=True)]


def _spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """The quartiles: the middle half of the rounds."""
    q1, _, q3 = _quartiles(values)
    return f"{fmt.format(q1)}..{fmt.format(q3)}"


def _quartiles(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3


def _per_call(settings: Settings, options: ClientOptions) -> list[CallPath]:
    transport = KafkaTransport(settings, options=options, exit_hook=False)
    config = producer_config(settings, options)
    config.pop("log_level")
    raw = Producer(config)
    exporter = Discard()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    paths = [*_ours(transport), _raw_produce(settings, raw), _otel_span(provider, exporter),
             CallPath("(none) an empty call: the harness's own cost", _nothing, lambda: None, lambda: 0)]
    try:
        _measure(paths, N, ROUNDS)
    finally:
        transport.shutdown(60)
        raw.flush(60)
        provider.shutdown()
    return paths


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


def main() -> None:
    gc.freeze()  # the objects made at start-up are not ours to measure (what we advise agents too)
    load_before = os.getloadavg()
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as spool:
        options = dataclasses.replace(ClientOptions.from_env(), spool_dir=Path(spool))
        block, direct, raw, span, empty = _per_call(settings, options)
        events_s, delivered = _record_and_deliver(settings, options)
        gc.collect()
        gc.freeze()  # what the per-call part left (transports, providers) is not the agent's heap
        phases = _phases(settings, options)
    print(f"producer benchmark: {N:,} timed calls per path in {ROUNDS} interleaved rounds, one thread, local "
          f"broker; all delivered: {delivered}; load average {load_before[0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    rows = [block, direct, raw, span, empty]
    table(["path", "median µs", "p99 µs", "round medians µs (q1..q3)", "x OTel span",
           "same-round x span (median, q1..q3)", "x (a)", "dropped"],
          [[p.name, f"{p.median():.2f}", f"{p.p99():.2f}", _spread(p.round_medians),
            f"{p.median() / span.median():.3f}",
            f"{statistics.median(_ratios(p, span)):.3f}, {_spread(_ratios(p, span), '{:.3f}')}",
            f"{p.median() / raw.median():.2f}", str(p.dropped())] for p in rows])
    goal = block.median() <= 3.0 and block.median() / span.median() <= 0.2
    print(f"goal (with-block median <= 3 µs and <= 0.2 of the span): {'met' if goal else 'NOT met'}")
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
    emit({"median_us": round(block.median(), 2), "p99_us": round(block.p99(), 2),
          "median_rounds_q_us": [round(q, 2) for q in _quartiles(block.round_medians)],
          "record_us": round(direct.median(), 2), "record_p99_us": round(direct.p99(), 2),
          "otel_span_us": round(span.median(), 2), "x_otel_span": round(block.median() / span.median(), 3),
          "x_otel_span_rounds_q": [round(q, 3) for q in _quartiles(_ratios(block, span))],
          "record_x_otel_span": round(direct.median() / span.median(), 3),
          "raw_produce_us": round(raw.median(), 2), "empty_call_us": round(empty.median(), 2),
          "dropped": {"ours": block.dropped(), "otel": span.dropped()}, "rounds": ROUNDS, "calls": N,
          "goal_met": goal, "events_s": round(events_s),
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
