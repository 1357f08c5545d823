"""The client while the broker is away: the agent is never blocked, nothing is lost, order is kept.

This test runs a broker of its own (the shared one must stay up for the other tests) and stops it
under the client's feet, then starts it again on the same data.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer
from elasticsearch import Elasticsearch

from core.settings import Settings
from core.wire import split_envelope
from producers import AuditTrail, KafkaTransport
from producers.spool import DiskSpool
from sinks.indices import events_alias
from stack.kafka import KafkaNode
from stack.paths import StackPaths
from stack.workers import running_workers
from stream.topics import create_topics
from tests.integration.waiting import wait_for_count


@pytest.mark.timeout(300)
def test_events_recorded_while_the_broker_is_down_are_spooled_then_delivered_in_order(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Broker stopped: calls stay fast, events go to disk; broker back: every seq arrives, in order."""
    node = KafkaNode(dataclasses.replace(StackPaths.from_env(), state=tmp_path / "stack"), port=39092)
    node.up()
    try:
        own = dataclasses.replace(settings, kafka_bootstrap=node.bootstrap)
        create_topics(own)
        transport = KafkaTransport(own, config={"message.timeout.ms": 3000},
                                   spool=DiskSpool(tmp_path / "spool"))
        trail = AuditTrail(session_id="outage", user_id="u", agent="bot", transport=transport)
        for i in range(300):
            trail.record_tool_call("before", parameters={"i": i}, duration_ms=1)
        assert transport.flush(30)

        node.down(timeout=0)  # killed, as in a crash
        slowest = 0.0
        for i in range(3000):
            start = time.perf_counter()
            trail.record_tool_call("during", parameters={"i": i}, duration_ms=1)
            slowest = max(slowest, time.perf_counter() - start)
        deadline = time.monotonic() + 30
        while transport.counters.spooled < 3000 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert transport.counters.spooled == 3000
        assert slowest < 0.005, f"an agent call took {slowest * 1000:.1f} ms while the broker was down"

        node.up()
        for i in range(200):
            trail.record_tool_call("after", parameters={"i": i}, duration_ms=1)
        assert transport.flush(60)
        transport.close()
        # Events recorded while older ones still waited on disk queued behind them, on disk too.
        assert transport.counters.replayed == transport.counters.spooled >= 3000
        assert transport.counters.dropped == 0

        consumer = Consumer({"bootstrap.servers": node.bootstrap, "group.id": "check",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([own.topics.raw])
        first_seen: list[int] = []
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 3500 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            for line in split_envelope(msg.value() or b""):
                seq = orjson.loads(line)["seq"]
                if seq not in seen:
                    seen.add(seq)
                    first_seen.append(seq)
        consumer.close()
        assert first_seen == list(range(3500))  # all there, in order (replays may repeat: harmless)

        # Through the stream and the sink: exactly one document per event, replays or not.
        with running_workers(own.to_env(), tmp_path / "logs") as workers:
            alias = events_alias(own.index_prefix)
            assert wait_for_count(es, alias, 3500, workers) == 3500
            time.sleep(2)
            es.indices.refresh(index=alias)
            assert es.count(index=alias)["count"] == 3500
    finally:
        node.down(timeout=0)
