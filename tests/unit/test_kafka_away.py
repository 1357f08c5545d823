"""The rules the workers follow while Kafka is away, on in-memory stand-ins of the clients.

(The same rules on a real broker stopped and restarted: tests/integration/test_kafka_outage.py.)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from agent_audit.core.processing import ProcessedEnvelope, RedactedEvent
from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.store import build_store
from agent_audit.sinks.archive.worker import ArchiveSink
from agent_audit.stream.output import OutputProducer
from tests.factories import event

# No client of these tests may reach a broker: nothing listens on port 1.
SETTINGS = Settings(mode="development", seal_events=False, kafka_bootstrap="127.0.0.1:1")


class SlowBrokerProducer:
    """Stands in for the Kafka producer: the first flushes find records still queued (the broker
    away), then everything is acknowledged; no record fails."""

    def __init__(self, unanswered_flushes: int) -> None:
        self.produced: list[str] = []
        self.unanswered = unanswered_flushes

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, **_kw: Any) -> None:
        self.produced.append(topic)

    def flush(self, _timeout: float | None = None) -> int:
        if self.unanswered:
            self.unanswered -= 1
            return len(self.produced)
        return 0

    def poll(self, _timeout: float | None = None) -> int:
        return 0


def test_records_still_queued_after_a_flush_are_waited_for_not_produced_again(
        caplog: pytest.LogCaptureFixture) -> None:
    """A flush that ends with records unacknowledged but none failed (the broker restarting) flushes
    again: each output is produced once, so the outage puts no second copy on agent.events."""
    output = OutputProducer(SETTINGS)
    producer = SlowBrokerProducer(unanswered_flushes=2)
    output.producer = producer  # type: ignore[assignment]
    events = [event("input", i) for i in range(3)]
    result = ProcessedEnvelope(events=[RedactedEvent(b"s-1", orjson.dumps(e), e) for e in events])
    caplog.set_level(logging.WARNING, logger="agent_audit.stream.output")
    output.send(result, ("raw", 0, 7), [(b"windows", b"{}", 0)])
    assert producer.produced == [SETTINGS.topics.events] * 3 + [SETTINGS.topics.state]
    assert output.sent == 3
    assert any("stream.output.waiting" in r.getMessage() for r in caplog.records)


class RefusingConsumer:
    """Stands in for the archive's consumer: each commit meets the next of ``answers`` (an error
    code, or None for success)."""

    def __init__(self, answers: list[int | None]) -> None:
        self.answers = answers
        self.commits: list[list[TopicPartition]] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool = True) -> None:
        self.commits.append(offsets)
        code = self.answers.pop(0) if self.answers else None
        if code is not None:
            raise KafkaException(KafkaError(code))

    def close(self) -> None:
        pass


class _Record:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return orjson.dumps(event("input", self._offset))


def _archive(tmp_path: Path, consumer: RefusingConsumer) -> ArchiveSink:
    env = {**SETTINGS.to_env(), "AUDIT_ARCHIVE_DIR": str(tmp_path)}
    archive = ArchiveSettings.from_env(env, base=SETTINGS)
    sink = ArchiveSink(SETTINGS, archive, store=build_store(archive))
    sink.consumer = consumer  # type: ignore[assignment]
    return sink


def test_an_archive_commit_without_a_coordinator_is_retried_until_it_lands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch is written; the coordinator cannot be reached (a broker restarting): the commit is
    retried, never given up (a later batch's intent would replace this one's) and never a crash."""
    monkeypatch.setattr("agent_audit.sinks.archive.worker.time.sleep", lambda _s: None)
    consumer = RefusingConsumer([KafkaError._WAIT_COORD, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, None])
    sink = _archive(tmp_path, consumer)
    sink._add(_record := _Record(0, 5))  # type: ignore[arg-type]
    sink._flush(0)
    assert [c[0].offset for c in consumer.commits] == [6, 6, 6]
    assert sink.written == 1 and _record.partition() not in sink.lost


def test_an_archive_commit_refused_as_not_owner_lets_the_partition_go_until_it_is_assigned_again(
        tmp_path: Path) -> None:
    """The group took the partition away while the broker was away ("Unknown member"): the worker
    does not crash, holds nothing more of it (its next owner replays from the last commit, which the
    intent covers), and takes it up again when it is assigned: the replay rewrites the same object."""
    consumer = RefusingConsumer([KafkaError.UNKNOWN_MEMBER_ID])
    sink = _archive(tmp_path, consumer)
    sink._add(_Record(1, 10))  # type: ignore[arg-type]
    sink._flush(1)
    assert 1 in sink.lost
    sink._add(_Record(1, 11))  # type: ignore[arg-type]  # fetched before the rebalance: skipped
    assert 1 not in sink.batches
    sink._on_assign(consumer, [TopicPartition(sink.topic, 1)])  # type: ignore[arg-type]
    sink._add(_Record(1, 10))  # type: ignore[arg-type]  # the replay from the committed offset,
    assert [c[0].offset for c in consumer.commits] == [11, 11]  # cut at the intent's end, committed
    assert len(sink.store.list("events")) == 1  # the same object written again, not a second one
