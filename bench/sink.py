"""Sink throughput and CPU per event: agent.events into Elasticsearch, beside a raw bulk of the same docs.

The records are what the stream publishes: linked events (``integrity``) sealed under their user's
data key (``AUDIT_SEAL_EVENTS=1``, the default), with the ``event_id`` and ``day`` headers. Ours
includes everything the worker does (Kafka consume, opening the sealed events, bulk with
op_type=create, per-item classification, offset commit after the ack); the baseline is the
elasticsearch client's bulk of the opened documents, pre-built, into an index of its own, with as
many requests in flight as the sink (``AUDIT_SINK_CONCURRENCY``): the best the sink could do. A
warm-up bulk runs first, and the two alternate over ``ROUNDS`` rounds, each reported at its best,
so neither gains from going second. The same worker over the same events unsealed is a third path.

CPU µs/event: this process's CPU time (every thread: consumer, lanes, HTTP) over the timed span,
divided by the documents in it; for the raw bulk, the client's own CPU. The stage table splits the
sink's CPU by step, each measured in-process on the same records (best of 3): what is left of the
total is Kafka, HTTP and the threads. Target: at least 0.8 of raw.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from typing import Any, NamedTuple

import orjson
from confluent_kafka import Producer

from agent_audit.core.datakeys import DataKeys, MemoryKeyStore, master_key_from_settings
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.runtime import tune_worker_process
from agent_audit.core.sealing import open_event, seal_events
from agent_audit.core.settings import Settings
from agent_audit.sinks.bulk import BulkItem, build_body, classify, item_from_record
from agent_audit.sinks.indices import event_index, events_alias, install_templates
from agent_audit.sinks.keystore import ElasticKeyStore
from agent_audit.sinks.lanes import lane_of
from agent_audit.sinks.opening import EventOpener
from agent_audit.sinks.worker import EventSink, build_es
from bench.harness import emit, fresh_settings, table
from tests.factories import event

N = int(os.environ.get("BENCH_SINK_DOCS", "200000"))
BATCH = 2000
ROUNDS = int(os.environ.get("BENCH_SINK_ROUNDS", "3"))
DAY = "2026.11.25"
USERS = 50


class Run(NamedTuple):
    docs_s: float
    cpu_us: float  # this process's CPU per document over the timed span


Record = tuple[str, bytes]  # (event_id, value as published)


def documents(n: int) -> list[Record]:
    """Events as the stream links them (``integrity`` and ``redaction`` added), encoded: what the
    sink indexes once they are opened."""
    chains = SessionChains(ChainHasher())
    docs = []
    for i in range(n):
        ev = event("tool_call", i // 100, session=f"s-{i % 100}", user=f"u-{i % USERS}")
        ev["payload"]["parameters"] = {"query": f"order {i}", "limit": 10}
        ev["redaction"] = {"policy_version": "1", "key_version": "k1", "counts": {"email": 1}}
        linked = chains.apply(ev)
        docs.append((str(linked["event_id"]), orjson.dumps(linked)))
    return docs


def sealed(docs: Sequence[Record], keys: DataKeys) -> list[Record]:
    """The same documents sealed as the stream's output step seals them."""
    events = [orjson.loads(doc) for _, doc in docs]
    return list(zip((i for i, _ in docs), seal_events(events, keys), strict=True))


def raw_bulk(settings: Settings, docs: Sequence[Record], prefix: str) -> Run:
    es = build_es(settings)
    install_templates(es, prefix)
    index = event_index(prefix, DAY)
    bodies = [build_body([BulkItem(i, index, d) for i, d in docs[k:k + BATCH]])
              for k in range(0, len(docs), BATCH)]

    def send(body: bytes) -> None:
        resp = es.bulk(operations=body)  # type: ignore[arg-type]
        assert not resp["errors"]

    with ThreadPoolExecutor(settings.sink_concurrency) as pool:
        start, cpu = time.perf_counter(), time.process_time()
        list(pool.map(send, bodies))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Run(len(docs) / elapsed, cpu / len(docs) * 1e6)


