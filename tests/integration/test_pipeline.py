"""The whole pipeline against the real Kafka and Elasticsearch: raw envelopes in, redacted documents out."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import events_alias
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import read_topic, wait_for_count

PII = {
    "email": "jane.doe@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
}


def _session_events(session: str, n: int) -> list[dict[str, Any]]:
    kinds = ["input", "reasoning", "tool_call", "output"]
    out = []
    for seq in range(n):
        kind = kinds[seq % len(kinds)]
        ev = event(kind, seq, session=session, user=f"user-{session}")
        if kind == "input":
            ev["payload"] = {"type": "text", "content": f"I am {PII['email']}, call {PII['phone']}"}
        if kind == "tool_call":
            ev["payload"]["parameters"] = {"card_number": PII["card"], "note": f"mail {PII['email']}"}
        out.append(ev)
    return out


def _assert_no_pii_in_logs(log_dir: Path) -> None:
    """The workers' own logs (every line they wrote, warnings and dead-letter reports included) hold
    none of the personal data that passed through them."""
    logs = sorted(log_dir.glob("*.log"))
    assert logs
    for log in logs:
        text = log.read_text(errors="replace")
        for value in PII.values():
            assert value not in text, f"{value!r} in {log.name}"


def _publish(settings: Settings, envelopes: list[tuple[int, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for partition, value in envelopes:
        producer.produce(settings.topics.raw, value=value, partition=partition)
    assert producer.flush(30) == 0


def _envelopes(settings: Settings, events: list[dict[str, Any]],
               per_envelope: int) -> list[tuple[int, bytes]]:
    by_partition: dict[int, list[bytes]] = {}
    for ev in events:
        p = partition_for(ev["session_id"], settings.raw_partitions)
        by_partition.setdefault(p, []).append(orjson.dumps(ev))
    out = []
    for p, lines in by_partition.items():
        for i in range(0, len(lines), per_envelope):
            out.append((p, join_envelope(lines[i:i + per_envelope])))
    return out


@pytest.mark.timeout(240)
def test_every_event_is_indexed_once_and_no_pii_reaches_elasticsearch(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """N events with PII produced as envelopes -> exactly N documents, none holding the PII."""
    events = [ev for s in range(12) for ev in _session_events(f"sess-{s}", 25)]
    _publish(settings, _envelopes(settings, events, per_envelope=40))
    # The same envelopes again: a producer retry must not create a second document.
    _publish(settings, _envelopes(settings, events[:50], per_envelope=40))

    with running_workers(settings.to_env(), tmp_path) as workers:
        alias = events_alias(settings.index_prefix)
        count = wait_for_count(es, alias, len(events), workers)
        time.sleep(2.0)  # let any stray duplicate arrive before counting for the last time
        es.indices.refresh(index=alias)
        assert es.count(index=alias)["count"] == count == len(events)

        hits = es.search(index=alias, size=len(events), query={"match_all": {}})["hits"]["hits"]
        stored = orjson.dumps([h["_source"] for h in hits]).decode()
        for value in PII.values():
            assert value not in stored
        assert "[EMAIL]" in stored
        assert "[PHONE]" in stored
        assert "[CARD]" in stored or "[REDACTED]" in stored
        assert {h["_id"] for h in hits} == {ev["event_id"] for ev in events}
    _assert_no_pii_in_logs(tmp_path)


@pytest.mark.timeout(240)
def test_malformed_records_go_to_the_dead_letter_topic_redacted_and_the_pipeline_goes_on(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Bad lines land in the dead-letter topic with a reason, PII redacted; good lines still arrive."""
    good = _session_events("sess-dlq", 8)
    bad_schema = event("tool_call", 99, session="sess-dlq")
    del bad_schema["payload"]["duration_ms"]
    bad_schema["payload"]["parameters"] = {"email": PII["email"]}
    lines = [orjson.dumps(e) for e in good[:4]]
    lines += [b'{"not json: ' + PII["email"].encode(), orjson.dumps(bad_schema), b"[1, 2, 3]"]
    lines += [orjson.dumps(e) for e in good[4:]]
    p = partition_for("sess-dlq", settings.raw_partitions)
    _publish(settings, [(p, join_envelope(lines))])

    with running_workers(settings.to_env(), tmp_path) as workers:
        alias = events_alias(settings.index_prefix)
        assert wait_for_count(es, alias, len(good), workers) == len(good)
        dead = read_topic(settings, settings.topics.dlq, expected=3)

    assert len(dead) == 3
    reasons = sorted(dict(m.headers())["reason"].decode() for m in dead)
    assert reasons[0] == "json: expected an object, got list"
    assert reasons[1].startswith("json: unexpected")  # the line cut short
    assert reasons[2].startswith("schema:") and "duration_ms" in reasons[2]
    for m in dead:
        assert PII["email"].encode() not in m.value()
        assert dict(m.headers())["source"].startswith(settings.topics.raw.encode())
    _assert_no_pii_in_logs(tmp_path)


@pytest.mark.timeout(300)
def test_a_restarted_stream_recovers_its_chains_and_sessions_stay_intact(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Stop the stream after half a session, start it again: the chain links across the restart."""
    from agent_audit.core.integrity import ChainHasher, verify_chain  # noqa: PLC0415
    from agent_audit.sinks.queries import session_timeline  # noqa: PLC0415

    events = _session_events("sess-restart", 40)
    alias = events_alias(settings.index_prefix)
    _publish(settings, _envelopes(settings, events[:20], per_envelope=7))
    with running_workers(settings.to_env(), tmp_path) as workers:
        assert wait_for_count(es, alias, 20, workers) == 20
        assert workers.stop("stream") == 0  # a clean stop: the table's changelog is written
        _publish(settings, _envelopes(settings, events[20:], per_envelope=7))
        workers.start("stream", {**os.environ, **settings.to_env()})
        assert wait_for_count(es, alias, 40, workers) == 40
    timeline = session_timeline(es, settings.index_prefix, "sess-restart")
    assert [e["seq"] for e in timeline] == list(range(40))
    assert str(verify_chain(timeline, ChainHasher())) == "intact (40 events)"
