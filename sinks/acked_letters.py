"""Dead letters and alerts the sink sends: on Kafka, acknowledged, before the batch is committed.

A record the sink routes away (refused, conflicting, sealed beyond reach) exists only in the
message it produces: once the batch's offsets are committed, the event is never consumed again. So
``settle`` returns only when the broker acknowledged every record produced since the last call:
a record still queued when ``flush`` returns is waited for (producing it again would double it),
a record librdkafka failed (its ``message.timeout.ms`` passed with the broker away) is produced
again. Asked to stop meanwhile, ``settle`` raises and the batch stays uncommitted (replayed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

__all__ = ["AckedLetters", "LettersNotAcknowledged"]

log = logging.getLogger(__name__)
Headers = list[tuple[str, str | bytes | None]]


class LettersNotAcknowledged(Exception):
    """Asked to stop before the broker acknowledged every dead letter: leave the batch uncommitted."""


class AckedLetters:
    def __init__(self, producer: Producer, stopping: Callable[[], bool], flush_s: float = 30.0) -> None:
        self.producer = producer
        self.stopping = stopping
        self.flush_s = flush_s
        self._failed: list[tuple[str, bytes, Headers]] = []

    def produce(self, topic: str, value: bytes, headers: Headers) -> None:
        def delivered(err: KafkaError | None, _msg: Message[bytes, bytes] | None) -> None:
            if err is not None:
                self._failed.append((topic, value, headers))

        while True:
            try:
                self.producer.produce(topic, value=value, headers=headers, on_delivery=delivered)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.5)

    def settle(self) -> None:
        """Every record produced so far acknowledged by the broker (see the module's docstring)."""
        while True:
            queued = self.producer.flush(self.flush_s)
            if not queued and not self._failed:
                return
            if self.stopping():
                raise LettersNotAcknowledged(f"{queued} queued, {len(self._failed)} failed")
            failed, self._failed = self._failed, []
            if failed:
                log.warning("sink.dlq.retry records=%d: not delivered, produced again", len(failed))
            elif queued:
                log.warning("sink.dlq.waiting records=%d: not acknowledged yet", queued)
            for topic, value, headers in failed:
                self.produce(topic, value, headers)
