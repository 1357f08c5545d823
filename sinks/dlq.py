"""Dead letters: inspect the dead-letter topic by reason, replay them after a fix.

Each dead letter carries a ``reason`` header; those the stream rejected also carry ``source``
(``<raw topic>/<partition>/<offset>``), the sink's rejects (documents Elasticsearch refused, reason
``es:<status>:<error type>``) do not. Values are already redacted copies: a replay re-publishes the *redacted*
line, never the original.

Where each goes back to:
- the stream's rejects: to the raw topic, to the partition they came from, validated again;
- the sink's rejects: the document exactly as the stream emitted it (redacted, hash-chained), to
  the topic the sink reads it from (``agent.events``, ``agent.metrics`` or ``agent.alerts``), with
  the headers the stream gives it: its chain link is unchanged, and the sink writes it with its own
  id and ``op_type=create`` (a version for metrics), so a replay never doubles a document. A sink
  reject that is not such a document (``sink: not a decodable event``) is counted, not replayed.
  Replay them with ``--reason-prefix es:`` once the cause (a mapping, a closed index) is fixed.

Nothing is ever removed from the dead-letter topic (it expires by its retention only). Listing reads
it with a throwaway consumer group and commits nothing. Replay reads it with a named group that
commits its progress, so a record is replayed once per group; by default the group is named after
the reason prefix, so replaying another reason later is not blocked by the first replay.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.sealing import open_letter
from agent_audit.core.settings import Settings, Topics
from agent_audit.sinks.keystore import build_data_keys

__all__ = ["DeadLetter", "DlqSummary", "ReplayReport", "read_dead_letters", "refused_document_target",
           "replay", "replay_group", "summarize"]


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    reason: str
    source: str | None
    value: bytes
    timestamp_ms: int | None = None

    @classmethod
    def from_message(cls, msg: Message) -> DeadLetter:
        raw = msg.headers() or []
        headers = {k: (v.decode(errors="replace") if isinstance(v, bytes) else (v or ""))
                   for k, v in (raw.items() if isinstance(raw, dict) else raw)}
        kind, ts = msg.timestamp()
        return cls(msg.partition() or 0, msg.offset() or 0, headers.get("reason", "(no reason)"),
                   headers.get("source"), msg.value() or b"", ts if kind else None)

    def matches(self, reason_prefix: str | None) -> bool:
        return not reason_prefix or self.reason.startswith(reason_prefix)

    def raw_partition(self, raw_topic: str) -> int | None:
        """The raw-topic partition the stream read this from, or None if it was not the stream."""
        m = re.fullmatch(re.escape(raw_topic) + r"/(\d+)/\d+", self.source or "")
        return int(m[1]) if m else None

    def summary(self, raw_topic: str) -> dict[str, Any]:
        return {"partition": self.partition, "offset": self.offset, "reason": self.reason,
                "source": self.source, "bytes": len(self.value), "timestamp_ms": self.timestamp_ms,
                "replayable": self.raw_partition(raw_topic) is not None
                or refused_document_target(self, Topics.with_prefix("")) is not None}


@dataclass(frozen=True)
class DlqSummary:
    total: int
    matching: int
    by_reason: dict[str, int]
    first: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "matching": self.matching, "by_reason": self.by_reason,
                "first": self.first}


def summarize(letters: Iterable[DeadLetter], raw_topic: str, reason_prefix: str | None = None,
              limit: int = 5) -> DlqSummary:
    """Counts by reason (most frequent first) of the letters matching the prefix, and the first few."""
    total, counts = 0, Counter[str]()
    first: list[dict[str, Any]] = []
    for letter in letters:
        total += 1
        if letter.matches(reason_prefix):
            counts[letter.reason] += 1
            if len(first) < limit:
                first.append(letter.summary(raw_topic))
    return DlqSummary(total, sum(counts.values()), dict(counts.most_common()), first)


def replay_group(settings: Settings, reason_prefix: str | None) -> str:
    """The default replay group: one per topic prefix and reason prefix."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", reason_prefix) if reason_prefix else "all"
    return f"{settings.topic_prefix}agent-audit-dlq-replay.{label}"


