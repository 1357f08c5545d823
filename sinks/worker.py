"""The Elasticsearch sink worker: consume ``agent.events``, bulk-index, commit only after the ack.

Pipelined: while one batch is in Elasticsearch, the next is consumed and prepared, and sent as soon
as it is full or the one before is done (``sinks.gather``: Elasticsearch never waits on a consume
timeout). A batch's offsets are committed (explicitly, in order) only once it is acknowledged, so a
crash replays at most the two batches in flight, which ``op_type=create`` turns into duplicates.

At-least-once end to end: offsets are committed after every document of the batch is stored (or
already there: 409), or dead-lettered with its reason when Elasticsearch refuses it for good.
Transient trouble (connection loss, 429, 5xx) is retried with backoff, never dropped. Run several
workers in one consumer group to scale.

Late records for a sealed day go to today's index of their family, once (``sinks.late``).

Order (``sinks.lanes``): copies of one document id are written in consumption order, so the first
copy of an ``event_id`` in partition order is the one stored, whatever the batching.

Group membership: while it waits on Elasticsearch (an outage of any length) the worker pauses its
partitions and keeps polling, so it stays in its group past ``max.poll.interval.ms``. When the
membership is lost anyway (session timeout, "Unknown member", a rebalance mid-batch), offsets of
partitions it no longer owns are not committed: their next owner replays them, and the 409s make the
replay harmless; the worker rejoins and carries on. Kafka away (down at start, restarting): it
waits (``sink.kafka.waiting``), and a commit that finds no coordinator is skipped, a replay as above.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import lru_cache, partial

import orjson
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch, OrjsonSerializer

from agent_audit.core.errors import TransientError
from agent_audit.core.es_security import elasticsearch_options
from agent_audit.core.evidence.checkpoint import verify_signature
from agent_audit.core.evidence.keys import keyring_from_settings
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings
from agent_audit.sinks.acked_letters import AckedLetters, LettersNotAcknowledged
from agent_audit.sinks.bulk import BulkItem, build_body, classify, item_from_record
from agent_audit.sinks.conflicts import CONFLICT, conflict_alert, find_conflicts
from agent_audit.sinks.gather import gather
from agent_audit.sinks.indices import event_index, install_templates
from agent_audit.sinks.kafka_answers import COORDINATOR_AWAY, NOT_OWNER, kafka_error_logger
from agent_audit.sinks.keystore import build_data_keys
from agent_audit.sinks.lanes import BulkLanes
from agent_audit.sinks.late import SEALED_REASON, LateRouter, split_sealed
from agent_audit.sinks.opening import EventOpener
from agent_audit.sinks.telemetry import SinkTelemetry

__all__ = ["EventSink", "ShutdownBeforeAck", "build_es"]

log = logging.getLogger(__name__)


# Of each item's answer only what classify() reads: a third of the bytes to send and parse.
_BULK_ANSWER = "errors,items.*.status,items.*.error.type"

# A commit the sink may skip: refused because this worker is no longer (or not yet again) the
# partitions' owner, with nothing to commit or no consumer state yet, or while the coordinator is
# away. The next owner (or the next commit) covers it, and op_type=create makes a replay harmless.
_SKIPPABLE = NOT_OWNER | COORDINATOR_AWAY | {KafkaError._NO_OFFSET, KafkaError._STATE}


# The smallest wait for more records before a batch goes (sinks.gather): a tenth of the
# index's 0.5 s refresh, which decides when documents are searchable anyway.
_LINGER_S = 0.05

# How long a rebalance waits for the batch in flight before this worker lets its partitions go.
_REVOKE_WAIT_S = 10.0


class ShutdownBeforeAck(Exception):
    """Asked to stop while Elasticsearch has not acknowledged a batch: leave it uncommitted."""


Outcome = tuple[int, int, list[tuple[BulkItem, str]]]  # stored, duplicates, refused with reasons


@dataclass
class _InFlight:
    """A batch handed to Elasticsearch: its chunks' futures and the offsets to commit after them."""
    chunks: list[Future[Outcome]]
    offsets: list[TopicPartition]
    started: float
    appended: float  # Kafka timestamp (s) of the first record, 0 if none: the sink's share of latency
    settled: bool = False  # accounted for and committed (possibly early, by a revoke)

    def done(self) -> bool:
        return all(chunk.done() for chunk in self.chunks)


def build_es(settings: Settings) -> Elasticsearch:
    # orjson parses a 2000-item bulk answer 2.5x faster than the standard library's json.
    return Elasticsearch(**elasticsearch_options(settings), request_timeout=60,
                         max_retries=0, retry_on_timeout=False, serializer=OrjsonSerializer())


