"""End to end: the highest rate the pipeline sustains from the client to searchable with p99 <= 2 s.

One stream worker and one sink worker (child processes started as the tests start them,
``stack.workers``) on the local stack, the topics' default partitions. In one namespace:
1. Baselines. N events are recorded through the client with no worker running; then the stream
   worker alone turns them into ``agent.events`` (events/s between its first and its last output,
   CPU µs/event from /proc), then the sink alone indexes them (documents/s between its first and
   last commit). Raw bulk indexing of the same kind of documents into Elasticsearch, in a
   namespace of its own, is the last hop with nothing before it.
2. A ramp, both workers running: steps of offered rate (fractions of the slower worker's rate
   alone, or ``BENCH_E2E_RATES``), each held ``BENCH_E2E_STEP_S`` seconds after the pipeline is
   idle. Every 100 ms the bench reads three counts: events on ``agent.events`` (the stream's
   output), the sink group's committed offsets (acknowledged by Elasticsearch), and Elasticsearch's
   own count without forcing a refresh (the index's 1 s refresh decides when a document is
   searchable, as for users). An event reaches a stage at the first read whose count passes its
   position in recording order (a FIFO approximation: partitions move at slightly different
   speeds). A step passes if every event is searchable within ``DRAIN_S`` of the last record and
   p99 <= 2 s; the ramp stops at the first step that fails, or when ``BENCH_E2E_BUDGET_S`` is spent
   (if the very first step fails, it steps down to a half and a quarter of it to find a floor).
Each stage's p99 and each worker's CPU per event show where the time goes. The machine is shared:
the load average (``uptime``) is printed before and after, and beside each step.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, KafkaTransport
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.sinks.worker import build_es
from agent_audit.stack.workers import Workers, running_workers
from bench.harness import emit, fresh_settings, table
from bench.sink import documents, raw_bulk

BASE_EVENTS = int(os.environ.get("BENCH_E2E_BASELINE_EVENTS", "60000"))
STEP_S = float(os.environ.get("BENCH_E2E_STEP_S", "12"))
BUDGET_S = float(os.environ.get("BENCH_E2E_BUDGET_S", "240"))  # the ramp's share of the run
RATES = [int(r) for r in os.environ.get("BENCH_E2E_RATES", "").split(",") if r]
FRACTIONS = (0.3, 0.45, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)  # of the slower worker's rate alone
P99_S = 2.0
DRAIN_S = 10.0  # after the last record of a step: later than this, the step failed
POLL_S = 0.1
SESSIONS = 500
STAGES = ("stream", "sink ack", "searchable")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


class Recorder:
    """The agents: SESSIONS trails on one client transport, recording tool calls with PII to redact."""

    def __init__(self, settings: Settings) -> None:
        self.transport = KafkaTransport(settings)
        self.trails = [AuditTrail(session_id=f"e2e-{i}", user_id=f"user-{i % 50}", agent="bench",
                                  transport=self.transport) for i in range(SESSIONS)]
        self.recorded = 0

    def record(self, n: int, rate: float, stamps: list[float]) -> None:
        """``n`` events at ``rate`` per second (unpaced if 0), each stamped when recorded."""
        start = time.perf_counter()
        clock = time.perf_counter
        for i in range(n):
            if rate and i % 50 == 0 and (ahead := start + i / rate - clock()) > 0:
                time.sleep(ahead)  # paced in slices of 50: a sleep per event would cost more than it
            k = self.recorded
            self.trails[k % SESSIONS].record_tool_call(
                "search_kb", parameters={"query": f"refund for jane{k}@example.com"},
                result={"hits": k % 7}, duration_ms=float(k % 300))
            self.recorded += 1
            stamps.append(clock())

    def close(self) -> None:
        self.transport.flush(60)
        self.transport.close()


class Counts:
    """The three counts, read together: on agent.events, acknowledged by the sink, searchable."""

    def __init__(self, settings: Settings, es: Elasticsearch) -> None:
        self.es, self.alias = es, events_alias(settings.index_prefix)
        self.topic = settings.topics.events
        self.offsets = Consumer({"bootstrap.servers": settings.kafka_bootstrap,  # never subscribes: reads,
                                 "group.id": settings.sink_group, "enable.auto.commit": False})  # never joins
        self.partitions = [TopicPartition(self.topic, p) for p in range(settings.events_partitions)]
        self.last = (0, 0, 0)

    def read(self) -> tuple[int, int, int]:
        try:
            out = sum(self.offsets.get_watermark_offsets(tp, timeout=5)[1] for tp in self.partitions)
            acked = sum(max(0, tp.offset) for tp in self.offsets.committed(self.partitions, timeout=5))
        except KafkaException:
            return self.last  # a slow answer: the next read catches up
        self.last = (out, acked, count_searchable(self.es, self.alias))
        return self.last

    def close(self) -> None:
        self.offsets.close()


@dataclass
class Step:
    offered: float  # events/s asked of the recorder
    recorded_s: float  # the rate it achieved
    delivered_s: float  # events / (all searchable - first recorded)
    quantiles: dict[str, tuple[float, float]]  # stage -> (p50, p99) seconds from record
    cpu_us: dict[str, float]  # worker -> CPU µs/event over the step
    load: float
    drained: bool

    @property
    def ok(self) -> bool:
        return self.drained and self.quantiles["searchable"][1] <= P99_S


def _latencies(stamps: Sequence[float], polls: Sequence[tuple[float, int]], base: int) -> list[float]:
    """Per event, from its record to the first poll whose count passed its position (FIFO)."""
    out, k = [], 0
    for i, recorded_at in enumerate(stamps):
        while k < len(polls) and polls[k][1] < base + i + 1:
            k += 1
        if k == len(polls):
            break
        out.append(polls[k][0] - recorded_at)
    return out


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    return statistics.median(values), statistics.quantiles(values, n=100)[98]


def _wait_idle(counts: Counts, total: int, alive: Callable[[], None], timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while counts.read()[2] < total:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the pipeline did not catch up: {counts.last} of {total}")
        alive()
        time.sleep(POLL_S)


def run_step(rate: float, recorder: Recorder, counts: Counts, workers: Workers) -> Step:
    base = recorder.recorded
    _wait_idle(counts, base, workers.check_alive)
    n = int(rate * STEP_S)
    stamps: list[float] = []
    pids = {name: proc.pid for name, proc in workers.procs.items()}
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    thread = threading.Thread(target=recorder.record, args=(n, rate, stamps))
    thread.start()
    polls: list[tuple[float, tuple[int, int, int]]] = []
    deadline = None
    while True:
        time.sleep(POLL_S)
        polls.append((time.perf_counter(), counts.read()))
        workers.check_alive()
        if not thread.is_alive():
            deadline = deadline or time.perf_counter() + DRAIN_S
            if polls[-1][1][2] >= base + n or time.perf_counter() > deadline:
                break
    thread.join()
    drained = polls[-1][1][2] >= base + n
    quantiles = {}
    for i, stage in enumerate(STAGES):
        lat = _latencies(stamps, [(t, c[i]) for t, c in polls], base)
        quantiles[stage] = _quantiles(lat) if len(lat) == n else (float("nan"), float("inf"))
    cpu = {name: (cpu_seconds(pid) - cpu0[name]) / n * 1e6 for name, pid in pids.items()}
    done_at = next((t for t, c in polls if c[2] >= base + n), polls[-1][0])
    return Step(rate, n / (stamps[-1] - stamps[0]), n / (done_at - stamps[0]), quantiles, cpu,
                os.getloadavg()[0], drained)


def _alone(counts: Counts, which: int, expected: int, pid: int,
           alive: Callable[[], None]) -> tuple[float, float]:
    """events/s and CPU µs/event of one worker, from its first output to its last (start-up excluded)."""
    first_at, first, first_cpu = 0.0, 0, 0.0
    deadline = time.perf_counter() + 300
    while (seen := counts.read()[which]) < expected:
        now = time.perf_counter()
        if seen and not first_at:
            first_at, first, first_cpu = now, seen, cpu_seconds(pid)
        if now > deadline:
            raise TimeoutError(f"{STAGES[which]}: {seen} of {expected}")
        alive()
        time.sleep(0.02)
    done_at, cpu = time.perf_counter(), cpu_seconds(pid)
    n = expected - first
    return n / max(done_at - first_at, 1e-3), (cpu - first_cpu) / max(n, 1) * 1e6


def _bottleneck(step: Step) -> str:
    """Which stage's p99 adds the most to the step's latency."""
    stream, ack, searchable = (step.quantiles[s][1] for s in STAGES)
    shares = {"stream (record to agent.events)": stream, "sink (agent.events to acknowledged)": ack - stream,
              "Elasticsearch refresh (acknowledged to searchable)": searchable - ack}
    return max(shares, key=lambda k: shares[k] if shares[k] == shares[k] else float("inf"))


def es_cpu_seconds(es: Elasticsearch) -> float:
    """Elasticsearch's own process CPU so far (a node shared with whatever else runs on the stack)."""
    nodes = es.nodes.stats(metric="process")["nodes"]
    return float(sum(n["process"]["cpu"]["total_in_millis"] for n in nodes.values())) / 1000


