"""The stream's outputs go out through one confluent-kafka producer, flushed before the input is acked.

At-least-once: ``send`` returns only once every record of the batch was acknowledged by the broker;
on a delivery failure the whole batch is sent again (duplicates are harmless downstream, because
``event_id`` is the document id). It never gives up and never drops.

Two steps: the outputs (events, dead letters, extra records) are acknowledged before the state
records are produced. A crash can stop a flush after any subset of its partitions was written;
the state ends with the windows record that makes a restarted stream skip the envelope, so that
record must never reach the topic while the envelope's events have not.

Events and dead letters leave sealed under their user's data key (``core.sealing``), so a forgotten
user's copies on these topics are unreadable once the key is destroyed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from confluent_kafka import KafkaError, Message, Producer

from agent_audit.core.datakeys import DataKeys
from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.processing import ProcessedEnvelope
from agent_audit.core.sealing import seal_events, seal_letter
from agent_audit.core.settings import Settings
from agent_audit.core.stages import StageTimes
from agent_audit.sinks.keystore import build_data_keys

__all__ = ["OutRecord", "OutputProducer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class OutputProducer:
    def __init__(self, settings: Settings, keys: DataKeys | None = None,
                 times: StageTimes | None = None) -> None:
        self.topics = settings.topics
        self.times = times or StageTimes()  # "seal" and "produce", in whichever thread sends
        self.keys = keys or (build_data_keys(settings, patience_s=5.0) if settings.seal_events else None)
        self.producer = Producer({
            **kafka_client_config(settings, "stream"),
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
            "batch.size": 512 * 1024,
            "message.max.bytes": 4 * 1024 * 1024,
            "queue.buffering.max.messages": 500_000,
            # Failures still call back (and make ``send`` retry); successes need no Python call
            # each, since ``flush`` returning with nothing left is the batch's acknowledgement.
            "delivery.report.only.error": True,
        })
        self.sent = 0
        self.dead_lettered = 0

    def send(self, result: ProcessedEnvelope, source: tuple[str, int, int] | None = None,
             state: Sequence[tuple[bytes, bytes | None, int]] = (), extra: Sequence[OutRecord] = ()) -> None:
        """Publish one envelope's events, dead letters, state and extra records; return once acked."""
        backoff = 0.2
        while True:
            try:
                failures = self._send_once(result, source, state, extra)
            except TransientError as exc:  # the data-key store is away and a new user's key is needed
                failures = [str(exc)]
            if not failures:
                self.sent += len(result.events)
                self.dead_lettered += len(result.dead)
                return
            log.warning("stream.output.retry failures=%d first=%s backoff_s=%.1f",
                        len(failures), failures[0], backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def send_async(self, result: ProcessedEnvelope, source: tuple[str, int, int] | None,
                         state: Sequence[tuple[bytes, bytes | None, int]] = (),
                         extra: Sequence[OutRecord] = ()) -> None:
        # The flush waits on the network: keep it off the event loop so Faust keeps heartbeating.
        await asyncio.get_running_loop().run_in_executor(None, self.send, result, source, state, extra)

    def _send_once(self, result: ProcessedEnvelope, source: tuple[str, int, int] | None,
                   state: Sequence[tuple[bytes, bytes | None, int]], extra: Sequence[OutRecord]) -> list[str]:
        failures: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err.str())

        produce, events_topic, keys = self.producer.produce, self.topics.events, self.keys
        # Sealed under each user's data key (keys looked up once per envelope), or as they are.
        events = result.events
        mark = self.times.now()
        values = (seal_events([ev.event for ev in events], keys) if keys else
                  [ev.value or orjson.dumps(ev.event) for ev in events])  # never an empty record
        mark = self.times.lap("seal", mark)
        for ev, value in zip(events, values, strict=True):  # the hot loop: no helper call per record
            headers: list[tuple[str, str | bytes | None]] = [
                ("event_id", str(ev.event["event_id"]).encode()),
                ("day", str(ev.event["timestamp"])[:10].replace("-", ".").encode())]
            try:
                produce(events_topic, value, ev.key, headers=headers, on_delivery=on_delivery)
            except BufferError:
                self._produce(events_topic, value, ev.key, headers, on_delivery)
        for dead in result.dead:
            headers = [("reason", dead.reason.encode())]
            if source is not None:
                topic, partition, offset = source
                headers.append(("source", f"{topic}/{partition}/{offset}".encode()))
            letter = seal_letter(dead.value, keys) if keys is not None else dead.value
            self._produce(self.topics.dlq, letter, None, headers, on_delivery)
        for record in extra:
            self._produce(record.topic, record.value, record.key, record.headers, on_delivery)
        mark = self._flush(failures, mark)
        if failures or not state:
            return failures
        for key, record_value, partition in state:  # a None value is a tombstone (a retired session)
            self._produce(self.topics.state, record_value, key, [], on_delivery, partition)
        self._flush(failures, mark)
        return failures

    def _flush(self, failures: list[str], mark: int) -> int:
        remaining = self._flush_until_answered(failures)
        mark = self.times.lap("produce", mark)  # this thread's CPU: the wait for the acks costs none
        if remaining:
            failures.append(f"{remaining} records not acknowledged within 30s")
        return mark

    def _flush_until_answered(self, failures: list[str]) -> int:
        """Flush until every record is acknowledged or one failed. Records still queued after a
        wait (the broker away or restarting) are not failed: librdkafka delivers them, or reports
        them failed after ``message.timeout.ms``; producing them again would put a second copy on
        the topic."""
        remaining = self.producer.flush(30.0)
        while remaining and not failures:
            log.warning("stream.output.waiting records=%d: not acknowledged yet (broker away?)", remaining)
            remaining = self.producer.flush(30.0)
        return remaining

    def _produce(self, topic: str, value: bytes | None, key: bytes | None,
                 headers: Sequence[tuple[str, str | bytes | None]],
                 cb: Callable[[KafkaError | None, Message], None], partition: int = -1) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, headers=list(headers),
                                      partition=partition, on_delivery=cb)
                return
            except BufferError:
                self.producer.poll(0.1)  # local queue full: let deliveries drain, then go on

    def close(self, timeout: float = 10.0) -> None:
        self.producer.flush(timeout)

