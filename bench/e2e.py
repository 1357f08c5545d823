"""End to end: events/s from the client to searchable in Elasticsearch, and record-to-searchable latency.

One stream worker and one sink worker (child processes, as deployed) on the local stack. The client
records events at a paced rate; Elasticsearch's count is polled every 100 ms without forcing a
refresh (the index's own 1 s refresh decides when a document is searchable, as for users). An event counts as
searchable at the first poll whose count reaches its position in recording order, so latency is
measured per position (a FIFO approximation: partitions move at slightly different speeds).
Baseline in the same run: the same number of documents bulk-indexed straight into Elasticsearch
(the last hop alone, with nothing before it). Target: >= 10k events/s with p99 <= 2.5 s.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, KafkaTransport
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.sinks.worker import build_es
from agent_audit.stack.workers import running_workers
from bench.harness import emit, fresh_settings, table
from bench.sink import documents, raw_bulk

RATE = int(os.environ.get("BENCH_E2E_RATE", "12000"))  # events/s offered
SECONDS = float(os.environ.get("BENCH_E2E_SECONDS", "20"))
SESSIONS = 500


def _record(settings: Settings, total: int, stamps: list[float]) -> None:
    transport = KafkaTransport(settings)
    trails = [AuditTrail(session_id=f"e2e-{i}", user_id=f"user-{i % 50}", agent="bench",
                         transport=transport) for i in range(SESSIONS)]
    start = time.perf_counter()
    for i in range(total):
        due = start + i / RATE
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        trails[i % SESSIONS].record_tool_call(
            "search_kb", parameters={"query": f"refund for jane{i}@example.com"},
            result={"hits": i % 7}, duration_ms=float(i % 300))
        stamps.append(time.perf_counter())
    transport.flush(60)
    transport.close()


def main() -> None:
    total = int(RATE * SECONDS)
    with fresh_settings() as settings, tempfile.TemporaryDirectory() as logs:
        es = build_es(settings)
        alias = events_alias(settings.index_prefix)
        with running_workers(settings.to_env(), Path(logs)) as workers:
            time.sleep(6)  # let both workers join their groups before the clock starts
            stamps: list[float] = []
            recorder = threading.Thread(target=_record, args=(settings, total, stamps))
            recorder.start()
            polls: list[tuple[float, int]] = []
            deadline = time.perf_counter() + SECONDS + 120
            count = 0
            while count < total and time.perf_counter() < deadline:
                time.sleep(0.1)
                count = count_searchable(es, alias)  # 0 until the index and its shard are there
                polls.append((time.perf_counter(), count))
                workers.check_alive()
            recorder.join()
    latencies = []
    k = 0
    for i, recorded_at in enumerate(stamps):
        while k < len(polls) and polls[k][1] < i + 1:
            k += 1
        if k == len(polls):
            break
        latencies.append(polls[k][0] - recorded_at)
    done_at = polls[-1][0] if polls and polls[-1][1] >= total else float("nan")
    events_s = total / (done_at - stamps[0])
    with fresh_settings() as baseline_settings:
        raw_docs_s = raw_bulk(baseline_settings, documents(min(total, 60_000)),
                              baseline_settings.index_prefix + "-raw").docs_s
    q = statistics.quantiles(latencies, n=100)
    p50, p99 = statistics.median(latencies), q[98]
    print(f"e2e benchmark: {total:,} tool_call events offered at {RATE:,}/s from {SESSIONS} sessions; "
          f"searchable {count:,}")
    table(["figure", "value"], [["events/s (record to searchable)", events_s],
                                ["latency p50 (s)", f"{p50:.2f}"], ["latency p99 (s)", f"{p99:.2f}"],
                                ["offered rate (events/s)", float(RATE)],
                                ["baseline: raw ES bulk alone (docs/s)", raw_docs_s]])
    emit({"events_s": round(events_s), "p50_s": round(p50, 3), "p99_s": round(p99, 3),
          "raw_bulk_docs_s": round(raw_docs_s)})


if __name__ == "__main__":
    main()