def _consumer(settings: Settings, group: str) -> Consumer:
    return Consumer({**kafka_client_config(settings, "admin"), "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "enable.partition.eof": False})


def _ranges(consumer: Consumer, topic: str, resume: bool, timeout: float) -> dict[int, tuple[int, int]]:
    """Per partition: (first offset to read, end offset at the start of this run)."""
    meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        raise TransientError(f"dead-letter topic {topic} is not available: {meta and meta.error}")
    parts = sorted(meta.partitions)
    committed: dict[int, int] = {}
    if resume:
        asked = [TopicPartition(topic, p) for p in parts]
        committed = {tp.partition: tp.offset for tp in consumer.committed(asked, timeout=timeout)}
    out = {}
    for p in parts:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
        start = max(low, committed.get(p, -1))
        if start < high:
            out[p] = (start, high)
    return out


def _read(consumer: Consumer, topic: str, ranges: dict[int, tuple[int, int]],
          timeout: float) -> Iterator[Message]:
    """Records from each range's start to its end (a snapshot: later arrivals wait for the next run)."""
    consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in ranges.items()])
    pending = set(ranges)
    idle = 0.0
    while pending:
        msg = consumer.poll(0.5)
        if msg is None:
            idle += 0.5
            if idle >= timeout:
                raise TransientError(f"reading {topic} stalled with partitions {sorted(pending)} unread")
            continue
        idle = 0.0
        err = msg.error()
        if err is not None:
            raise TransientError(f"reading {topic}: {err.str()}")
        p, offset = msg.partition() or 0, msg.offset() or 0
        if p not in pending:
            continue
        if offset + 1 >= ranges[p][1]:
            pending.discard(p)
        yield msg


def read_dead_letters(settings: Settings, timeout: float = 15.0) -> Iterator[DeadLetter]:
    """Every dead letter present now, with a throwaway group that commits nothing."""
    topic = settings.topics.dlq
    consumer = _consumer(settings, f"{settings.topic_prefix}agent-audit-dlq-list.{uuid.uuid4().hex[:8]}")
    try:
        ranges = _ranges(consumer, topic, resume=False, timeout=timeout)
        for msg in _read(consumer, topic, ranges, timeout):
            yield DeadLetter.from_message(msg)
    finally:
        consumer.close()


@dataclass
class ReplayReport:
    group: str
    scanned: int = 0
    replayed: int = 0
    other_reason: int = 0
    not_from_stream: int = 0  # neither the stream's reject nor a document the sink refused
    refused_documents: int = 0  # of ``replayed``: documents Elasticsearch refused, sent to the sink again
    shredded: int = 0  # sealed under a destroyed data key (a forgotten user): skipped, never replayed
    replayed_by_reason: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def replay(settings: Settings, reason_prefix: str | None = None, group: str | None = None,
           batch: int = 500, timeout: float = 15.0) -> ReplayReport:
    """Re-publish the dead letters matching ``reason_prefix``: the stream's to the raw topic, each to
    the partition it came from (the stream keeps a session's chain state per partition); the
    documents Elasticsearch refused to the sink's topic they came from (see the module docstring)."""
    topics = settings.topics
    report = ReplayReport(group or replay_group(settings, reason_prefix))
    consumer = _consumer(settings, report.group)
    producer = Producer({**kafka_client_config(settings, "admin"), "linger.ms": 20,
                         "enable.idempotence": True})
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err.str())

    try:
        ranges = _ranges(consumer, topics.dlq, resume=True, timeout=timeout)
        progress: dict[int, int] = {}
        keys = build_data_keys(settings)
        for msg in _read(consumer, topics.dlq, ranges, timeout):
            letter = DeadLetter.from_message(msg)
            if letter.raw_partition(topics.raw) is None:
                # A document the sink refused goes back sealed, exactly as the stream sent it.
                _replay_one(producer, letter, topics, reason_prefix, report, on_delivery)
            elif (opened := open_letter(letter.value, keys)).value is None:  # its user was forgotten
                report.scanned += 1
                report.shredded += 1
            else:  # the stream's reject goes back to raw as the line it was (raw is never sealed)
                letter = dataclasses.replace(letter, value=opened.value)
                _replay_one(producer, letter, topics, reason_prefix, report, on_delivery)
            progress[letter.partition] = letter.offset + 1
            if report.scanned % batch == 0:
                _commit(consumer, producer, topics.dlq, progress, failures)
        _commit(consumer, producer, topics.dlq, progress, failures)
    finally:
        producer.flush(5)
        producer.purge()
        consumer.close()
    return report


