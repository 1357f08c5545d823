"""Stream state at 1M sessions: memory, state-topic bytes and restore time, with and without retirement.

One stream partition sees ``BENCH_STATE_SESSIONS`` sessions (default 1,000,000) start one after the
other over ``BENCH_STATE_DAYS`` simulated days (default 10), each with enough events to fill its
chain state (``ChainState.RECENT`` hashes: the usual case). Four runs through the stream's own code
(``stream.state.PartitionState``: ``put`` + ``touch`` per session, ``retire`` as the idle timer
calls it), each record in two forms:
- v2 JSON (the baseline: the record as the stream wrote it before the state was packed, a dict in
  memory) and v3 packed (``ChainState.to_record``: bytes in memory and on the topic);
- no retirement (every session ever seen stays) and ``AUDIT_SESSION_IDLE_S`` = 1 day (the default:
  only sessions active in the last day stay).
For each, in a process of its own: live sessions; memory (RSS growth of that process while it
holds that state: the values as the stream keeps them, plus the activity order); state-topic bytes
(key + value of the live records, what compaction keeps; tombstones are kept a further
``delete.retention.ms`` before they go too); restore time (``PartitionState.load`` of a fresh
compacted partition holding the live records, on the real Kafka, as a restarted or rebalanced
worker does it); and the idle timer's cost of a sweep, per 10,000 retirements (median and max over
the run: the max includes the collector's pauses).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Producer

from agent_audit.core.integrity import ChainState
from agent_audit.core.settings import Settings
from agent_audit.stream.state import PartitionState
from bench.harness import emit, fresh_settings, table

N = int(os.environ.get("BENCH_STATE_SESSIONS", "1000000"))
DAYS = float(os.environ.get("BENCH_STATE_DAYS", "10"))
IDLE_S = 86_400.0
SWEEP_EVERY = 1_000  # sessions between two retire() calls: the timer runs every few seconds


@dataclass
class Run:
    name: str
    live: int
    rss_mb: float
    topic_mb: float
    restore_s: float
    sweep_ms: tuple[float, float] | None  # (median, max) ms per 10,000 retirements


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _record(session: int, seq: int, at: float, packed: bool) -> dict[str, Any] | bytes:
    """A session's state record as the stream writes it (see stream.app chain_records): v3 bytes,
    or the v2 JSON the stream wrote before. Hashes are distinct (cheaper to make than random ones,
    the same size)."""
    first = max(0, seq - ChainState.RECENT + 1)
    salt = session * 1_000
    links = [format(salt + s, "064x") for s in range(first - 1, seq + 1)]
    recent = tuple((s, links[s - first + 1], links[s - first] if s else None, s // 8, s % 8)
                   for s in range(first, seq + 1))
    chain = ChainState(seq, recent[-1][1], recent, recent[-1][3])
    return chain.to_record(at) if packed else {**chain.to_json(), "at": at}


def _fill(state: PartitionState, retire: bool, packed: bool) -> tuple[float, float] | None:
    """Sessions start in order over DAYS; returns the (median, max) sweep time per 10k in ms."""
    step = DAYS * 86_400 / N
    sweeps: list[float] = []
    for i in range(N):
        at = i * step
        key = f"chain:session-{i:08d}"
        state.put(0, key, _record(i, 24, at, packed))
        state.touch(0, key, at)
        if retire and i % SWEEP_EVERY == 0:
            started = time.perf_counter()
            gone = state.retire(0, at - IDLE_S)
            if len(gone) >= 500:
                sweeps.append((time.perf_counter() - started) * 1000 * 10_000 / len(gone))
    return (statistics.median(sweeps), max(sweeps)) if sweeps else None


def _restore(settings: Settings, values: dict[str, Any], topic_partition: int) -> tuple[float, float]:
    """Publish the live records to one state partition; time PartitionState.load of it."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 50,
                         "compression.type": "lz4", "batch.size": 1_000_000})
    size = 0
    for key, value in values.items():
        k, v = key.encode(), value if isinstance(value, bytes) else orjson.dumps(value)
        size += len(k) + len(v)
        while True:
            try:
                producer.produce(settings.topics.state, key=k, value=v, partition=topic_partition)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(120) == 0
    reader = PartitionState(settings)
    started = time.perf_counter()
    reader.load(topic_partition, timeout=120)
    restore = time.perf_counter() - started
    assert len(reader.partitions[topic_partition]) == len(values)
    return size / 2**20, restore


def _run(settings: Settings, name: str, retire: bool, packed: bool, topic_partition: int) -> Run:
    gc.collect()
    before = _rss_mb()
    state = PartitionState(settings)
    state.partitions[0] = {}
    sweep = _fill(state, retire, packed)
    gc.collect()
    rss = _rss_mb() - before
    live = len(state.partitions[0])
    topic_mb, restore = _restore(settings, state.partitions[0], topic_partition)
    del state
    gc.collect()
    return Run(name, live, rss, topic_mb, restore, sweep)


def _isolated(settings: Settings, name: str, retire: bool, packed: bool, topic_partition: int) -> Run:
    """``_run`` in a forked process: memory freed by one run would hide the next one's growth."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=lambda: send.send(_run(settings, name, retire, packed, topic_partition)))
    child.start()
    run: Run = receive.recv()
    child.join()
    return run


def _json(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {"live": run.live, "memory_mb": round(run.rss_mb), "topic_mb": round(run.topic_mb),
                           "restore_s": round(run.restore_s, 2)}
    if run.sweep_ms is not None:
        out["sweep_10k_ms"] = [round(x, 1) for x in run.sweep_ms]
    return out


def main() -> None:
    plan = [("v2 JSON, no retirement (baseline)", False, False),
            ("v3 packed, no retirement", False, True),
            ("v2 JSON, retired after 1 day idle", True, False),
            ("v3 packed, retired after 1 day idle", True, True)]
    with fresh_settings() as settings:
        runs = [_isolated(settings, name, retire, packed, i) for i, (name, retire, packed) in enumerate(plan)]
    print(f"state benchmark: {N:,} sessions over {DAYS:g} simulated days on one partition, "
          f"{ChainState.RECENT} hashes each; restore = PartitionState.load from the real Kafka; "
          f"load {os.getloadavg()[0]:.2f}")
    table(["run", "live sessions", "memory MB", "topic MB", "restore s", "sweep of 10k ms (median/max)"],
          [[r.name, f"{r.live:,}", r.rss_mb, r.topic_mb, f"{r.restore_s:.2f}",
            "-" if r.sweep_ms is None else f"{r.sweep_ms[0]:.1f} / {r.sweep_ms[1]:.1f}"] for r in runs])
    v2, v3, v2_retired, v3_retired = runs
    emit({"sessions": N, "days": DAYS, "idle_s": IDLE_S, "load": round(os.getloadavg()[0], 2),
          "v2": _json(v2), "v3": _json(v3), "v2_retired": _json(v2_retired), "v3_retired": _json(v3_retired),
          "v3_memory_ratio": round(v3.rss_mb / v2.rss_mb, 3) if v2.rss_mb else None,
          "v3_topic_ratio": round(v3.topic_mb / v2.topic_mb, 3) if v2.topic_mb else None})


if __name__ == "__main__":
    main()
