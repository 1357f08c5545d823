"""End to end: the highest rate the pipeline sustains from the client to searchable with p99 <= 2 s.

One stream worker and one sink worker (child processes started as the tests start them,
``stack.workers``) on the local stack, the topics' default partitions. In one namespace:
1. Baselines. N events are recorded through the client with no worker running; then the stream
   worker alone turns them into ``agent.events`` (events/s between its first and its last output,
   CPU µs/event from /proc), then the sink alone indexes them (documents/s between its first and
   last commit). Raw bulk indexing of the same kind of documents into Elasticsearch, in a
   namespace of its own, is the last hop with nothing before it.
2. A search for the highest sustained rate, both workers running. Each step offers a rate for
   ``BENCH_E2E_STEP_S`` seconds once the pipeline is idle, and passes if every event is searchable
   within ``DRAIN_S`` of the last record and the p99 from record to searchable is <= 2 s. The first
   step is a quarter of the slower worker's rate alone; it doubles while steps pass and halves while
   they fail until one of each brackets the answer, then bisects (geometric mean) until the bracket
   is within ``RESOLUTION`` or the ramp's ``BENCH_E2E_BUDGET_S`` is spent. ``BENCH_E2E_RATES`` runs
   fixed rates instead.
Per event, the time to each stage (``bench.e2e_probe``: on ``agent.events``, acknowledged by the
sink, searchable) gives each stage's share of the latency; per step, the CPU of every component
(workers, broker, Elasticsearch, this process, and the rest of the machine, from /proc) shows who
spends the two cores, with Elasticsearch's refreshes and bulk requests. The machine is shared: the
load average (``uptime``) is printed before and after, and beside each step.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

from confluent_kafka import Consumer, KafkaException, TopicPartition
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, KafkaTransport
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.sinks.worker import build_es
from agent_audit.stack.workers import Workers, running_workers
from bench.e2e_probe import Poller, Tap, stage_times
from bench.harness import emit, fresh_settings, table
from bench.proc_cpu import cpu_seconds, listening_pid, machine_busy_seconds
from bench.sink import documents, raw_bulk
from bench.stage_probe import free_port, snapshot

BASE_EVENTS = int(os.environ.get("BENCH_E2E_BASELINE_EVENTS", "60000"))
STEP_S = float(os.environ.get("BENCH_E2E_STEP_S", "12"))
BUDGET_S = float(os.environ.get("BENCH_E2E_BUDGET_S", "240"))  # the ramp's share of the run
RATES = [int(r) for r in os.environ.get("BENCH_E2E_RATES", "").split(",") if r]
# To measure another trade-off than the template's 1 s: set on the events index before the ramp.
REFRESH = os.environ.get("BENCH_E2E_REFRESH", "")
FIRST_FRACTION = 0.25  # of the slower worker's rate alone
RESOLUTION = 0.1  # the search stops once the failing rate is within 10% of the passing one
MIN_RATE = 100.0
P99_S = 2.0
DRAIN_S = 10.0  # after the last record of a step: later than this, the step failed
POLL_S = 0.05
IDLE_S = 6.0
SESSIONS = 500
STAGES = ("on agent.events", "acknowledged", "searchable")
SHARES = ("client to topic", "topic to acked", "acked to searchable")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


class Recorder:
    """The agents: SESSIONS trails on one client transport, recording tool calls with PII to redact."""

    def __init__(self, settings: Settings) -> None:
        self.transport = KafkaTransport(settings)
        self.trails = [AuditTrail(session_id=f"e2e-{i}", user_id=f"user-{i % 50}", agent="bench",
                                  transport=self.transport) for i in range(SESSIONS)]
        self.stamps = array("d")  # per event k: when it was recorded (perf_counter)

    @property
    def recorded(self) -> int:
        return len(self.stamps)

    def record(self, n: int, rate: float) -> None:
        """``n`` events at ``rate`` per second (unpaced if 0), each stamped when recorded. Event k goes
        to session ``k % SESSIONS`` (``bench.e2e_probe`` relies on it)."""
        start = time.perf_counter()
        clock, stamps, trails = time.perf_counter, self.stamps, self.trails
        for i in range(n):
            if rate and i % 50 == 0 and (ahead := start + i / rate - clock()) > 0:
                time.sleep(ahead)  # paced in slices of 50: a sleep per event would cost more than it
            k = len(stamps)
            trails[k % SESSIONS].record_tool_call(
                "search_kb", parameters={"query": f"refund for jane{k}@example.com"},
                result={"hits": k % 7}, duration_ms=float(k % 300))
            stamps.append(clock())

    def close(self) -> None:
        self.transport.flush(60)
        self.transport.close()


class Counts:
    """For the baselines: events on agent.events, acknowledged by the sink, searchable, read together."""

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


class CpuMeter:
    """CPU seconds of each component (from /proc) and of the whole machine, between two snapshots."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}

    def snapshot(self) -> dict[str, float]:
        out = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        out["machine"] = machine_busy_seconds()
        out["wall"] = time.perf_counter()
        return out

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Seconds per component, ``other`` for the rest of the machine, ``cores`` busy on average."""
        out = {name: after[name] - before[name] for name in before if name not in ("machine", "wall")}
        machine = after["machine"] - before["machine"]
        out["other"] = max(0.0, machine - sum(out.values()))
        out["wall"] = max(after["wall"] - before["wall"], 1e-3)
        out["cores"] = machine / out["wall"]
        return out


def es_refresh_stats(es: Elasticsearch) -> tuple[int, int, int]:
    """Elasticsearch's refreshes, their total milliseconds, and bulk requests so far (all indices)."""
    nodes = es.nodes.stats(metric="indices", index_metric="refresh,bulk")["nodes"]
    refresh = [n["indices"]["refresh"] for n in nodes.values()]
    bulk = [n["indices"].get("bulk", {}).get("total_operations", 0) for n in nodes.values()]
    return sum(r["total"] for r in refresh), sum(r["total_time_in_millis"] for r in refresh), sum(bulk)


