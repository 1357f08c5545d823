"""The client against the real broker: envelopes per partition, keyed, every event there, in seq order."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from agent_audit.core.contract import validate_event
from agent_audit.core.settings import Settings
from agent_audit.core.wire import partition_for, split_envelope
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport
from agent_audit.stream.topics import create_topics


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
        settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """5 sessions x 200 events: all on the raw topic, valid v1, each session in seq order, batched;
    with the broker up, the start-up probe never calls it unreachable and nothing is spooled."""
    caplog.set_level(logging.INFO, logger="agent_audit.producers")
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
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]

    events, messages = read_events(settings, 1000)
    assert len(events) == 1000
    for event in events[:50]:
        validate_event(event)
    by_session: dict[str, list[int]] = {}
    for event in events:
        by_session.setdefault(event["session_id"], []).append(event["seq"])
    assert by_session == {s: list(range(200)) for s in sessions}
    assert messages < 1000 / 5  # envelopes, not one message per event


def test_a_missing_topic_is_reported_by_name_and_its_events_are_delivered_once_it_exists(
        settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The broker is up but the raw topic does not exist: one error names it, events wait in the
    spool (not lost, not silently), and arrive in order after `topics create`."""
    elsewhere = dataclasses.replace(settings, topic_prefix=f"{settings.topic_prefix}later.")
    raw = elsewhere.topics.raw
    caplog.set_level(logging.INFO, logger="agent_audit.producers")
    transport = KafkaTransport(elsewhere, options=ClientOptions(spool_dir=tmp_path), exit_hook=False)
    session = f"m-{uuid.uuid4().hex[:6]}"
    trail = AuditTrail(session_id=session, user_id="u", agent="bot", transport=transport)
    try:
        for n in range(100):
            trail.record_tool_call("t", parameters={"n": n}, duration_ms=1.0)
        deadline = time.monotonic() + 30
        while transport.counters.spooled < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert transport.counters.spooled == 100 and transport.counters.dropped == 0
        named = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(named) == 1 and f"topic {raw} does not exist" in named[0]
        create_topics(elsewhere)
        assert transport.flush(60)
        assert transport.shutdown(5)
        events, _ = read_events(elsewhere, 100)
        assert [e["seq"] for e in events if e["session_id"] == session][:100] == list(range(100))
    finally:
        transport.shutdown(1)
        AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).delete_topics(
            list(vars(elsewhere.topics).values()))