def _ramp(rates: Sequence[float], recorder: Recorder, counts: Counts, workers: Workers) -> list[Step]:
    steps: list[Step] = []
    began = time.perf_counter()
    for rate in rates:
        if steps and time.perf_counter() - began + STEP_S + DRAIN_S > BUDGET_S:
            print(f"ramp stopped at its time budget ({BUDGET_S:.0f} s) before {rate:,.0f}/s")
            break
        step = _measured_step(rate, recorder, counts, workers)
        steps.append(step)
        if not step.ok:
            break
    if steps and not any(s.ok for s in steps):  # the first step failed: step down to find a floor
        for rate in (steps[0].offered / 2, steps[0].offered / 4):
            steps.insert(0, _measured_step(rate, recorder, counts, workers))
            if steps[0].ok:
                break
    return steps


def _measured_step(rate: float, recorder: Recorder, counts: Counts, workers: Workers) -> Step:
    es0 = es_cpu_seconds(counts.es)
    step = run_step(rate, recorder, counts, workers)
    step.cpu_us["elasticsearch (shared)"] = (es_cpu_seconds(counts.es) - es0) / (rate * STEP_S) * 1e6
    p50, p99 = step.quantiles["searchable"]
    print(f"  step {rate:,.0f}/s: p50 {p50:.2f} s, p99 {p99:.2f} s, {'ok' if step.ok else 'FAILS'} "
          f"(load {step.load:.2f})", flush=True)
    return step