@dataclass
class Step:
    offered: float  # events/s asked of the recorder
    recorded_s: float  # the rate it achieved
    delivered_s: float  # events / (all searchable - first recorded)
    quantiles: dict[str, tuple[float, float]]  # stage (cumulative) or share (increment) -> (p50, p99) s
    cpu_us: dict[str, float]  # component -> CPU µs/event over the step
    cores: float  # machine cores busy on average over the step (all processes)
    es: dict[str, float] = field(default_factory=dict)  # refreshes/s, ms per refresh, bulk requests/s
    stream: dict[str, float] = field(default_factory=dict)  # envelopes, their time, CPU per stage
    load: float = 0.0
    drained: bool = False

    @property
    def ok(self) -> bool:
        return self.drained and self.quantiles["searchable"][1] <= P99_S


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    if any(math.isinf(v) for v in values):  # some never got there: nearest-rank, inf if among them
        ranked = sorted(values)
        return ranked[len(ranked) // 2], ranked[int(len(ranked) * 0.99)]
    return statistics.median(values), statistics.quantiles(values, n=100)[98]


@dataclass
class Pipeline:
    """What a step needs: the agents, the probes, the workers, the meters."""
    recorder: Recorder
    tap: Tap
    poller: Poller
    workers: Workers
    cpu: CpuMeter
    es: Elasticsearch
    stream_port: int

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.perf_counter() + timeout
        while self.poller.searchable() < self.recorder.recorded:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the pipeline did not catch up: {self.poller.searchable()} of "
                                   f"{self.recorder.recorded}")
            self.workers.check_alive()
            time.sleep(POLL_S)