Headers = list[tuple[str, str | bytes | None]]
REFUSED = "es:"  # the reason prefix of a document Elasticsearch refused (sinks.bulk.classify)


def _replay_one(producer: Producer, letter: DeadLetter, topics: Topics, reason_prefix: str | None,
                report: ReplayReport, on_delivery: Any) -> None:
    report.scanned += 1
    if not letter.matches(reason_prefix):
        report.other_reason += 1
        return
    headers: Headers = [
        ("replayed_from", f"{topics.dlq}/{letter.partition}/{letter.offset}".encode()),
        ("dlq_reason", letter.reason.encode()),
    ]
    partition = letter.raw_partition(topics.raw)
    if partition is not None:
        producer.produce(topics.raw, value=letter.value, partition=partition, headers=headers,
                         on_delivery=on_delivery)
    else:
        target = refused_document_target(letter, topics)
        if target is None:
            report.not_from_stream += 1
            return
        topic, key, own = target
        producer.produce(topic, value=letter.value, key=key, headers=[*own, *headers],
                         on_delivery=on_delivery)
        report.refused_documents += 1
    producer.poll(0)
    report.replayed += 1
    report.replayed_by_reason[letter.reason] = report.replayed_by_reason.get(letter.reason, 0) + 1


def refused_document_target(letter: DeadLetter, topics: Topics) -> tuple[str, bytes | None, Headers] | None:
    """Where a document the sink dead-lettered goes back to, with the headers the stream gave it:
    (topic, key, headers); None when it is not a document of ours (or not the sink's reject)."""
    if letter.source is not None or not letter.reason.startswith(REFUSED):
        return None
    try:
        doc = orjson.loads(letter.value)
        return _target(doc, topics) if isinstance(doc, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def _target(doc: dict[str, Any], topics: Topics) -> tuple[str, bytes | None, Headers] | None:
    if "event_id" in doc and "session_id" in doc:
        return topics.events, str(doc["session_id"]).encode(), [
            ("event_id", str(doc["event_id"]).encode()), ("day", _day(doc["timestamp"]))]
    if "metric_id" in doc:
        return topics.metrics, None, [
            ("metric_id", str(doc["metric_id"]).encode()),
            ("revision", str(int(doc["revision"])).encode()), ("day", _day(doc["window_start"]))]
    if "alert_id" in doc:
        return topics.alerts, None, [("alert_id", str(doc["alert_id"]).encode()),
                                     ("day", _day(doc["window_start"]))]
    return None


def _day(timestamp: Any) -> bytes:
    return str(timestamp)[:10].replace("-", ".").encode()


def _commit(consumer: Consumer, producer: Producer, topic: str, progress: dict[int, int],
            failures: list[str]) -> None:
    """Commit only what the raw topic acknowledged: a crash before this replays, never skips."""
    if producer.flush(30) or failures:
        raise TransientError(f"replay not acknowledged ({failures[:1] or 'flush timed out'}); "
                             "progress not committed, run again")
    if progress:
        try:
            consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in progress.items()],
                            asynchronous=False)
        except KafkaException as exc:
            raise TransientError(f"committing replay progress failed: {exc}") from exc
