"""The publishing port of the transport, and its confluent-kafka adapter.

``Publisher`` is what the transport's background thread needs from a broker client: produce an
envelope to its partition, serve delivery reports, purge what is queued, and say whether the broker
looks reachable. ``KafkaPublisher`` is the only module that imports confluent-kafka; tests use
``producers.memory.MemoryPublisher``.

Delivery outcomes are classified at this boundary: ``ok``; ``retry`` (broker away, timed out,
purged: the envelope goes to the spool); ``reject`` (the broker will never take it, e.g. too large:
counted as dropped, since spooling it would retry forever).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

from agent_audit.core.errors import InvalidEvent
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings
from agent_audit.producers.batching import Envelope
from agent_audit.producers.options import ClientOptions
from confluent_kafka import KafkaError, KafkaException, Message, Producer

__all__ = ["DeliveryCallback", "KafkaPublisher", "Outcome", "Publisher", "producer_config"]

log = logging.getLogger(__name__)

Outcome = Literal["ok", "retry", "reject"]
DeliveryCallback = Callable[[Outcome], None]

_REJECTED = frozenset({KafkaError.MSG_SIZE_TOO_LARGE,
                       KafkaError.INVALID_RECORD, KafkaError.INVALID_MSG_SIZE,
                       KafkaError.RECORD_LIST_TOO_LARGE})


class Publisher(Protocol):
    @property
    def reachable(self) -> bool: ...

    def partitions(self, timeout: float) -> int | None:
        """The topic's partition count, or None when the broker cannot be asked (a probe too)."""

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

    @property
    def reachable(self) -> bool:
        return not self._down

    def _on_error(self, err: KafkaError) -> None:
        # Called from poll() on the transport's thread. One broker of several going away is normal.
        if err.code() == KafkaError._ALL_BROKERS_DOWN or err.fatal():
            self._down = True
        if err.fatal():
            self._fatal = True
            log.error("audit.kafka.fatal code=%s: the producer is rebuilt at the next probe", err.name())

    def partitions(self, timeout: float) -> int | None:
        if self._fatal:  # an idempotent producer in a fatal state takes nothing more: start afresh
            self._producer.purge()
            self._producer = Producer(self._config)
            self._fatal = False
        try:
            meta = self._producer.list_topics(self.topic, timeout=timeout)
        except KafkaException:
            return None
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            return None
        self._down = False
        return len(topic.partitions)

    def produce(self, envelope: Envelope, on_delivery: DeliveryCallback) -> None:
        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._down = False
                on_delivery("ok")
            else:
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