class EventSink:
    def __init__(self, settings: Settings, es: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.es = es or build_es(settings)
        self.consumer = Consumer({
            **kafka_client_config(settings, "sink"),
            "group.id": settings.sink_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 32 * 1024 * 1024,
            "max.poll.interval.ms": settings.sink_max_poll_ms,
            "session.timeout.ms": min(45_000, settings.sink_max_poll_ms),
            "on_commit": _on_commit,
            "error_cb": kafka_error_logger("sink", log),
        })
        self.dlq = Producer({**kafka_client_config(settings, "sink"), "linger.ms": 5})
        self.stopping = threading.Event()
        self.letters = AckedLetters(self.dlq, self.stopping.is_set)  # acknowledged before commits
        self.max_bytes = settings.sink_max_bytes
        # Two batches may be in Elasticsearch at once (the one finishing, the one just sent), in
        # lanes that keep the order of each document id.
        self.lanes = BulkLanes(settings.sink_concurrency, self.max_bytes)
        self.in_flight: _InFlight | None = None
        self._awaited: _InFlight | None = None  # the batch drain() waits on, for a revoke to settle
        self._held: list[Message] = []  # consumed while paused: they open the next batch
        self.stored = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.telemetry = SinkTelemetry()
        self._batches = 0
        # Every record asks for its daily index: a handful of distinct answers, cached.
        self._index_for_day = lru_cache(maxsize=256)(partial(event_index, settings.index_prefix))
        self.late = LateRouter(self.es, settings.index_prefix)
        self.opener = EventOpener(build_data_keys(settings, self.es, patience_s=5.0),  # decrypt first
                                  self.stopping.is_set)
        # Anyone who can publish could put an unsigned checkpoint on the topic, and verify would
        # then read it as tampering for every session of its partition: only signed ones are
        # indexed, where the sink has the public keys (AUDIT_PUBLIC_KEYS).
        self._checkpoints = settings.topics.checkpoints
        self._keyring = keyring_from_settings(settings)

    def run(self) -> None:
        if not self._templates_installed():
            return
        self.telemetry.serve(self.settings.metrics_port, self.settings.metrics_bind)
        topics = self.settings.topics
        self.consumer.subscribe([topics.events, topics.metrics, topics.alerts, topics.checkpoints],
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        log.info("sink.started topic=%s group=%s", self.settings.topics.events, self.settings.sink_group)
        try:
            while not self.stopping.is_set():
                self.step()
            self.drain(final=True)
        except (ShutdownBeforeAck, LettersNotAcknowledged) as exc:
            log.warning("sink.stop.unacknowledged %s: the batch will be replayed", exc)
        finally:
            self.lanes.shutdown()
            self.consumer.close()  # commits nothing more: every batch was committed after its ack
            self.dlq.flush(10)
            log.info("sink.stopped stored=%d duplicates=%d dead=%d",
                     self.stored, self.duplicates, self.dead_lettered)

    def _templates_installed(self) -> bool:
        """Install the index templates, waiting for Elasticsearch while it is away (a sink started
        before or during an outage waits instead of exiting); False if told to stop meanwhile."""
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                install_templates(self.es, self.settings.index_prefix)
                return True
            except (ESConnectionError, ConnectionTimeout) as exc:
                reason = type(exc).__name__
            except ApiError as exc:
                if exc.meta.status not in (429, 502, 503, 504):
                    raise  # refused or invalid: a configuration problem to report, not to wait out
                reason = f"http {exc.meta.status}"
            log.warning("sink.es.retry reason=%s backoff_s=%.1f (installing templates)", reason, backoff)
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 15.0)
        return False

    def step(self, timeout: float = 0.5) -> int:
        """Consume a batch and send it; then finish the batch sent before (ack, commit). Returns
        the records consumed; with none, the batch in flight is finished so nothing waits idle."""
        records = gather(self._consume, self.settings.sink_batch, self._ready, timeout, _LINGER_S)
        if not records:
            self.drain()
            return 0
        started = time.perf_counter()
        self.telemetry.records_in.inc(len(records))
        items: list[BulkItem] = []
        raws = [msg.value() or b"" for msg in records]
        # Decrypted, the batch's keys looked up once; None: skipped (counted); an error: dead-lettered.
        for msg, raw, value in zip(records, raws, self.opener.open_many(raws), strict=True):
            if value is None:
                continue
            if msg.topic() == self._checkpoints and not isinstance(value, ValueError) \
                    and not self._signed(value):
                self._dead_letter(raw, "sink: checkpoint without a valid signature")
                continue
            try:
                if isinstance(value, ValueError):
                    raise value
                items.append(item_from_record(value, msg.headers(), self._index_for_day, raw))
            except (ValueError, KeyError, TypeError):
                self._dead_letter(raw, "sink: not a decodable event")
        kind, millis = records[0].timestamp()
        sent = _InFlight(self._send(items), _next_offsets(records), started,
                         millis / 1000 if kind != TIMESTAMP_NOT_AVAILABLE else 0.0)
        self.drain()
        self.in_flight = sent
        return len(records)

    def _signed(self, value: bytes) -> bool:
        if not self._keyring.keys:
            return True  # nothing to check with: verify judges it with its own keys
        try:
            record = orjson.loads(value)
            return isinstance(record, dict) and verify_signature(record, self._keyring)
        except (ValueError, TypeError, KeyError):
            return False

    def _consume(self, n: int, timeout: float) -> list[Message]:
        if self._held:
            got, self._held = self._held[:n], self._held[n:]
            return got
        got = self.consumer.consume(n, timeout)
        records = [m for m in got if m.error() is None]
        if len(records) < len(got):
            _log_errors(got)
        return records

    def _ready(self, records: list[Message]) -> bool:
        """Send now: Elasticsearch is idle and records have come, or the batch in flight is done."""
        if self.in_flight is None:
            return bool(records)
        return all(chunk.done() for chunk in self.in_flight.chunks)

    def drain(self, final: bool = False) -> None:
        """Wait for the batch in flight (staying in the group), account for it, commit its offsets."""
        batch, self.in_flight = self.in_flight, None
        if batch is None:
            return
        self._await(batch)
        self._settle(batch, final)

    def _await(self, batch: _InFlight) -> None:
        """Wait for Elasticsearch with the partitions paused, polling so the group keeps us."""
        if batch.done():
            return
        self._awaited = batch
        try:
            while not batch.done():
                wait(batch.chunks, timeout=1.0)
                if not batch.done():
                    self._keep_membership()
        finally:
            self._awaited = None
            self.consumer.resume(self.consumer.assignment())

    def _keep_membership(self) -> None:
        # A poll resets max.poll.interval.ms; paused partitions fetch nothing new. What was fetched
        # already (or comes from a partition assigned meanwhile) is held for the next batch.
        self.consumer.pause(self.consumer.assignment())
        self._held += [m for m in self.consumer.consume(self.settings.sink_batch, 0.1) if m.error() is None]
        self.consumer.pause(self.consumer.assignment())

    def _settle(self, batch: _InFlight, final: bool) -> None:
        if batch.settled:
            return
        batch.settled = True
        for future in batch.chunks:
            self._account(future.result())  # ShutdownBeforeAck surfaces here, before any commit
        self.letters.settle()  # the batch's dead letters and alerts are on Kafka before its commit
        self._commit(batch.offsets, final)
        self.telemetry.batch_seconds.observe(time.perf_counter() - batch.started)
        if batch.appended:
            self.telemetry.ack_age.observe(max(0.0, time.time() - batch.appended))
        self._batches += 1
        if self._batches % 20 == 1:
            self._observe_lag()

    def _commit(self, offsets: list[TopicPartition], final: bool) -> None:
        """Commit the offsets of partitions still ours. Asynchronous while running (a lost commit
        only means a harmless replay); the last ones, on stop or revoke, wait for the answer."""
        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        mine = [tp for tp in offsets if (tp.topic, tp.partition) in owned]
        if not mine:
            return
        try:
            if final:
                self.consumer.commit(offsets=mine, asynchronous=False)
            else:
                self.consumer.commit(offsets=mine, asynchronous=True)
        except KafkaException as exc:
            if exc.args[0].code() not in _SKIPPABLE:
                raise
            log.warning("sink.commit.skipped code=%s: the next owner replays the batch", exc.args[0].name())

    def _observe_lag(self) -> None:
        try:
            positions = self.consumer.position(self.consumer.assignment())
        except KafkaException:
            return  # mid-rebalance: the next batch measures it
        for tp in positions:
            _low, high = self.consumer.get_watermark_offsets(tp, timeout=1, cached=True)
            if tp.offset >= 0 and high >= 0:
                self.telemetry.lag.labels(str(tp.partition)).set(high - tp.offset)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Called inside consume(): finish and commit the batch in flight (or the one drain() is
        # waiting on) while its partitions are still ours, so the next owner starts after it. The
        # whole group waits meanwhile: if Elasticsearch is slow, give the partitions up uncommitted
        # (the next owner replays them; lanes keep the first copy first) and settle the batch later.
        batch = self._awaited or self.in_flight
        if batch is not None:
            wait(batch.chunks, timeout=_REVOKE_WAIT_S)
            if batch.done():
                if batch is self.in_flight:
                    self.in_flight = None
                self._settle(batch, final=True)
        self._forget(partitions)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The group gave these partitions away already: commit nothing for them (their new owner
        # replays from the last commit); the batch in flight still finishes, its writes are harmless.
        log.warning("sink.partitions.lost count=%d: rejoining the group", len(partitions))
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._held = [m for m in self._held if (m.topic(), m.partition()) not in gone]

    def _send(self, items: Sequence[BulkItem]) -> list[Future[Outcome]]:
        """Hand every item to Elasticsearch in parallel chunks; each future ends stored or refused."""
        return self.lanes.submit(items, self._write_chunk)

    def _account(self, outcome: Outcome) -> None:
        stored, duplicates, failed = outcome
        self.stored += stored
        self.duplicates += duplicates
        self.telemetry.documents.labels("stored").inc(stored)
        self.telemetry.documents.labels("duplicate").inc(duplicates)
        for item, reason in failed:
            self._dead_letter(item.sealed or item.source, reason)  # never the decrypted copy
            if reason == CONFLICT:  # not a duplicate: a different event under a taken id
                value, headers = conflict_alert(item)
                self.letters.produce(self.settings.topics.alerts, value, headers)

    def _write_chunk(self, chunk: Sequence[BulkItem]) -> Outcome:
        pending, stored, duplicates = list(chunk), 0, 0
        failed: list[tuple[BulkItem, str]] = []
        backoff = 0.2
        while pending:
            try:
                outcome = classify(pending, self._bulk(pending))
            except TransientError as exc:
                outcome = None
                self.telemetry.retries.inc()
                log.warning("sink.bulk.retry reason=%s backoff_s=%.1f", exc, backoff)
            if outcome is not None:
                late, refused = split_sealed(outcome.failed)
                moved, already, stuck = self._route_late(late)
                stored += outcome.stored
                # A 409 is a duplicate only if the stored copy has the same integrity hash.
                same, conflicts = find_conflicts(self.es, outcome.seen) if outcome.seen else (0, [])
                duplicates += same + already
                failed += refused + conflicts + [(item, SEALED_REASON) for item in stuck]
                pending = outcome.retry + moved
            if pending:
                if self.stopping.is_set():
                    # Not committed: the next worker of the group replays this batch.
                    raise ShutdownBeforeAck(f"{len(pending)} documents not acknowledged")
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        return stored, duplicates, failed

    def _route_late(self, late: list[BulkItem]) -> tuple[list[BulkItem], int, list[BulkItem]]:
        if not late:
            return [], 0, []
        try:
            return self.late.route(late)
        except (ESConnectionError, ConnectionTimeout, ApiError) as exc:
            log.warning("sink.late.retry reason=%s", type(exc).__name__)
            return late, 0, []  # sent again, refused again, routed again once Elasticsearch answers

    def _bulk(self, items: Sequence[BulkItem]) -> dict[str, object]:
        try:
            resp = self.es.bulk(operations=build_body(items),  # type: ignore[arg-type]  # NDJSON bytes
                                filter_path=_BULK_ANSWER)
        except (ESConnectionError, ConnectionTimeout) as exc:
            raise TransientError(f"connection: {type(exc).__name__}") from exc
        except ApiError as exc:
            if exc.meta.status in (429, 500, 502, 503, 504):
                raise TransientError(f"http {exc.meta.status}") from exc
            raise
        return dict(resp.body)

    def _dead_letter(self, value: bytes, reason: str) -> None:
        self.letters.produce(self.settings.topics.dlq, value, [("reason", reason.encode())])
        self.dead_lettered += 1
        self.telemetry.dead_letters.labels(_reason_class(reason)).inc()
        log.warning("sink.dead_letter reason=%s", reason)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())


def _on_commit(err: KafkaError | None, _partitions: list[TopicPartition]) -> None:
    # The answer to an asynchronous commit: a refusal only means the batch will be replayed.
    if err is not None:
        log.warning("sink.commit.failed code=%s: the next owner replays the batch", err.name())


def _log_errors(got: Sequence[Message]) -> None:
    for msg in got:
        err = msg.error()
        if err is not None and err.code() != KafkaError._PARTITION_EOF:
            log.warning("sink.consume.error code=%s", err.name())


def _next_offsets(records: Sequence[Message]) -> list[TopicPartition]:
    """Per partition, the offset after the last record of the batch: what a commit stores."""
    # A partition's records arrive in offset order: the last one seen is the highest.
    last = {(msg.topic() or "", msg.partition() or 0): msg.offset() or 0 for msg in records}
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def _reason_class(reason: str) -> str:
    # A bounded label: "es:400" or "sink", never the free text after it.
    parts = reason.split(":")
    return ":".join(parts[:2]) if parts[0] == "es" else parts[0]