def run_step(rate: float, pipe: Pipeline) -> Step:
    pipe.wait_idle()
    base = pipe.recorder.recorded
    n = int(rate * STEP_S)
    stream_pid = pipe.workers.procs["stream"].pid
    stream0 = stream_probe(stream_pid, pipe.stream_port)
    es0, cpu0 = es_refresh_stats(pipe.es), pipe.cpu.snapshot()
    thread = threading.Thread(target=pipe.recorder.record, args=(n, rate))
    thread.start()
    deadline = None
    while True:
        time.sleep(POLL_S)
        pipe.workers.check_alive()
        if not thread.is_alive():
            deadline = deadline or time.perf_counter() + DRAIN_S
            if pipe.poller.searchable() >= base + n or time.perf_counter() > deadline:
                break
    thread.join()
    spent, es1 = CpuMeter.spent(cpu0, pipe.cpu.snapshot()), es_refresh_stats(pipe.es)
    stream = {k: v - stream0.get(k, 0.0) for k, v in stream_probe(stream_pid, pipe.stream_port).items()}
    time.sleep(2 * POLL_S)  # the poller's reads in flight land
    times = stage_times(pipe.recorder.stamps, base, n, pipe.tap, pipe.poller, base)
    quantiles = {stage: _quantiles([t[i] for t in times]) for i, stage in enumerate(STAGES)}
    quantiles[SHARES[0]] = quantiles[STAGES[0]]
    for i in (1, 2):
        quantiles[SHARES[i]] = _quantiles([t[i] - t[i - 1] for t in times if not math.isinf(t[i])])
    stamps = pipe.recorder.stamps
    done = max((stamps[base + i] + t[2] for i, t in enumerate(times) if t[2] < math.inf), default=math.inf)
    elapsed, refreshes = spent.pop("wall"), es1[0] - es0[0]
    return Step(
        offered=rate, recorded_s=n / max(stamps[-1] - stamps[base], 1e-3),
        delivered_s=n / (done - stamps[base]) if done < math.inf else 0.0,
        quantiles=quantiles,
        cores=spent.pop("cores"), cpu_us={name: s / n * 1e6 for name, s in spent.items()},
        es={"refreshes_s": refreshes / elapsed, "ms_per_refresh": (es1[1] - es0[1]) / max(refreshes, 1),
            "bulk_s": (es1[2] - es0[2]) / elapsed},
        stream=_stream_figures(stream, elapsed), load=os.getloadavg()[0],
        drained=pipe.poller.searchable() >= base + n)


_ENVELOPE_METRICS = ("audit_stream_envelopes_total", "audit_stream_events_out_total",
                     "audit_stream_envelope_seconds_sum")


def stream_probe(pid: int, port: int) -> dict[str, float]:
    """The stream worker's counters so far: envelopes, events out, seconds from an envelope's
    arrival to its outputs' ack (summed), and CPU per stage (``bench.stage_probe``)."""
    return snapshot(pid, port, also=_ENVELOPE_METRICS)


def _stream_figures(delta: dict[str, float], elapsed: float) -> dict[str, float]:
    """Events per envelope, ms per envelope, the share of the step an envelope was in the works,
    and CPU µs/event: per stage, and the framework (what no stage accounts for)."""
    envelopes = max(delta.pop("audit_stream_envelopes_total", 0.0), 1.0)
    events = max(delta.pop("audit_stream_events_out_total", 0.0), 1.0)
    seconds = delta.pop("audit_stream_envelope_seconds_sum", 0.0)
    process = delta.pop("process", 0.0)
    out = {"events/envelope": events / envelopes, "envelopes/s": envelopes / elapsed,
           "ms/envelope": seconds / envelopes * 1e3}
    stages = {k: v / events * 1e6 for k, v in delta.items() if v > 0}
    out.update(stages)
    out["framework"] = process / events * 1e6 - sum(stages.values())
    return out


def measure_idle(pipe: Pipeline, seconds: float = IDLE_S) -> dict[str, float]:
    """Cores each component spends with the workers running and nothing recorded: fixed costs."""
    pipe.wait_idle()
    before = pipe.cpu.snapshot()
    time.sleep(seconds)
    spent = CpuMeter.spent(before, pipe.cpu.snapshot())
    wall = spent.pop("wall")
    return {name: value if name == "cores" else value / wall for name, value in spent.items()}


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
    """Which stage's share of the p99 is the largest."""
    shares = {share: step.quantiles[share][1] for share in SHARES}
    return max(shares, key=lambda k: shares[k] if shares[k] == shares[k] else math.inf)


