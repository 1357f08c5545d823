"""Sink throughput: documents/s from agent.events into Elasticsearch, beside a raw bulk of the same docs.

Ours includes everything the worker does (Kafka consume, bulk with op_type=create, per-item
classification, offset commit after the ack); the baseline is the elasticsearch client's bulk of
the same bytes, pre-built, into an index of its own. Target: at least 0.8 of raw.
"""

from __future__ import annotations

import os
import time

import orjson
from confluent_kafka import Producer

from bench.harness import emit, fresh_settings, table
from core.settings import Settings
from sinks.bulk import BulkItem, build_body
from sinks.indices import event_index, events_alias, install_templates
from sinks.worker import EventSink, build_es
from tests.factories import event

N = int(os.environ.get("BENCH_SINK_DOCS", "60000"))
BATCH = 2000


def documents(n: int) -> list[tuple[str, bytes]]:
    docs = []
    for i in range(n):
        ev = event("tool_call", i // 100, session=f"s-{i % 100}")
        ev["payload"]["parameters"] = {"query": f"order {i}", "limit": 10}
        docs.append((ev["event_id"], orjson.dumps(ev)))
    return docs


def raw_bulk(settings: Settings, docs: list[tuple[str, bytes]]) -> float:
    es = build_es(settings)
    prefix = settings.index_prefix + "-raw"
    install_templates(es, prefix)
    index = event_index(prefix, "2026.11.25")
    bodies = [build_body([BulkItem(i, index, d) for i, d in docs[k:k + BATCH]])
              for k in range(0, len(docs), BATCH)]
    start = time.perf_counter()
    for body in bodies:
        resp = es.bulk(operations=body)  # type: ignore[arg-type]
        assert not resp["errors"]
    return len(docs) / (time.perf_counter() - start)


def _ours(settings: Settings, docs: list[tuple[str, bytes]]) -> float:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
    for event_id, doc in docs:
        producer.produce(settings.topics.events, value=doc,
                         headers=[("event_id", event_id.encode()), ("day", b"2026.11.25")])
        producer.poll(0)
    producer.flush(60)
    sink = EventSink(settings)
    install_templates(sink.es, settings.index_prefix)
    sink.consumer.subscribe([settings.topics.events])
    while sink.step() == 0:  # the clock starts after the group join and the first batch
        pass
    start, first = time.perf_counter(), sink.stored
    while sink.stored + sink.duplicates < len(docs):
        sink.step()
    elapsed = time.perf_counter() - start
    sink.consumer.close()
    sink.es.indices.refresh(index=events_alias(settings.index_prefix))
    assert sink.es.count(index=events_alias(settings.index_prefix))["count"] == len(docs)
    return (len(docs) - first) / elapsed


def main() -> None:
    docs = documents(N)
    with fresh_settings() as settings:
        raw = raw_bulk(settings, docs)
        ours = _ours(settings, docs)
    print(f"sink benchmark: {N:,} documents of {sum(len(d) for _, d in docs) / N:.0f} bytes, "
          f"bulks of {BATCH}")
    table(["path", "docs/s", "ratio"], [["raw elasticsearch bulk", raw, "1.00"],
                                         ["agent-audit sink", ours, f"{ours / raw:.2f}"]])
    emit({"docs_s": round(ours), "raw_bulk_docs_s": round(raw), "ratio": round(ours / raw, 3)})


if __name__ == "__main__":
    main()
