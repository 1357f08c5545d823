"""The archive against Elasticsearch on a month of demo traffic: write rate, bytes per event, query time.

The events are the demo's simulated agents recorded through the real client, then redacted and
hash-chained by the stream's own processor, their sessions spread over 30 days, published to
``agent.events``. Both sinks then drain the same topic in this process (each in its own group):
- write rate: the archive worker (Parquet to S3, commit after the write) against the Elasticsearch
  sink (bulk create, commit after the ack), the baseline, both from Kafka to durable storage;
- bytes per event: the archive's objects after daily compaction against the events indices' store
  size after a force-merge to one segment (and the events' JSON as published, for scale);
- query time: the four named questions on both tiers, best of three runs each.
``BENCH_ARCHIVE_EVENTS`` sets the number of events (default 150,000).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from confluent_kafka import Producer

from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.processing import EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.demo.scenario import AGENTS, simulate_session
from agent_audit.producers import AuditTrail
from agent_audit.producers.memory import MemoryTransport
from agent_audit.sinks import queries as es_queries
from agent_audit.sinks.archive import queries as archive_queries
from agent_audit.sinks.archive.compaction import compact
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.layout import EVENTS
from agent_audit.sinks.archive.reader import archived_days, open_archive
from agent_audit.sinks.archive.unsealing import build_row_opener
from agent_audit.sinks.archive.worker import ArchiveSink
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.worker import EventSink
from bench.harness import emit, fresh_settings, table

N = int(os.environ.get("BENCH_ARCHIVE_EVENTS", "150000"))
DAYS = 30
TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def month_of_traffic(n: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """At least ``n`` stored events ``(key, value)`` as the stream publishes them, over 30 days."""
    rng = random.Random(seed)
    processor = EnvelopeProcessor(Redactor(), SessionChains(ChainHasher()))
    out: list[tuple[bytes, bytes]] = []
    i = 0
    while len(out) < n:
        mem = MemoryTransport()
        agent = AGENTS[i % len(AGENTS)]
        simulate_session(AuditTrail(f"m-{i:06d}", f"user-{rng.randrange(300):03d}", agent.name, agent.version,
                                    transport=mem), agent, rng)
        at = TODAY - timedelta(days=i % DAYS, seconds=rng.randrange(40_000))
        lines = []
        for k, ev in enumerate(mem.decoded()):
            ev["timestamp"] = (at + timedelta(milliseconds=250 * k)).isoformat().replace("+00:00", "Z")
            lines.append(orjson.dumps(ev))
        out += ((e.key, e.value) for e in processor.process(b"\n".join(lines)).events)
        i += 1
    return out


def publish(settings: Settings, events: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20,
                         "compression.type": "lz4"})
    for key, value in events:
        while True:
            try:
                producer.produce(settings.topics.events, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def drain_archive(settings: Settings, archive: ArchiveSettings, n: int) -> float:
    sink = ArchiveSink(settings, archive)
    sink.start()
    start = _first_records(sink.step)  # the clock starts with the first records, not the group join
    idle = 0
    while sink.written < n and idle < 20:
        idle = idle + 1 if sink.step() == 0 else 0
        if idle == 2:
            sink.flush_all()
    sink.flush_all()
    elapsed = time.perf_counter() - start
    sink.consumer.close()
    assert sink.written >= n, f"archive wrote {sink.written} of {n}"
    return n / elapsed


def drain_es(settings: Settings, n: int) -> float:
    sink = EventSink(settings)
    sink.consumer.subscribe([settings.topics.events])
    from agent_audit.sinks.indices import install_templates  # noqa: PLC0415

    install_templates(sink.es, settings.index_prefix)
    start = _first_records(sink.step)
    while sink.stored + sink.duplicates < n:
        sink.step()
    sink.drain(final=True)
    elapsed = time.perf_counter() - start
    sink.lanes.shutdown()
    sink.consumer.close()
    return n / elapsed


def _first_records(step: Callable[[], int]) -> float:
    """Step until records come; returns when the step that brought them began."""
    while True:
        began = time.perf_counter()
        if step():
            return began


def best_ms(run: Callable[[], Any], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    events = month_of_traffic(N)
    n = len(events)
    json_bytes = sum(len(v) for _, v in events)
    with fresh_settings() as settings:
        s3 = _s3_env()
        archive = ArchiveSettings.from_env({**settings.to_env(), **s3,
                                            "AUDIT_ARCHIVE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
                                            "AUDIT_ARCHIVE_GROUP": f"{settings.sink_group}-archive",
                                            "AUDIT_ARCHIVE_BATCH": "20000", "AUDIT_ARCHIVE_LINGER_S": "5"})
        publish(settings, events)
        archive_rate = drain_archive(settings, archive, n)
        es_rate = drain_es(settings, n)
        from agent_audit.sinks.archive.store import build_store  # noqa: PLC0415
        from agent_audit.sinks.worker import build_es  # noqa: PLC0415

        store, es = build_store(archive), build_es(settings)
        try:
            small_objects = len(store.list(EVENTS))
            compact(store, archived_days(store))
            parquet_bytes = sum(len(store.get(k) or b"") for k in store.list(EVENTS))
            alias = events_alias(settings.index_prefix)
            es.indices.refresh(index=alias)
            es.indices.forcemerge(index=alias, max_num_segments=1)
            stats = es.indices.stats(index=alias, metric="store")
            es_bytes = stats["_all"]["primaries"]["store"]["size_in_bytes"]
            queries = _time_queries(es, settings, store)
        finally:
            for key in store.list(""):
                store.delete(key)
            es.close()
    _report(n, json_bytes, archive_rate, es_rate, small_objects, parquet_bytes, es_bytes, queries)


def _time_queries(es: Any, settings: Settings, store: Any) -> dict[str, tuple[float, float]]:
    con, opener, prefix = open_archive(store), build_row_opener(settings), settings.index_prefix
    session, user = "m-000042", "user-042"
    since = (TODAY - timedelta(days=7)).isoformat()
    until = TODAY.isoformat()
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "session timeline": (lambda: archive_queries.session_timeline(con, session, opener),
                             lambda: es_queries.session_timeline(es, prefix, session)),
        "user, 7 days": (lambda: archive_queries.user_events(con, user, opener, since, until),
                         lambda: list(es_queries.user_events(es, prefix, user, since, until))),
        "tool usage": (lambda: archive_queries.tool_usage(con), lambda: es_queries.tool_usage(es, prefix)),
        "errors per day": (lambda: archive_queries.errors_per_day(con),
                           lambda: es_queries.errors_per_day(es, prefix)),
    }
    return {name: (best_ms(a), best_ms(e)) for name, (a, e) in pairs.items()}


def _s3_env() -> dict[str, str]:
    keys = ("AUDIT_ARCHIVE_S3_ENDPOINT", "AUDIT_ARCHIVE_BUCKET", "AUDIT_ARCHIVE_S3_ACCESS_KEY",
            "AUDIT_ARCHIVE_S3_SECRET_KEY")
    if all(os.environ.get(k) for k in keys):
        return {k: os.environ[k] for k in keys}
    from agent_audit.stack import LocalStack  # noqa: PLC0415

    node = LocalStack.from_env().s3
    node.up(timeout=180.0)
    return node.env()


def _report(n: int, json_bytes: int, archive_rate: float, es_rate: float, small_objects: int,
            parquet_bytes: int, es_bytes: int, queries: dict[str, tuple[float, float]]) -> None:
    print(f"{n:,} events over {DAYS} days ({small_objects} objects before compaction)\n")
    table(["write (Kafka to durable storage)", "events/s"],
          [["archive worker (Parquet, zstd, S3)", archive_rate], ["Elasticsearch sink (baseline)", es_rate]])
    print()
    table(["storage", "bytes/event", "total MB"],
          [["archive (Parquet, compacted)", parquet_bytes / n, parquet_bytes / 1e6],
           ["Elasticsearch (store, 1 segment)", es_bytes / n, es_bytes / 1e6],
           ["events as published (JSON)", json_bytes / n, json_bytes / 1e6]])
    print()
    table(["named query (best of 3)", "archive ms", "Elasticsearch ms"],
          [[name, a, e] for name, (a, e) in queries.items()])
    emit({"bench": "archive", "events": n, "archive_events_per_s": round(archive_rate),
          "es_events_per_s": round(es_rate), "parquet_bytes_per_event": round(parquet_bytes / n, 1),
          "es_bytes_per_event": round(es_bytes / n, 1), "json_bytes_per_event": round(json_bytes / n, 1),
          "query_ms": {k: {"archive": round(a, 1), "es": round(e, 1)} for k, (a, e) in queries.items()}})


if __name__ == "__main__":
    main()
