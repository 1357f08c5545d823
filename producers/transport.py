"""Transports carry encoded events away from the agent. The agent's thread only appends bytes.

``KafkaTransport`` batches events per partition into NDJSON envelopes and publishes them from a
background thread (linger, bounded in events and bytes); delivery reports are handled there too.
``MemoryTransport`` keeps them in memory, for tests and for users testing their own agents.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.settings import Settings
from core.wire import join_envelope, partition_for

__all__ = ["Counters", "KafkaTransport", "MemoryTransport", "Transport"]

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, session_id: str, encoded: bytes) -> None: ...

    def flush(self, timeout: float) -> bool: ...


@dataclass
class Counters:
    recorded: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass
class MemoryTransport:
    """Keeps every encoded event, in order: ``events`` for assertions in tests."""

    events: list[bytes] = field(default_factory=list)

    def send(self, session_id: str, encoded: bytes) -> None:
        self.events.append(encoded)

    def flush(self, timeout: float) -> bool:
        return True


class KafkaTransport:
    MAX_EVENTS = 500
    MAX_BYTES = 512 * 1024  # below the raw topic's 2 MiB message bound, with room for compression
    LINGER_S = 0.02

    def __init__(self, settings: Settings, config: dict[str, object] | None = None) -> None:
        self.topic = settings.topics.raw
        self.producer = Producer({
            "bootstrap.servers": settings.kafka_bootstrap,
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 5,
            "queue.buffering.max.kbytes": 256 * 1024,
            "message.max.bytes": 2 * 1024 * 1024,
            **(config or {}),
        })
        self.partitions = self._partition_count(settings.raw_partitions)
        self.counters = Counters()
        self._lock = threading.Lock()
        self._batches: dict[int, list[bytes]] = {}
        self._sizes: dict[int, int] = {}
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._inflight = 0
        self._thread = threading.Thread(target=self._run, name="audit-transport", daemon=True)
        self._thread.start()
        atexit.register(self.close, 5.0)

    def _partition_count(self, default: int) -> int:
        try:
            meta = self.producer.list_topics(self.topic, timeout=5)
            found = len(meta.topics[self.topic].partitions)
        except (KafkaException, KeyError):
            return default
        return found or default

    def send(self, session_id: str, encoded: bytes) -> None:
        p = partition_for(session_id, self.partitions)
        with self._lock:
            batch = self._batches.setdefault(p, [])
            batch.append(encoded)
            self._sizes[p] = self._sizes.get(p, 0) + len(encoded) + 1
            self.counters.recorded += 1
            full = len(batch) >= self.MAX_EVENTS or self._sizes[p] >= self.MAX_BYTES
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.LINGER_S)
            self._wake.clear()
            self._drain()
            self.producer.poll(0)  # delivery reports run here, never on the agent's thread

    def _drain(self) -> None:
        with self._lock:
            batches, self._batches, self._sizes = self._batches, {}, {}
        for partition, events in batches.items():
            for start in range(0, len(events), self.MAX_EVENTS):
                chunk = events[start:start + self.MAX_EVENTS]
                self._produce(partition, join_envelope(chunk), len(chunk))

    def _produce(self, partition: int, envelope: bytes, n: int) -> None:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            self._inflight -= n
            if err is None:
                self.counters.sent += n
            else:
                self.counters.failed += n
                log.warning("audit.transport.delivery_failed events=%d code=%s", n, err.name())

        while not self._closed.is_set():
            try:
                self.producer.produce(self.topic, value=envelope, partition=partition,
                                      on_delivery=on_delivery)
                self._inflight += n
                return
            except BufferError:
                self.producer.poll(0.05)  # local queue full: wait on this thread, not the agent's
        self.counters.dropped += n

    def flush(self, timeout: float = 10.0) -> bool:
        """Publish everything recorded so far; True if all of it was acknowledged in time."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            with self._lock:
                pending = sum(len(b) for b in self._batches.values())
            if not pending and self._inflight <= 0:
                return True
            self._wake.set()
            time.sleep(0.005)
        return False

    def close(self, timeout: float = 5.0) -> None:
        if self._closed.is_set():
            return
        self.flush(timeout)
        self._closed.set()
        self._thread.join(1.0)
        # close() alone would wait message.timeout.ms with the broker away: bound it.
        self.producer.flush(0.5)
        self.producer.purge()
        self.producer.flush(0)


def default_factory() -> Callable[[], KafkaTransport]:
    lock = threading.Lock()
    holder: list[KafkaTransport] = []

    def get() -> KafkaTransport:
        with lock:
            if not holder:
                holder.append(KafkaTransport(Settings.from_env()))
            return holder[0]

    return get
