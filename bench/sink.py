"""Sink throughput: documents/s from agent.events into Elasticsearch, beside a raw bulk of the same docs.

Ours includes everything the worker does (Kafka consume, bulk with op_type=create, per-item
classification, offset commit after the ack); the baseline is the elasticsearch client's bulk of
the same bytes, pre-built, into an index of its own, with as many requests in flight as the sink
(``AUDIT_SINK_CONCURRENCY``): the best the sink could do. A warm-up bulk runs first, and the two
alternate over ``ROUNDS`` rounds, each reported at its best, so neither gains from going second.
Target: at least 0.8 of raw.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
from confluent_kafka import Producer

from agent_audit.core.runtime import tune_worker_process
from agent_audit.core.settings import Settings
from agent_audit.sinks.bulk import BulkItem, build_body
from agent_audit.sinks.indices import event_index, events_alias, install_templates
from agent_audit.sinks.worker import EventSink, build_es
from bench.harness import emit, fresh_settings, table
from tests.factories import event

N = int(os.environ.get("BENCH_SINK_DOCS", "200000"))
BATCH = 2000
ROUNDS = int(os.environ.get("BENCH_SINK_ROUNDS", "3"))


def documents(n: int) -> list[tuple[str, bytes]]:
    docs = []
    for i in range(n):
        ev = event("tool_call", i // 100, session=f"s-{i % 100}")
        ev["payload"]["parameters"] = {"query": f"order {i}", "limit": 10}
        docs.append((ev["event_id"], orjson.dumps(ev)))
    return docs


def raw_bulk(settings: Settings, docs: list[tuple[str, bytes]], prefix: str) -> float:
    es = build_es(settings)
    install_templates(es, prefix)
    index = event_index(prefix, "2026.11.25")
    bodies = [build_body([BulkItem(i, index, d) for i, d in docs[k:k + BATCH]])
              for k in range(0, len(docs), BATCH)]

    def send(body: bytes) -> None:
        resp = es.bulk(operations=body)  # type: ignore[arg-type]
        assert not resp["errors"]

    with ThreadPoolExecutor(settings.sink_concurrency) as pool:
        start = time.perf_counter()
        list(pool.map(send, bodies))
        return len(docs) / (time.perf_counter() - start)


def publish(settings: Settings, docs: list[tuple[str, bytes]]) -> None:
    """The documents on agent.events once, as the stream publishes them; every round reads them all."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
    for event_id, doc in docs:
        producer.produce(settings.topics.events, value=doc,
                         headers=[("event_id", event_id.encode()), ("day", b"2026.11.25")])
        producer.poll(0)
    producer.flush(60)


def _ours(base: Settings, docs: list[tuple[str, bytes]], tag: str) -> float:
    settings = dataclasses.replace(base, index_prefix=f"{base.index_prefix}-{tag}",
                                   sink_group=f"{base.sink_group}-{tag}")
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
    tune_worker_process()  # as python -m agent_audit.sinks does; the raw baseline runs in this process too
    raws, ourses = [], []
    with fresh_settings() as settings:
        publish(settings, docs)
        raw_bulk(settings, docs[:5000], settings.index_prefix + "-warm")  # JIT and caches warm
        for r in range(ROUNDS):
            raws.append(raw_bulk(settings, docs, f"{settings.index_prefix}-raw{r}"))
            ourses.append(_ours(settings, docs, f"ours{r}"))
    raw, ours = max(raws), max(ourses)
    print(f"sink benchmark: {N:,} documents of {sum(len(d) for _, d in docs) / N:.0f} bytes, "
          f"raw bulks of {BATCH}, {settings.sink_concurrency} in flight; sink batches of "
          f"{settings.sink_batch}; best of {ROUNDS} rounds "
          f"(raw: {', '.join(f'{x:,.0f}' for x in raws)}; sink: {', '.join(f'{x:,.0f}' for x in ourses)})")
    table(["path", "docs/s", "ratio"], [["raw elasticsearch bulk", raw, "1.00"],
                                         ["agent-audit sink", ours, f"{ours / raw:.2f}"]])
    emit({"docs_s": round(ours), "raw_bulk_docs_s": round(raw), "ratio": round(ours / raw, 3)})


if __name__ == "__main__":
    main()
