"""The archive worker: consume ``agent.events`` in its own group, write Parquet, commit after the write.

Guarantee: every event on ``agent.events`` ends up in the archive exactly once, through crashes.
- A partition's records are cut into batches. Before a batch is written, its offset range is
  recorded (``_state/pNNN.json``, the intent); then its objects are put (one per UTC day, named by
  day, partition and range: ``layout``); only then is the offset after it committed.
- After a crash the group resumes at the last commit. If the intent covers that offset, the
  replayed batch is cut at exactly the recorded end, so it rewrites the same objects with the same
  rows instead of adding overlapping ones. Nothing is committed that is not durably written.
- Closed days are compacted on a timer (``compaction``), which also drops duplicates the stream's
  own at-least-once replays put on the topic.
Object storage away or refusing: the write is retried with backoff, nothing is committed meanwhile.
Kafka away (down at start, restarting): the worker waits (``archive.kafka.waiting``); a commit is
retried until the coordinator answers, and one refused because the group gave the partition away
lets it go until it is assigned again (the replay follows the intent: same objects).
Records that are not events are skipped and counted: the Elasticsearch sink dead-letters them.
Records are archived as they came (the user's content sealed under their data key): forget
destroys the key and the archived copies are unreadable with every other copy (``rows``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.compaction import compact
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.layout import intent_key
from agent_audit.sinks.archive.parquet import encode_batch
from agent_audit.sinks.archive.store import ObjectStore, build_store
from agent_audit.sinks.kafka_answers import COORDINATOR_AWAY, NOT_OWNER, kafka_error_logger
from agent_audit.sinks.keystore import build_data_keys
from agent_audit.sinks.opening import EventOpener

__all__ = ["ArchiveSink"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Batch:
    first: int
    values: list[bytes] = field(default_factory=list)
    last: int = -1
    started: float = field(default_factory=time.monotonic)
    cut_at: int | None = None  # the end an earlier attempt recorded: replay must stop exactly there


class ArchiveSink:
    def __init__(self, settings: Settings, archive: ArchiveSettings,
                 store: ObjectStore | None = None) -> None:
        self.settings = settings
        self.archive = archive
        self._ensure: Callable[[], None] | None = None  # run() waits for the bucket: S3 may be down
        if store is None:
            built = build_store(archive, ensure=False)
            store, self._ensure = built, built.ensure_bucket
        self.store = store
        self.topic = settings.topics.events
        # Events arrive sealed under their users' data keys (core.sealing) and are archived sealed;
        # they are opened here only to fill the typed columns that hold nothing personal (``rows``).
        self.opener = EventOpener(build_data_keys(settings, patience_s=5.0), self.stopping_requested)
        self.consumer = Consumer({
            **kafka_client_config(settings, "sink"),
            "group.id": archive.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 32 * 1024 * 1024,
            # A killed worker's partitions move on after 10 s instead of 45 (heartbeats come from
            # librdkafka's own thread: a long write does not stop them).
            "session.timeout.ms": 10_000,
            "error_cb": kafka_error_logger("archive", log),
        })
        self.stopping = threading.Event()
        self.batches: dict[int, _Batch] = {}
        self.checked: set[int] = set()  # partitions whose intent was read since they were assigned
        self.lost: set[int] = set()  # taken away by the group, not yet assigned again
        self.written = 0
        self.objects = 0
        self.invalid = 0
        self._next_compaction = time.monotonic() + archive.compact_after_s

    def start(self) -> None:
        """Join the group (partitions come with the first ``step``)."""
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_lost)

    def run(self) -> None:
        if self._ensure is not None:
            try:
                self._retrying(self._ensure)
            except TransientError:
                log.info("archive.stopped before the store answered")
                return
            self._ensure = None
        self.start()
        log.info("archive.started topic=%s group=%s at=%s", self.topic, self.archive.group,
                 self.archive.location)
        try:
            while not self.stopping.is_set():
                self.step()
            self.flush_all()
        finally:
            self.consumer.close()
            log.info("archive.stopped events=%d objects=%d invalid=%d", self.written, self.objects,
                     self.invalid)

    def step(self, timeout: float = 0.5) -> int:
        """Consume what is there, write the batches that are due; returns the records consumed."""
        got = self.consumer.consume(5000, timeout)
        for msg in got:
            if msg.error() is not None:
                _log_error(msg)
                continue
            self._add(msg)
        self._flush_due()
        if time.monotonic() >= self._next_compaction:
            self._next_compaction = time.monotonic() + self.archive.compact_after_s
            try:
                done = compact(self.store)
            except TransientError as exc:  # the next round will do it
                log.warning("archive.compaction.failed reason=%s", exc)
            else:
                log.info("archive.compacted objects=%d", len(done))
        return len(got)

    def _add(self, msg: Message) -> None:
        partition, offset = msg.partition() or 0, msg.offset() or 0
        if partition in self.lost:
            return  # fetched before the group took it away: its next owner reads it again
        batch = self.batches.get(partition)
        if batch is None:
            cut_at = self._recorded_end(partition, offset)
            batch = self.batches[partition] = _Batch(first=offset, cut_at=cut_at)
        batch.values.append(msg.value() or b"")
        batch.last = offset
        if batch.cut_at is not None and offset >= batch.cut_at:
            self._flush(partition)

    def _recorded_end(self, partition: int, offset: int) -> int | None:
        """The end of an uncommitted batch that starts here (a crash left it), else None."""
        if partition in self.checked:
            return None
        self.checked.add(partition)
        raw = self._retrying(lambda: self.store.get(intent_key(partition)))
        if raw is None:
            return None
        intent = orjson.loads(raw)
        if intent.get("topic") == self.topic and intent["first"] <= offset <= intent["last"]:
            log.info("archive.replay partition=%d first=%d last=%d", partition, offset, intent["last"])
            return int(intent["last"])
        return None

    def _flush_due(self) -> None:
        now = time.monotonic()
        for partition, batch in list(self.batches.items()):
            if batch.cut_at is not None:
                continue  # a replay: only its recorded end may cut it
            if len(batch.values) >= self.archive.batch or now - batch.started >= self.archive.linger_s:
                self._flush(partition)

    def flush_all(self) -> None:
        """Write every batch held; a replay short of its recorded end stays unwritten (replayed)."""
        for partition, batch in list(self.batches.items()):
            if batch.cut_at is None or batch.last >= batch.cut_at:
                self._flush(partition)

    def stopping_requested(self) -> bool:
        return self.stopping.is_set()

    def _opened(self, values: list[bytes]) -> tuple[list[bytes], list[bytes | None], int]:
        """The records to archive (as they came: sealed), the events inside them (for the typed
        columns; a tombstone once the key is destroyed, None without a key), and how many records
        did not decrypt (skipped and counted: the Elasticsearch sink dead-letters them)."""
        self.opener.prefetch(values)
        kept: list[bytes] = []
        opened: list[bytes | None] = []
        for value in values:
            try:
                inside = self.opener.open(value)
            except ValueError:
                continue
            kept.append(value)
            opened.append(inside)
        return kept, opened, len(values) - len(kept)

    def _flush(self, partition: int) -> None:
        """Intent, objects, commit: in that order, each durable before the next starts."""
        batch = self.batches.pop(partition)
        intent = {"topic": self.topic, "partition": partition, "first": batch.first, "last": batch.last}
        self._put(intent_key(partition), orjson.dumps(intent))
        values, opened, undecryptable = self._opened(batch.values)
        encoded = encode_batch(partition, batch.first, batch.last, values, opened)
        for key, data in encoded.objects:
            self._put(key, data)
        self._commit(partition, batch.last + 1)
        self.written += encoded.rows
        self.objects += len(encoded.objects)
        invalid = encoded.invalid + undecryptable
        self.invalid += invalid
        if invalid:
            log.warning("archive.skipped_not_events partition=%d count=%d", partition, invalid)
        log.info("archive.written partition=%d first=%d last=%d events=%d objects=%d", partition,
                 batch.first, batch.last, encoded.rows, len(encoded.objects))

    def _commit(self, partition: int, offset: int) -> None:
        """Commit a written batch. While the coordinator is unreachable (a broker restarting) the
        commit is retried: skipping it could let a later batch's intent replace this one's. Refused
        because the partition is no longer ours: it is let go, the next owner replays the range."""
        backoff = 0.5
        while True:
            try:
                self.consumer.commit(offsets=[TopicPartition(self.topic, partition, offset)],
                                     asynchronous=False)
                return
            except KafkaException as exc:
                code = exc.args[0].code()
                if code in NOT_OWNER:
                    log.warning("archive.commit.skipped partition=%d code=%s: the next owner replays it",
                                partition, exc.args[0].name())
                    self._let_go(partition)
                    return
                if code not in COORDINATOR_AWAY or self.stopping.is_set():
                    raise
                log.warning("archive.commit.retry partition=%d code=%s backoff_s=%.1f: waiting for Kafka",
                            partition, exc.args[0].name(), backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _let_go(self, partition: int) -> None:
        """Forget a partition the group took away: its records are skipped until it is assigned
        again (from its committed offset), so nothing it held is written or its intent replaced."""
        self.batches.pop(partition, None)
        self.checked.discard(partition)
        self.lost.add(partition)

    def _put(self, key: str, data: bytes) -> None:
        self._retrying(lambda: self.store.put(key, data))

    def _retrying(self, call: Callable[[], T]) -> T:
        """Call until the store answers; stopping meanwhile leaves the batch uncommitted (replayed)."""
        backoff = 0.5
        while True:
            try:
                return call()
            except TransientError as exc:
                if self.stopping.is_set():
                    raise
                log.warning("archive.store.retry reason=%s backoff_s=%.1f", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.checked.discard(tp.partition)
            self.lost.discard(tp.partition)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Already given away: writing what we hold could only be refused at the commit.
        log.warning("archive.partitions.lost count=%d: rejoining the group", len(partitions))
        for tp in partitions:
            self._let_go(tp.partition)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Write and commit what we hold while the partitions are still ours; a replayed batch
        # that cannot reach its recorded end now is left to the next owner, who will.
        for tp in partitions:
            batch = self.batches.get(tp.partition)
            if batch is not None and batch.cut_at is not None and batch.last < batch.cut_at:
                self.batches.pop(tp.partition)
            elif batch is not None:
                self._flush(tp.partition)
            self.checked.discard(tp.partition)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())


def _log_error(msg: Message) -> None:
    err = msg.error()
    if err is None or err.code() == KafkaError._PARTITION_EOF:
        return
    if err.fatal():
        raise KafkaException(err)
    log.warning("archive.consume.error code=%s", err.name())
