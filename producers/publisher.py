"""The publishing port of the transport, and its confluent-kafka adapter.

``Publisher`` is what the transport's background thread needs from a broker client: produce an
envelope to its partition, serve delivery reports, purge what is queued, and say whether the broker
looks reachable. ``KafkaPublisher`` is the only module that imports confluent-kafka; tests use
``producers.memory.MemoryPublisher``.

Delivery outcomes are classified at this boundary: ``ok``; ``retry`` (broker away, timed out,
purged: the envelope goes to the spool); ``reject`` (the broker will never take it, e.g. too large:
counted as dropped, since spooling it would retry forever).

A probe (a metadata request for the topic) tells four answers apart: ``ok`` (with the partition
count), ``slow`` (no answer within the time, but no connection failed: keep producing, ask again
later), ``unreachable`` (connections refused or all brokers down: spool) and ``missing`` (the broker
answered that the topic does not exist). Only a delivery that librdkafka failed for an unknown topic
(after ``topic.metadata.propagation.max.ms``) makes the publisher unreachable for that reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from agent_audit.core.errors import InvalidEvent
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings
from agent_audit.producers.batching import Envelope
from agent_audit.producers.options import ClientOptions

__all__ = ["DeliveryCallback", "KafkaPublisher", "Outcome", "Probe", "Publisher", "producer_config"]

log = logging.getLogger(__name__)

Outcome = Literal["ok", "retry", "reject"]
DeliveryCallback = Callable[[Outcome], None]

_REJECTED = frozenset({KafkaError.MSG_SIZE_TOO_LARGE,
                       KafkaError.INVALID_RECORD, KafkaError.INVALID_MSG_SIZE,
                       KafkaError.RECORD_LIST_TOO_LARGE})
_NO_TOPIC = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC})


@dataclass(frozen=True)
class Probe:
    """What a metadata request for the topic found."""
    state: Literal["ok", "slow", "unreachable", "missing"]
    partitions: int | None = None  # known when ``ok``


class Publisher(Protocol):
    topic: str

    @property
    def reachable(self) -> bool: ...

    def probe(self, timeout: float) -> Probe:
        """Ask for the topic's partition count; the answer says why when there is none."""

    def produce(self, envelope: Envelope, on_delivery: DeliveryCallback) -> None:
        """Queue one envelope; BufferError when the local queue is full, InvalidEvent if never sendable."""

    def poll(self, timeout: float) -> None:
        """Serve delivery reports (callbacks run on the calling thread)."""

    def purge(self) -> None:
        """Fail everything queued or in flight now (reported as ``retry`` by the next poll)."""

    def close(self, timeout: float) -> None: ...


def producer_config(settings: Settings, options: ClientOptions) -> dict[str, Any]:
    """Throughput without blocking: the client batches into envelopes, librdkafka compresses them."""
    return {
        **kafka_client_config(settings, "agent"),
        "enable.idempotence": True,  # retries inside librdkafka never duplicate or reorder
        "compression.type": options.compression,
        "linger.ms": 5,  # envelopes are already batches; a short linger still packs several per request
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 10_000,  # envelopes, i.e. up to millions of events
        "queue.buffering.max.kbytes": 64 * 1024,  # bounded memory; past it, the disk spool
        "message.timeout.ms": 30_000,
        "log_level": 0,  # connection noise goes through error_cb, reported once, not to stderr
    }


class KafkaPublisher:
    def __init__(self, settings: Settings, options: ClientOptions | None = None,
                 config: dict[str, Any] | None = None) -> None:
        self.topic = settings.topics.raw
        self._config = {**producer_config(settings, options or ClientOptions()), **(config or {}),
                        "error_cb": self._on_error}
        self._producer = Producer(self._config)
        self._down = False
        self._fatal = False
        self._missing = False  # the broker said the topic does not exist

    @property
    def reachable(self) -> bool:
        return not self._down and not self._missing

    def _on_error(self, err: KafkaError) -> None:
        # Called from poll() on the transport's thread. One broker of several going away is normal.
        if err.code() == KafkaError._ALL_BROKERS_DOWN or err.fatal():
            self._down = True
        if err.fatal():
            self._fatal = True
            log.error("audit.kafka.fatal code=%s: the producer is rebuilt at the next probe", err.name())

    def probe(self, timeout: float) -> Probe:
        if self._fatal:  # an idempotent producer in a fatal state takes nothing more: start afresh
            self._producer.purge()
            self._producer = Producer(self._config)
            self._fatal = False
        try:
            meta = self._producer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            # A refused connection fails fast (_TRANSPORT); a broker still starting, or a machine
            # too busy to answer in time, only times out: that is "slow", not "unreachable".
            slow = exc.args[0].code() == KafkaError._TIMED_OUT and not self._down
            return Probe("slow" if slow else "unreachable")
        topic = meta.topics.get(self.topic)
        if topic is None or (topic.error is not None and topic.error.code() in _NO_TOPIC):
            return Probe("missing")  # not yet unreachable: it may be metadata catching up
        if topic.error is not None or not topic.partitions:
            return Probe("slow")  # e.g. a leader being elected: it will answer soon
        self._down = self._missing = False
        return Probe("ok", len(topic.partitions))

    def partitions(self, timeout: float) -> int | None:
        """The topic's partition count, or None when the probe found none."""
        return self.probe(timeout).partitions

    def produce(self, envelope: Envelope, on_delivery: DeliveryCallback) -> None:
        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._down = False
                on_delivery("ok")
            else:
                self._missing = self._missing or err.code() in _NO_TOPIC
                on_delivery("reject" if err.code() in _REJECTED else "retry")

        try:
            self._producer.produce(self.topic, value=envelope.value, key=envelope.key,
                                   partition=envelope.partition, on_delivery=report)
        except KafkaException as exc:  # BufferError is not one: it means "later", and propagates
            raise InvalidEvent(f"kafka refused the envelope: {exc.args[0].name()}") from None

    def poll(self, timeout: float) -> None:
        self._producer.poll(timeout)

    def purge(self) -> None:
        self._producer.purge(in_queue=True, in_flight=True)

    def close(self, timeout: float) -> None:
        # close() alone flushes with no time limit (it hangs while the broker is away): bound it.
        self._producer.flush(timeout)
        self._producer.purge(in_queue=True, in_flight=True)
        self._producer.poll(0)
        self._producer.close()
