"""The client against the real broker: envelopes per partition, a session's events in seq order."""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Consumer

from core.settings import Settings
from core.wire import partition_for, split_envelope
from producers import AuditTrail, KafkaTransport


def test_recorded_events_arrive_as_envelopes_on_the_sessions_partition_in_order(settings: Settings) -> None:
    """Every recorded event is on the raw topic, batched (fewer messages than events), in seq order."""
    transport = KafkaTransport(settings)
    trails = [AuditTrail(session_id=f"s-{i}", user_id="u", agent="bot", transport=transport)
              for i in range(5)]
    for n in range(200):
        for trail in trails:
            trail.record_tool_call("t", parameters={"n": n}, duration_ms=1.0)
    assert transport.flush(30)
    transport.close()
    assert transport.counters.sent == 1000

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "reader",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([settings.topics.raw])
    seen: dict[str, list[int]] = {}
    messages = 0
    deadline = time.monotonic() + 30
    while sum(map(len, seen.values())) < 1000 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        messages += 1
        for line in split_envelope(msg.value() or b""):
            ev = orjson.loads(line)
            assert msg.partition() == partition_for(ev["session_id"], settings.raw_partitions)
            seen.setdefault(ev["session_id"], []).append(ev["seq"])
    consumer.close()
    assert all(seqs == list(range(200)) for seqs in seen.values())
    assert len(seen) == 5
    assert messages < 1000 / 5  # envelopes, not one message per event
