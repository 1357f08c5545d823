"""The Elasticsearch sink: a crash loses nothing and duplicates nothing."""

from __future__ import annotations

import dataclasses
import os
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import read_topic


def _publish_redacted(settings: Settings, n: int) -> set[str]:
    """Events as the stream publishes them on agent.events (keyed by session, id/day headers)."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
    ids = set()
    for i in range(n):
        ev = event("tool_call", i // 50, session=f"s-{i % 50}")
        ids.add(ev["event_id"])
        producer.produce(settings.topics.events, key=ev["session_id"].encode(), value=orjson.dumps(ev),
                         headers=[("event_id", ev["event_id"].encode()), ("day", b"2026.11.25")])
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return ids


def _metric(scraped: str, name: str) -> float:
    for line in scraped.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exposed")


def _count(es: Elasticsearch, alias: str) -> int:
    if es.indices.exists_alias(name=alias):
        es.indices.refresh(index=alias)
    return count_searchable(es, alias)


@pytest.mark.timeout(300)
def test_kill_9_of_the_sink_mid_stream_then_restart_gives_the_exact_document_count(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """SIGKILL between bulk and commit replays a batch; op_type=create makes the count exact anyway."""
    n = 30_000
    ids = _publish_redacted(settings, n)
    port = 19400 + os.getpid() % 500
    small_batches = dataclasses.replace(settings, sink_batch=500, metrics_port=port)
    alias = events_alias(settings.index_prefix)
    with running_workers(small_batches.to_env(), tmp_path, names=("sink",)) as workers:
        deadline = time.monotonic() + 60
        while _count(es, alias) < 3_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        before_kill = _count(es, alias)
        workers.kill("sink")
        assert 0 < before_kill < n, "the kill must land in the middle of the stream"
        workers.start("sink", {**os.environ, **small_batches.to_env()})
        deadline = time.monotonic() + 120
        while _count(es, alias) < n and time.monotonic() < deadline:
            workers.check_alive()
            time.sleep(0.5)
        time.sleep(3)  # any replayed duplicate would have landed by now
        assert _count(es, alias) == n
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            scraped = resp.read().decode()
    # The restarted worker accounts for every record it consumed: stored, or a replayed duplicate.
    stored = _metric(scraped, 'audit_sink_documents_total{outcome="stored"}')
    duplicates = _metric(scraped, 'audit_sink_documents_total{outcome="duplicate"}')
    assert stored > 0
    assert stored + duplicates == _metric(scraped, "audit_sink_records_in_total")
    # Exact below the precision threshold (40000): every id stored once, none twice.
    hits = es.search(index=alias, size=0, aggs={"ids": {"cardinality": {
        "field": "event_id", "precision_threshold": 40_000}}})
    assert hits["aggregations"]["ids"]["value"] == pytest.approx(len(ids), rel=0.001)


@pytest.mark.timeout(120)
def test_a_document_elasticsearch_refuses_goes_to_the_dead_letter_topic_with_its_reason(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """A mapping refusal (400) is permanent: dead-lettered with the reason, the rest stored, no stall."""
    ids = _publish_redacted(settings, 2_000)
    bad = event("tool_call", 0, session="s-bad")
    bad["not_in_the_mapping"] = 1  # the events mapping is strict
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.topics.events, value=orjson.dumps(bad),
                     headers=[("event_id", bad["event_id"].encode()), ("day", b"2026.11.25")])
    assert producer.flush(30) == 0
    ids |= _publish_redacted(settings, 2_000)  # records after the refused one still arrive
    alias = events_alias(settings.index_prefix)
    with running_workers(settings.to_env(), tmp_path, names=("sink",)) as workers:
        deadline = time.monotonic() + 60
        while _count(es, alias) < len(ids) and time.monotonic() < deadline:
            workers.check_alive()
            time.sleep(0.5)
        dead = read_topic(settings, settings.topics.dlq, expected=1)
    assert _count(es, alias) == len(ids)
    assert [orjson.loads(m.value())["event_id"] for m in dead] == [bad["event_id"]]
    reason = dict(dead[0].headers())["reason"].decode()
    assert reason.startswith("es:400:"), reason
