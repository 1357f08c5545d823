"""``agent-audit dlq list | replay`` against the real Kafka broker."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from confluent_kafka import Consumer, Producer, TopicPartition

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

    replayed = _records_on(settings, settings.topics.raw)
    assert sorted((m.partition(), m.value()) for m in replayed) == [
        (0, b'{"kind": "input"}'), (1, b'{"kind": "input", "user_id": "[EMAIL]"'),
        (1, b'{"kind": "input", "user_id": "[EMAIL]"'), (2, b"not json at all"), (2, b"not json at all")]
    headers = dict(replayed[0].headers())
    assert headers["replayed_from"].startswith(settings.topics.dlq.encode() + b"/")
    assert _cli(capsys, "dlq", "list")["total"] == 4
