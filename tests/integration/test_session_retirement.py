"""Bounded stream state on the real workers: an idle session is tombstoned on the state topic, and
its late events link to the head recovered from Elasticsearch, so its chain stays intact."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer
from elasticsearch import Elasticsearch

from agent_audit.core.integrity import ChainHasher, verify_chain
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import session_timeline
from agent_audit.stack.workers import Workers, running_workers
from tests.factories import event
from tests.integration.waiting import wait_for_count

SESSION = "sess-idle"


def _publish(settings: Settings, seqs: range) -> None:
    now = datetime.now(UTC)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.topics.raw, partition=partition_for(SESSION, settings.raw_partitions),
                     value=join_envelope(orjson.dumps(event("input", s, session=SESSION, at=now))
                                         for s in seqs))
    assert producer.flush(10) == 0


def _wait_for_tombstone(settings: Settings, workers: Workers, timeout: float = 90.0) -> bool:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "tombstones",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topics.state])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            workers.check_alive()
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.key() == f"chain:{SESSION}".encode() \
                    and msg.value() is None:
                return True
    finally:
        consumer.close()
    return False


@pytest.mark.timeout(300)
def test_an_idle_session_is_retired_and_its_late_events_still_link(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """AUDIT_SESSION_IDLE_S=1: after its events are stored the session is tombstoned on the state
    topic; late events arrive after that and the stored chain verifies intact end to end."""
    settings = dataclasses.replace(settings, session_idle_s=1)
    alias = events_alias(settings.index_prefix)
    _publish(settings, range(10))
    with running_workers(settings.to_env(), tmp_path) as workers:
        assert wait_for_count(es, alias, 10, workers) == 10
        assert _wait_for_tombstone(settings, workers)
        _publish(settings, range(10, 15))
        assert wait_for_count(es, alias, 15, workers) == 15
    timeline = session_timeline(es, settings.index_prefix, SESSION)
    assert str(verify_chain(timeline, ChainHasher())) == "intact (15 events)"
