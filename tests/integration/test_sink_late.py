"""Late events for a sealed day are stored once in today's index, with their own timestamp kept."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.retention import seal
from agent_audit.sinks.indices import event_index, events_alias
from agent_audit.sinks.queries import count_searchable, scan
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import read_topic, wait_for_count

DAY = "2026.11.25"  # the factories' BASE_TIME


def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    for ev in events:
        producer.produce(settings.topics.events, key=ev["session_id"].encode(), value=orjson.dumps(ev),
                         headers=[("event_id", ev["event_id"].encode()), ("day", DAY.encode())])
    assert producer.flush(30) == 0


def _settled(es: Elasticsearch, alias: str, expected: int, workers: Any) -> int:
    assert wait_for_count(es, alias, expected, workers, timeout=120) == expected
    time.sleep(2)  # a duplicate would have landed by now
    es.indices.refresh(index=alias)
    return count_searchable(es, alias)


@pytest.mark.timeout(300)
def test_late_events_for_a_sealed_day_go_to_todays_index_once_and_keep_their_timestamp(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """After the day's index is sealed: new late events are stored in today's index (timestamp
    unchanged), replays of stored ones and of late ones are duplicates, nothing is dead-lettered."""
    prefix = settings.index_prefix
    alias = events_alias(prefix)
    on_time = [event("input", i, session=f"late-{i % 5}") for i in range(50)]
    late = [event("input", 100 + i, session=f"late-{i % 5}") for i in range(20)]
    marker = event("input", 999, session="late-marker")
    with running_workers(settings.to_env(), tmp_path, names=("sink",)) as workers:
        _publish(settings, on_time)
        assert _settled(es, alias, 50, workers) == 50
        sealed_day = event_index(prefix, DAY)
        assert seal(es, prefix, after_days=0) == [sealed_day]

        _publish(settings, late + on_time[:10])  # new late events, and a replay of stored ones
        assert _settled(es, alias, 70, workers) == 70
        _publish(settings, [*late[:10], marker])
        assert _settled(es, alias, 71, workers) == 71  # the late ones' replay was a duplicate

    today = event_index(prefix, datetime.now(UTC).strftime("%Y.%m.%d"))
    stored = {hit["_id"]: hit for hit in scan(es, alias, {"match_all": {}})}
    assert {stored[ev["event_id"]]["_index"] for ev in [*late, marker]} == {today}
    assert {stored[ev["event_id"]]["_index"] for ev in on_time} == {sealed_day}
    assert all(stored[ev["event_id"]]["_source"]["timestamp"] == ev["timestamp"] for ev in late)
    assert read_topic(settings, settings.topics.dlq, expected=1, timeout=3) == []
