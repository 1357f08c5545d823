"""Copies of one event_id on one partition: the sink stores the first copy in partition order, always."""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import scan
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import wait_for_count

PAIRS = 4000


def _publish_pairs(settings: Settings, rng: random.Random) -> dict[str, str]:
    """Each event twice, same key (so same partition), different content; the second copy follows
    the first after 1 to 600 other records, so the two often fall in different or overlapping batches.
    Returns event_id -> the content of the first copy."""
    placed: list[tuple[float, str, dict[str, object]]] = []
    first: dict[str, str] = {}
    for i in range(PAIRS):
        ev = event("input", i // 40, session=f"order-{i % 40}")
        first[ev["event_id"]] = f"first-{i}"
        placed.append((2 * i, ev["session_id"], {**ev, "payload": {"type": "text", "content": f"first-{i}"}}))
        placed.append((2 * i + rng.randint(1, 600) + 0.5, ev["session_id"],
                       {**ev, "payload": {"type": "text", "content": f"second-{i}"}}))
    placed.sort(key=lambda item: item[0])
    # Idempotence keeps the producer's own retries from reordering a partition.
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20,
                         "enable.idempotence": True})
    for n, (_, session, doc) in enumerate(placed):
        producer.produce(settings.topics.events, key=session.encode(), value=orjson.dumps(doc),
                         headers=[("event_id", str(doc["event_id"]).encode()), ("day", b"2026.11.25")])
        if n % 5000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return first


@pytest.mark.timeout(300)
def test_the_first_copy_of_an_event_id_in_partition_order_is_the_one_stored(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """4,000 pairs of conflicting copies through the real sink worker, with small overlapping batches
    over two lanes: every stored document is the first copy; one document per event_id."""
    first = _publish_pairs(settings, random.Random(7))
    small = dataclasses.replace(settings, sink_batch=150, sink_concurrency=2)
    alias = events_alias(settings.index_prefix)
    with running_workers(small.to_env(), tmp_path, names=("sink",)) as workers:
        assert wait_for_count(es, alias, PAIRS, workers, timeout=180) == PAIRS
        time.sleep(2)  # a later copy stored by mistake would have landed by now
        es.indices.refresh(index=alias)
        stored = {hit["_id"]: hit["_source"]["payload"]["content"]
                  for hit in scan(es, alias, {"match_all": {}})}
    wrong = sorted(doc_id for doc_id, content in stored.items() if content != first[doc_id])
    assert len(stored) == PAIRS
    assert wrong == [], f"{len(wrong)} of {PAIRS} event ids hold their later copy"
