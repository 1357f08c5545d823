"""The client while the broker is unreachable: never blocks the agent, spools, and loses nothing.

The shared broker must stay up for the other tests, so the outage is a client pointed at a port
where nothing listens. That process shuts down with its events on disk (as an agent restarted
during an outage would); the next client, on the real broker, adopts that spool and replays it
before its own events. Then the stream and the sink carry everything to Elasticsearch: one
document per event, replays or not.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport
from agent_audit.sinks.indices import events_alias
from agent_audit.stack.workers import running_workers
from tests.integration.test_producer_kafka import read_events
from tests.integration.waiting import wait_for_count


@pytest.mark.timeout(300)
def test_events_recorded_while_the_broker_is_unreachable_are_spooled_then_delivered_in_order(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Unreachable: events go to disk, and shutdown does not wait for librdkafka's message timeout
    (set to 10 minutes here: a hang would hit the test's timeout); reachable: every seq arrives, in order."""
    options = ClientOptions(spool_dir=tmp_path / "spool", linger_ms=5)
    session = f"outage-{uuid.uuid4().hex[:6]}"
    nowhere = dataclasses.replace(settings, kafka_bootstrap="127.0.0.1:1")  # nothing listens there
    away = KafkaTransport(nowhere, config={"message.timeout.ms": 600_000}, options=options, exit_hook=False)
    trail = AuditTrail(session_id=session, user_id="u", agent="bot", transport=away)
    for i in range(3000):
        trail.record_tool_call("during", parameters={"i": i}, duration_ms=1)
    deadline = time.monotonic() + 30
    while away.counters.spooled < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert away.counters.spooled == 3000
    assert away.shutdown(0.5) is False  # not delivered, and it says so (close() alone would hang)

    back = KafkaTransport(settings, options=options, exit_hook=False)
    trail = AuditTrail(session_id=session, user_id="u", agent="bot", transport=back, seq_start=3000)
    for i in range(500):
        trail.record_tool_call("after", parameters={"i": i}, duration_ms=1)
    assert back.flush(60)
    deadline = time.monotonic() + 30
    while back.counters.recovered < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert back.shutdown(5)
    # The earlier process's 3000 came first; the new events queued behind them, on disk too.
    assert back.counters.recovered == 3000 and back.counters.replayed >= 3000
    assert back.counters.dropped == 0
    assert not any((tmp_path / "spool").rglob("*.seg"))  # drained and cleaned up

    events, _ = read_events(settings, 3500)
    first_seen: list[int] = []
    for event in events:
        if event["seq"] not in first_seen:
            first_seen.append(event["seq"])
    assert first_seen == list(range(3500))  # all there, in order (a replay may repeat: harmless)

    with running_workers(settings.to_env(), tmp_path / "logs") as workers:
        alias = events_alias(settings.index_prefix)
        assert wait_for_count(es, alias, 3500, workers) == 3500
        time.sleep(2)
        es.indices.refresh(index=alias)
        assert es.count(index=alias)["count"] == 3500