def search(first: float, measure: Callable[[float], Step]) -> list[Step]:
    """Double while steps pass, halve while they fail; once a pass and a fail bracket the answer,
    bisect (geometric mean) until they are within RESOLUTION, or the time budget is spent."""
    steps: list[Step] = []
    began = time.perf_counter()
    passed = failed = 0.0  # the highest passing and the lowest failing rate so far

    def affordable() -> bool:
        return not steps or time.perf_counter() - began + STEP_S + DRAIN_S <= BUDGET_S

    rate = first
    while affordable() and rate >= MIN_RATE:
        step = measure(rate)
        steps.append(step)
        if step.ok:
            passed = max(passed, rate)
        else:
            failed = min(failed or rate, rate)
        if passed and failed:
            if failed <= passed * (1 + RESOLUTION):
                break
            rate = round(math.sqrt(passed * failed), -1)
        else:
            rate = rate * 2 if step.ok else rate / 2
    if not affordable():
        print(f"ramp stopped at its time budget ({BUDGET_S:.0f} s)")
    return steps


def _measured_step(rate: float, pipe: Pipeline) -> Step:
    step = run_step(rate, pipe)
    p50, p99 = step.quantiles["searchable"]
    print(f"  step {rate:,.0f}/s: p50 {p50:.2f} s, p99 {p99:.2f} s, {'ok' if step.ok else 'FAILS'} "
          f"(load {step.load:.2f}, {step.cores:.2f} cores busy)", flush=True)
    return step


def _pq(q: tuple[float, float]) -> str:
    return f"{q[0]:.2f} / {q[1]:.2f}"


def _report(steps: Sequence[Step], alone: dict[str, tuple[float, float]], raw_docs_s: float,
            idle: dict[str, float], loads: tuple[str, str]) -> None:
    print(f"e2e benchmark: {SESSIONS} sessions, one stream and one sink worker, steps of {STEP_S:.0f} s; "
          f"p99 target {P99_S} s; baselines over {BASE_EVENTS:,} events")
    print(f"before: {loads[0]}\nafter:  {loads[1]}"
          + (f"\nevents index refresh_interval set to {REFRESH} (BENCH_E2E_REFRESH)" if REFRESH else ""))
    table(["baseline (same run)", "events/s", "CPU µs/event"], [
        ["stream worker alone (raw topic preloaded)", alone["stream"][0], f"{alone['stream'][1]:.1f}"],
        ["sink worker alone (agent.events preloaded)", alone["sink"][0], f"{alone['sink'][1]:.1f}"],
        ["raw Elasticsearch bulk, no pipeline", raw_docs_s, "-"]])
    ordered = sorted(steps, key=lambda s: s.offered)
    print("\nlatency from record, p50 / p99 seconds: per stage's share, and to searchable")
    table(["offered/s", "recorded/s", "delivered/s", *SHARES, "searchable", "load 1m", "ok"],
          [[s.offered, s.recorded_s, s.delivered_s, *(_pq(s.quantiles[sh]) for sh in SHARES),
            _pq(s.quantiles["searchable"]), f"{s.load:.2f}", "yes" if s.ok else "NO"] for s in ordered])
    components = list(ordered[0].cpu_us) if ordered else []
    print("\nCPU µs per event by process over the step (/proc), cores busy on the machine, "
          "Elasticsearch refreshes and bulk requests")
    table(["offered/s", *components, "cores busy", "refresh/s", "ms/refresh", "bulk req/s"],
          [[s.offered, *(f"{s.cpu_us[c]:.0f}" for c in components), f"{s.cores:.2f}",
            f"{s.es['refreshes_s']:.1f}", f"{s.es['ms_per_refresh']:.0f}", f"{s.es['bulk_s']:.1f}"]
           for s in ordered])
    print(f"idle, workers running ({IDLE_S:.0f} s), cores: "
          + ", ".join(f"{name} {value:.3f}" for name, value in idle.items() if name != "cores")
          + f"; machine {idle['cores']:.2f}")
    print("\nthe stream worker over the step: envelopes (arrival to outputs acknowledged) and CPU µs/event "
          "per stage")
    columns = sorted({k for s in ordered for k in s.stream},
                     key=lambda k: (k not in ("events/envelope", "envelopes/s", "ms/envelope"), k))
    table(["offered/s", *columns], [[s.offered, *(f"{s.stream.get(c, 0.0):.1f}" for c in columns)]
                                    for s in ordered])
    passed = [s for s in steps if s.ok]
    best = max(passed, key=lambda s: s.offered) if passed else None
    failed = min((s for s in steps if not s.ok and (best is None or s.offered > best.offered)),
                 key=lambda s: s.offered, default=None)
    where = _bottleneck(failed or steps[-1]) if steps else "-"
    print(f"\nsustained with p99 <= {P99_S} s: {f'{best.offered:,.0f} events/s' if best else 'no step'}"
          f"{f'; first failing step {failed.offered:,.0f}/s' if failed else ' (every step passed)'}; "
          f"largest share of the p99 there: {where}")
    emit({"sustained_events_s": round(best.offered) if best else 0,
          "p50_s": round(best.quantiles["searchable"][0], 3) if best else None,
          "p99_s": round(best.quantiles["searchable"][1], 3) if best else None,
          "first_failing_events_s": round(failed.offered) if failed else None, "bottleneck": where,
          "stream_alone_events_s": round(alone["stream"][0]), "stream_cpu_us": round(alone["stream"][1], 1),
          "sink_alone_docs_s": round(alone["sink"][0]), "sink_cpu_us": round(alone["sink"][1], 1),
          "raw_bulk_docs_s": round(raw_docs_s), "idle_cores": {k: round(v, 3) for k, v in idle.items()},
          "steps": [{"offered": round(s.offered), "delivered": round(s.delivered_s),
                     "p99_s": {k: round(s.quantiles[k][1], 3) for k in (*SHARES, "searchable")},
                     "cpu_us": {k: round(v, 1) for k, v in s.cpu_us.items()}, "cores": round(s.cores, 2),
                     "ok": s.ok, "load": round(s.load, 2)} for s in steps],
          "refresh_interval": REFRESH or "template", "uptime_before": loads[0], "uptime_after": loads[1]})


