"""``agent-audit dlq list | replay`` against the real Kafka broker (the workers too, for the sink's)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from elasticsearch import Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.integrity import ChainHasher, verify_chain
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import event_index, events_alias
from agent_audit.sinks.queries import count_searchable, session_timeline
from agent_audit.stack.workers import Workers, running_workers
from tests.factories import event
from tests.integration.waiting import read_topic


def _dead_letters(settings: Settings) -> None:
    """Three of the stream's rejects (two reasons) and one of the sink's, as they publish them."""
    raw, producer = settings.topics.raw, Producer({"bootstrap.servers": settings.kafka_bootstrap})
    letters: list[tuple[bytes, list[tuple[str, str | bytes | None]]]] = [
        (b'{"kind": "input", "user_id": "[EMAIL]"', [("reason", b"json: unexpected end"),
                                                     ("source", f"{raw}/1/5".encode())]),
        (b'not json at all', [("reason", b"json: expected value"), ("source", f"{raw}/2/9".encode())]),
        (b'{"kind": "input"}', [("reason", b"schema: seq: field required"),
                                ("source", f"{raw}/0/3".encode())]),
        (b'{"event_id": "e-1"}', [("reason", b"sink: mapper_parsing_exception")]),
    ]
    for value, headers in letters:
        producer.produce(settings.topics.dlq, value=value, headers=headers)
    assert producer.flush(10) == 0


def _records_on(settings: Settings, topic: str) -> list[Any]:
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "probe"})
    parts = probe.list_topics(topic, timeout=10).topics[topic].partitions
    total = sum(h - lo for lo, h in (probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                                     for p in parts))
    probe.close()
    return read_topic(settings, topic, total) if total else []


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main([*argv, "--actor", "oncall"]) == 0
    return dict(orjson.loads(capsys.readouterr().out))


@pytest.mark.timeout(120)
def test_dead_letters_are_listed_by_reason_and_replayed_once_per_group_to_their_partition(
        settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """list counts by reason and shows headers; replay re-publishes only the stream's rejects matching the
    prefix, to their original raw partition, once per group; the dead-letter topic keeps every record."""
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    _dead_letters(settings)

    listed = _cli(capsys, "dlq", "list")
    assert (listed["total"], listed["matching"]) == (4, 4)
    assert listed["by_reason"]["sink: mapper_parsing_exception"] == 1
    assert {f["source"] for f in listed["first"]} >= {f"{settings.topics.raw}/2/9", None}
    json_only = _cli(capsys, "dlq", "list", "--reason-prefix", "json")
    assert json_only["matching"] == 2 and all(f["replayable"] for f in json_only["first"])

    first = _cli(capsys, "dlq", "replay", "--reason-prefix", "json")
    assert (first["scanned"], first["replayed"], first["other_reason"]) == (4, 2, 2)
    assert _cli(capsys, "dlq", "replay", "--reason-prefix", "json")["replayed"] == 0
    everything = _cli(capsys, "dlq", "replay")
    assert (everything["replayed"], everything["not_from_stream"]) == (3, 1)

    # The access log's own entries also go through the raw topic (to be signed): not replays.
    replayed = [m for m in _records_on(settings, settings.topics.raw)
                if b'"session_id":"access-' not in (m.value() or b"")]
    assert sorted((m.partition(), m.value()) for m in replayed) == [
        (0, b'{"kind": "input"}'), (1, b'{"kind": "input", "user_id": "[EMAIL]"'),
        (1, b'{"kind": "input", "user_id": "[EMAIL]"'), (2, b"not json at all"), (2, b"not json at all")]
    headers = dict(replayed[0].headers())
    assert headers["replayed_from"].startswith(settings.topics.dlq.encode() + b"/")
    assert _cli(capsys, "dlq", "list")["total"] == 4


@pytest.mark.timeout(300)
def test_documents_elasticsearch_refused_are_replayed_after_a_fix_once_with_chains_intact(
        settings: Settings, es: Elasticsearch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sink's rejects (an index that refuses every document) replay, after the index is fixed,
    to the sink's topic unchanged: every event stored once, its chain intact; replaying them again
    (another group) stores nothing twice."""
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    now = datetime.now(UTC)
    events = [event("input", seq, session="sess-refused", at=now) for seq in range(6)]
    broken = event_index(settings.index_prefix, now.strftime("%Y.%m.%d"))
    es.indices.create(index=broken, mappings={"dynamic": "strict",
                                              "properties": {"event_id": {"type": "keyword"}}})
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.topics.raw, value=join_envelope(orjson.dumps(e) for e in events),
                     partition=partition_for("sess-refused", settings.raw_partitions))
    assert producer.flush(10) == 0
    alias = events_alias(settings.index_prefix)

    with running_workers(settings.to_env(), tmp_path) as workers:
        refused = read_topic(settings, settings.topics.dlq, expected=len(events), timeout=90)
        assert len(refused) == len(events)
        assert all(dict(m.headers())["reason"].startswith(b"es:400:") for m in refused)
        es.indices.delete(index=broken)  # the fix: the next document creates it from the template

        report = _cli(capsys, "dlq", "replay", "--reason-prefix", "es:")
        assert (report["replayed"], report["refused_documents"]) == (len(events), len(events))
        # Count this session only: every CLI run also records its access-log entries as events.
        assert _wait_for_session(es, alias, len(events), workers) == len(events)
        again = _cli(capsys, "dlq", "replay", "--reason-prefix", "es:", "--group", "second")
        assert again["replayed"] == len(events)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _sink_caught_up(settings):
            workers.check_alive()
            time.sleep(0.5)
        assert _sink_caught_up(settings)
        es.indices.refresh(index=alias)
        assert _session_count(es, alias) == len(events)

    timeline = session_timeline(es, settings.index_prefix, "sess-refused")
    assert str(verify_chain(timeline, ChainHasher())) == f"intact ({len(events)} events)"


def _session_count(es: Elasticsearch, alias: str) -> int:
    # count_searchable: the replay recreates today's index, whose shard may still be starting.
    return count_searchable(es, alias, {"term": {"session_id": "sess-refused"}})


def _wait_for_session(es: Elasticsearch, alias: str, expected: int, workers: Workers) -> int:
    deadline, count = time.monotonic() + 90, -1
    while time.monotonic() < deadline:
        workers.check_alive()
        es.indices.refresh(index=alias, ignore_unavailable=True)
        count = _session_count(es, alias)
        if count >= expected:
            return count
        time.sleep(0.5)
    return count


def _sink_caught_up(settings: Settings) -> bool:
    """The sink has committed every record of agent.events: the stream's, each replay's, the
    access-log entries'."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.sink_group})
    topic = settings.topics.events
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    committed = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10)
    ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts]
    consumer.close()
    pairs = zip(committed, ends, strict=True)
    return all(tp.offset == end or (end == 0 and tp.offset < 0) for tp, end in pairs)