def publish(settings: Settings, records: Sequence[Record], topic: str) -> None:
    """The records on ``topic`` once, as the stream publishes them; every round reads them all."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
    for event_id, value in records:
        while True:
            try:
                producer.produce(topic, value=value,
                                 headers=[("event_id", event_id.encode()), ("day", DAY.encode())])
                break
            except BufferError:  # the local queue is full: let deliveries drain
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)


def _ours(base: Settings, topic: str, total: int, tag: str, keys: MemoryKeyStore) -> Run:
    settings = dataclasses.replace(base, index_prefix=f"{base.index_prefix}-{tag}",
                                   sink_group=f"{base.sink_group}-{tag}")
    sink = EventSink(settings)
    install_templates(sink.es, settings.index_prefix)
    ElasticKeyStore(sink.es, settings.index_prefix).put_many(list(keys.records.values()))
    sink.consumer.subscribe([topic])
    while sink.step() == 0:  # the clock starts after the group join and the first batch
        pass
    start, cpu, first = time.perf_counter(), time.process_time(), sink.stored
    while sink.stored + sink.duplicates < total:
        sink.step()
    sink.drain()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    sink.lanes.shutdown()
    sink.consumer.close()
    sink.es.indices.refresh(index=events_alias(settings.index_prefix))
    assert sink.es.count(index=events_alias(settings.index_prefix))["count"] == total
    assert sink.opener.unreadable == 0 and sink.dead_lettered == 0
    return Run((total - first) / elapsed, cpu / (total - first) * 1e6)


def _best_us(step: Callable[[], Any], n: int) -> float:
    best = float("inf")
    for _ in range(3):
        cpu = time.process_time()
        step()
        best = min(best, time.process_time() - cpu)
    return best / n * 1e6


def stages(records: Sequence[Record], keys: DataKeys) -> list[tuple[str, float]]:
    """The sink's pure steps on these records, µs of CPU per event each (no Kafka, no network)."""
    opener = EventOpener(keys)
    values = [v for _, v in records]
    headers = [[("event_id", i.encode()), ("day", DAY.encode())] for i, _ in records]
    opened = [v for v in opener.open_many(values) if isinstance(v, bytes)]
    index_for_day = lru_cache(maxsize=256)(partial(event_index, "bench"))
    items = [item_from_record(v, h, index_for_day, s)
             for v, h, s in zip(opened, headers, values, strict=True)]
    answer = orjson.dumps({"items": [{"create": {"status": 201}}] * len(items)})
    n = len(records)
    return [
        ("open sealed events (batch)", _best_us(lambda: opener.open_many(values), n)),
        ("  for comparison: open_event one by one",
         _best_us(lambda: [open_event(v, keys) for v in values], n)),
        ("bulk items from records", _best_us(
            lambda: [item_from_record(v, h, index_for_day, s)
                     for v, h, s in zip(opened, headers, values, strict=True)], n)),
        ("lanes (id to lane)", _best_us(lambda: [lane_of(item.doc_id, 2) for item in items], n)),
        ("bulk body", _best_us(lambda: build_body(items), n)),
        ("bulk answer (parse, classify)", _best_us(lambda: classify(items, orjson.loads(answer)), n)),
    ]


def main() -> None:
    docs = documents(N)
    tune_worker_process()  # as python -m agent_audit.sinks does; the raw baseline runs in this process too
    raws, ourses, clears = [], [], []
    with fresh_settings() as settings, fresh_settings() as unsealed:
        store = MemoryKeyStore()
        keys = DataKeys(master_key_from_settings(settings), store)
        records = sealed(docs, keys)
        publish(settings, records, settings.topics.events)
        publish(unsealed, docs, unsealed.topics.events)
        raw_bulk(settings, docs[:5000], settings.index_prefix + "-warm")  # JIT and caches warm
        for r in range(ROUNDS):
            raws.append(raw_bulk(settings, docs, f"{settings.index_prefix}-raw{r}"))
            ourses.append(_ours(settings, settings.topics.events, N, f"ours{r}", store))
            clears.append(_ours(unsealed, unsealed.topics.events, N, f"ours{r}", store))
        split = stages(records[:20_000], keys)
    raw, ours, clear = (max(runs, key=lambda run: run.docs_s) for runs in (raws, ourses, clears))
    load = os.getloadavg()
    print(f"sink benchmark: {N:,} events of {sum(len(v) for _, v in records) / N:.0f} bytes sealed "
          f"({sum(len(d) for _, d in docs) / N:.0f} opened) from {USERS} users, raw bulks of {BATCH}, "
          f"{settings.sink_concurrency} in flight; sink batches of {settings.sink_batch}; best of "
          f"{ROUNDS} rounds (raw: {', '.join(f'{x.docs_s:,.0f}' for x in raws)}; sink: "
          f"{', '.join(f'{x.docs_s:,.0f}' for x in ourses)}; unsealed: "
          f"{', '.join(f'{x.docs_s:,.0f}' for x in clears)}); load average {load[0]:.2f} {load[1]:.2f}")
    table(["path", "docs/s", "ratio", "CPU µs/event"], [
        [name, run.docs_s, f"{run.docs_s / raw.docs_s:.2f}", f"{run.cpu_us:.1f}"]
        for name, run in (("raw elasticsearch bulk (client side)", raw),
                          ("agent-audit sink, sealed events", ours), ("agent-audit sink, unsealed", clear))])
    print()
    rest = ours.cpu_us - sum(us for name, us in split if not name.startswith(" "))
    table(["sink step (in-process, sealed)", "CPU µs/event"],
          [*[[name, f"{us:.2f}"] for name, us in split], ["rest: Kafka, HTTP, threads", f"{rest:.1f}"]])
    emit({"docs_s": round(ours.docs_s), "cpu_us": round(ours.cpu_us, 1), "raw_bulk_docs_s": round(raw.docs_s),
          "raw_cpu_us": round(raw.cpu_us, 1), "ratio": round(ours.docs_s / raw.docs_s, 3),
          "unsealed_docs_s": round(clear.docs_s), "unsealed_cpu_us": round(clear.cpu_us, 1),
          "stages_us": {name: round(us, 2) for name, us in split}, "load_avg_1m": round(load[0], 2)})


if __name__ == "__main__":
    main()