def _service_pids(settings: Settings) -> dict[str, int | None]:
    """The broker's and Elasticsearch's processes, if they run on this machine."""
    kafka_port = int(settings.kafka_bootstrap.split(",")[0].rpartition(":")[2])
    es_port = urlparse(settings.es_url).port or 9200
    return {"kafka": listening_pid(kafka_port), "elasticsearch": listening_pid(es_port)}


def main() -> None:
    before = uptime()
    with fresh_settings() as raw_settings:
        raw_docs_s = raw_bulk(raw_settings, documents(BASE_EVENTS), raw_settings.index_prefix + "-raw").docs_s
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as logs:
        env = {**os.environ, **settings.to_env()}
        es = build_es(settings)
        counts = Counts(settings, es)
        recorder = Recorder(settings)
        try:
            recorder.record(BASE_EVENTS, 0)
            recorder.transport.flush(60)
            stream_port = free_port()  # its telemetry: envelopes and CPU per stage
            with running_workers({**env, "AUDIT_METRICS_PORT": str(stream_port)}, Path(logs),
                                 names=("stream",)) as workers:
                alone = {"stream": _alone(counts, 0, BASE_EVENTS, workers.procs["stream"].pid,
                                          workers.check_alive)}
                workers.start("sink", env)
                alone["sink"] = _alone(counts, 1, BASE_EVENTS, workers.procs["sink"].pid, workers.check_alive)
                tap = Tap(settings.kafka_bootstrap, settings.topics.events, settings.events_partitions,
                          SESSIONS, recorder.recorded)
                pipe = Pipeline(
                    recorder, tap,
                    Poller(settings.kafka_bootstrap, settings.sink_group, settings.topics.events,
                           settings.events_partitions, es, events_alias(settings.index_prefix), POLL_S),
                    workers,
                    CpuMeter({"stream": workers.procs["stream"].pid, "sink": workers.procs["sink"].pid,
                              **_service_pids(settings), "bench": os.getpid()}), es, stream_port)
                try:
                    capacity = min(alone["stream"][0], alone["sink"][0])
                    if REFRESH:
                        es.indices.put_settings(index=events_alias(settings.index_prefix),
                                                settings={"index": {"refresh_interval": REFRESH}})
                    idle = measure_idle(pipe)
                    measure = partial(_measured_step, pipe=pipe)
                    steps = [measure(float(r)) for r in RATES] if RATES else \
                        search(round(FIRST_FRACTION * capacity, -1), measure)
                finally:
                    pipe.tap.close()
                    pipe.poller.close()
        finally:
            recorder.close()
            counts.close()
    _report(steps, alone, raw_docs_s, idle, (before, uptime()))


if __name__ == "__main__":
    main()
