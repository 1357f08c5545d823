"""Every input that stopped a partition, in an envelope between valid events, on the real workers.

The rule: whatever a line holds, the valid events around it are stored (chains intact), the bad
line is in the dead-letter topic with a reason and no PII in the clear, both workers stay alive,
and envelopes published afterwards are processed too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.integrity import ChainHasher, verify_chain
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import session_timeline
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import read_topic, wait_for_count

SESSION = "sess-poison"
NOW = datetime.now(UTC).replace(microsecond=0)


def _ev(kind: str, seq: Any, **changes: Any) -> dict[str, Any]:
    ev = event(kind, 0, session=SESSION, at=NOW)
    ev["seq"] = seq
    for path, value in changes.items():
        target = ev
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        target[leaf] = value
    return ev


def _poison() -> list[tuple[bytes, str]]:
    """(line, expected reason prefix) for each input named in issue 13."""
    tokens = {"type": "text", "content": "x", "metadata": {"tokens_used": 2**64 - 1, "model": "m"}}
    lines = [
        (_ev("input", 100, timestamp="9999-12-31T23:59:59-01:00"), "schema"),
        (_ev("input", 100, timestamp="0001-01-01T00:00:00+01:00"), "schema"),
        (_ev("output", 100, payload=tokens), "schema"),
        (_ev("output", 100, payload=tokens), "schema"),
        (_ev("output", 100, payload={**tokens, "metadata": {"tokens_used": 2**63}}), "schema"),
        (_ev("input", "12"), "schema"),
        (_ev("input", True), "schema"),
        (_ev("input", 12.0), "schema"),
        (_ev("input", 100, timestamp=1700000000), "schema"),
        (_ev("tool_call", 100, payload__duration_ms="15.5"), "schema"),
        (_ev("reasoning", 100, payload__confidence="0.5"), "schema"),
        (_ev("output", 100, payload__metadata__tokens_used="100"), "schema"),
        (_ev("input", 2**63 - 1), "schema"),
        (_ev("input", 1_000_000), "seq"),
        (_ev("input", 100, timestamp=(NOW - timedelta(days=400)).isoformat()), "timestamp"),
        (_ev("input", 100, timestamp=(NOW + timedelta(days=2)).isoformat()), "timestamp"),
    ]
    encoded = [(orjson.dumps(ev), why) for ev, why in lines]
    escaped = [
        b'{"kind":"input","seq":"x","payload":{"content":"jane\\u0040example.com"}}',
        b'{"kind":"input","seq":"x","payload":{"content":"4111\\u00201111\\u00201111\\u00201111"}}',
        b'{"kind":"input","seq":"x","payload":{"phone":"555 0123"}}',
    ]
    return [*encoded, *((line, "schema") for line in escaped), (b"\xff\xfe not utf-8", "json")]


def _publish(settings: Settings, values: list[bytes | None]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    partition = partition_for(SESSION, settings.raw_partitions)
    for value in values:
        producer.produce(settings.topics.raw, value=value, partition=partition)
    assert producer.flush(30) == 0


@pytest.mark.timeout(300)
def test_poison_lines_are_dead_letters_and_the_partition_goes_on(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Each named input between valid events: valid events stored with an intact chain, every bad
    line dead-lettered with its reason and no PII, a producer's redaction counts ignored, a big
    integer in parameters kept exactly, the workers alive, a later envelope processed."""
    poison = _poison()
    valid = [_ev("tool_call", seq) for seq in range(len(poison) + 1)]
    valid[0]["payload"]["parameters"] = {"order": 2**70}
    valid[1]["redaction"] = {"policy_version": "x", "counts": {"EMAIL": -5, "FAKE": 99}}
    lines = [json.dumps(valid[0]).encode()]  # orjson cannot write 2**70; a producer in Python can
    for (line, _why), good in zip(poison, valid[1:], strict=True):
        lines += [line, orjson.dumps(good)]
    later = [_ev("tool_call", seq) for seq in range(len(valid), len(valid) + 5)]
    _publish(settings, [join_envelope(lines), None])
    alias = events_alias(settings.index_prefix)

    with running_workers(settings.to_env(), tmp_path) as workers:
        assert wait_for_count(es, alias, len(valid), workers, timeout=120) == len(valid)
        _publish(settings, [join_envelope(orjson.dumps(e) for e in later)])
        assert wait_for_count(es, alias, len(valid) + len(later), workers, timeout=120) == len(valid) + 5
        dead = read_topic(settings, settings.topics.dlq, expected=len(poison), timeout=60)
        workers.check_alive()

    reasons = [dict(m.headers())["reason"].decode() for m in dead]
    assert sorted(r.split(":")[0] for r in reasons) == sorted(why for _, why in poison)
    for m in dead:
        for clear in (b"jane", b"4111", b"555 0123"):
            assert clear not in m.value()
    timeline = session_timeline(es, settings.index_prefix, SESSION)
    assert str(verify_chain(timeline, ChainHasher())) == f"intact ({len(valid) + 5} events)"
    first, second = timeline[0], timeline[1]
    assert first["payload"]["parameters"]["order"] == f"{2**70}n"
    assert "FAKE" not in second["redaction"]["counts"]