def _report(steps: Sequence[Step], alone: dict[str, tuple[float, float]], raw_docs_s: float,
            loads: tuple[str, str]) -> None:
    print(f"e2e benchmark: {SESSIONS} sessions, one stream and one sink worker, steps of {STEP_S:.0f} s; "
          f"p99 target {P99_S} s; baselines over {BASE_EVENTS:,} events")
    print(f"before: {loads[0]}\nafter:  {loads[1]}")
    table(["baseline (same run)", "events/s", "CPU µs/event"], [
        ["stream worker alone (raw topic preloaded)", alone["stream"][0], f"{alone['stream'][1]:.1f}"],
        ["sink worker alone (agent.events preloaded)", alone["sink"][0], f"{alone['sink'][1]:.1f}"],
        ["raw Elasticsearch bulk, no pipeline", raw_docs_s, "-"]])
    print()
    workers = list(steps[0].cpu_us) if steps else []
    table(["offered/s", "recorded/s", "delivered/s", *(f"{s} p50/p99 s" for s in STAGES),
           *(f"{w} µs/ev" for w in workers), "load 1m", "ok"],
          [[s.offered, s.recorded_s, s.delivered_s,
            *(f"{s.quantiles[st][0]:.2f} / {s.quantiles[st][1]:.2f}" for st in STAGES),
            *(f"{s.cpu_us[w]:.1f}" for w in workers), f"{s.load:.2f}", "yes" if s.ok else "NO"]
           for s in steps])
    passed = [s for s in steps if s.ok]
    best = max(passed, key=lambda s: s.offered) if passed else None
    failed = min((s for s in steps if not s.ok and (best is None or s.offered > best.offered)),
                 key=lambda s: s.offered, default=None)
    where = _bottleneck(failed or steps[-1]) if steps else "-"
    print(f"\nsustained with p99 <= {P99_S} s: {f'{best.offered:,.0f} events/s' if best else 'no step'}"
          f"{f'; first failing step {failed.offered:,.0f}/s' if failed else ' (every step passed)'}; "
          f"most of the p99 there: {where}")
    emit({"sustained_events_s": round(best.offered) if best else 0,
          "p50_s": round(best.quantiles["searchable"][0], 3) if best else None,
          "p99_s": round(best.quantiles["searchable"][1], 3) if best else None,
          "first_failing_events_s": round(failed.offered) if failed else None, "bottleneck": where,
          "stream_alone_events_s": round(alone["stream"][0]), "stream_cpu_us": round(alone["stream"][1], 1),
          "sink_alone_docs_s": round(alone["sink"][0]), "sink_cpu_us": round(alone["sink"][1], 1),
          "raw_bulk_docs_s": round(raw_docs_s),
          "steps": [{"offered": round(s.offered), "delivered": round(s.delivered_s),
                     "p99_s": round(s.quantiles["searchable"][1], 3), "ok": s.ok, "load": round(s.load, 2)}
                    for s in steps],
          "uptime_before": loads[0], "uptime_after": loads[1]})


def main() -> None:
    before = uptime()
    with fresh_settings() as raw_settings:
        raw_docs_s = raw_bulk(raw_settings, documents(BASE_EVENTS), raw_settings.index_prefix + "-raw").docs_s
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as logs:
        env = {**os.environ, **settings.to_env()}
        counts = Counts(settings, build_es(settings))
        recorder = Recorder(settings)
        try:
            recorder.record(BASE_EVENTS, 0, [])
            recorder.transport.flush(60)
            with running_workers(env, Path(logs), names=("stream",)) as workers:
                alone = {"stream": _alone(counts, 0, BASE_EVENTS, workers.procs["stream"].pid,
                                          workers.check_alive)}
                workers.start("sink", env)
                alone["sink"] = _alone(counts, 1, BASE_EVENTS, workers.procs["sink"].pid, workers.check_alive)
                capacity = min(alone["stream"][0], alone["sink"][0])
                rates = [float(r) for r in RATES] or [round(f * capacity, -2) for f in FRACTIONS]
                steps = _ramp(rates, recorder, counts, workers)
        finally:
            recorder.close()
            counts.close()
    _report(steps, alone, raw_docs_s, (before, uptime()))


if __name__ == "__main__":
    main()
