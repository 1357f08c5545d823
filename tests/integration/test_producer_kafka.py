"""The client against the real broker: envelopes per partition, keyed, every event there, in seq order."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
from agent_audit.core.contract import validate_event
from agent_audit.core.settings import Settings
from agent_audit.core.wire import partition_for, split_envelope
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport
from confluent_kafka import Consumer


def read_events(settings: Settings, expected: int, timeout: float = 30.0) -> tuple[list[dict], int]:  # type: ignore[type-arg]
    """Every event on the raw topic (checking each message's partition and key), and the message count."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"r-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topics.raw])
    events: list[dict] = []  # type: ignore[type-arg]
    messages = 0
    deadline = time.monotonic() + timeout
    while len(events) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        messages += 1
        lines = [orjson.loads(line) for line in split_envelope(msg.value() or b"")]
        assert msg.key() == lines[0]["session_id"].encode()
        for event in lines:
            assert msg.partition() == partition_for(event["session_id"], settings.raw_partitions)
            events.append(event)
    consumer.close()
    return events, messages


def test_recorded_events_arrive_as_keyed_envelopes_on_the_sessions_partition_in_order(
        settings: Settings, tmp_path: Path) -> None:
    """5 sessions x 200 events: all on the raw topic, valid v1, each session in seq order, batched."""
    transport = KafkaTransport(settings, options=ClientOptions(spool_dir=tmp_path), exit_hook=False)
    sessions = [f"k-{uuid.uuid4().hex[:6]}-{i}" for i in range(5)]
    trails = [AuditTrail(session_id=s, user_id="u", agent="bot", transport=transport) for s in sessions]
    for n in range(200):
        for trail in trails:
            with trail.tool_call("search", {"n": n}) as call:
                call.result = {"hits": n % 3}
    assert transport.flush(30)
    assert transport.shutdown(5)
    c = transport.counters
    assert (c.sent, c.spooled, c.dropped, c.failed) == (1000, 0, 0, 0)

    events, messages = read_events(settings, 1000)
    assert len(events) == 1000
    for event in events[:50]:
        validate_event(event)
    by_session: dict[str, list[int]] = {}
    for event in events:
        by_session.setdefault(event["session_id"], []).append(event["seq"])
    assert by_session == {s: list(range(200)) for s in sessions}
    assert messages < 1000 / 5  # envelopes, not one message per event
