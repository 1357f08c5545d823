"""Transports carry encoded events away from the agent. The agent's thread only appends bytes.

``KafkaTransport`` batches events per partition into NDJSON envelopes and publishes them from a
background thread (linger, bounded in events and bytes); delivery reports are handled there too.
``MemoryTransport`` keeps them in memory, for tests and for users testing their own agents.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.settings import Settings
from core.wire import join_envelope, partition_for
from producers.spool import DiskSpool

__all__ = ["Counters", "KafkaTransport", "MemoryTransport", "Transport"]

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, session_id: str, encoded: bytes) -> None: ...

    def flush(self, timeout: float) -> bool: ...


@dataclass
class Counters:
    recorded: int = 0
    sent: int = 0  # acknowledged by the broker (first try or replayed from the spool)
    spooled: int = 0  # written to the disk spool because the broker could not take them
    replayed: int = 0  # delivered from the spool once the broker was back
    failed: int = 0  # delivery attempts that failed (each then went to the spool)
    dropped: int = 0  # refused by a full spool: the only way an event is lost, and it is counted


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

    REPLAY_EVERY_S = 1.0

    def __init__(self, settings: Settings, config: dict[str, object] | None = None,
                 spool: DiskSpool | None = None) -> None:
        self.topic = settings.topics.raw
        self.producer = Producer({
            "bootstrap.servers": settings.kafka_bootstrap,
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 5,
            "queue.buffering.max.kbytes": 64 * 1024,  # bounded memory; past it, the disk spool
            "message.max.bytes": 2 * 1024 * 1024,
            "message.timeout.ms": 15_000,  # an outage longer than this moves envelopes to disk
            **(config or {}),
        })
        self.spool = spool if spool is not None else DiskSpool(_spool_dir(settings))
        self._spooling = not self.spool.empty()  # a previous run left envelopes: replay them first
        self._next_replay = 0.0
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
            if self._spooling and time.monotonic() >= self._next_replay:
                self._replay()

    def _drain(self) -> None:
        with self._lock:
            batches, self._batches, self._sizes = self._batches, {}, {}
        for partition, events in batches.items():
            for start in range(0, len(events), self.MAX_EVENTS):
                chunk = events[start:start + self.MAX_EVENTS]
                self._produce(partition, join_envelope(chunk), len(chunk))

    def _produce(self, partition: int, envelope: bytes, n: int) -> None:
        if self._spooling:  # while older envelopes wait on disk, newer ones queue behind them
            self._to_spool(partition, envelope, n)
            return

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            self._inflight -= n
            if err is None:
                self.counters.sent += n
                return
            self.counters.failed += n
            if not self._spooling:
                log.warning("audit.transport.broker_unavailable code=%s: spooling to %s",
                            err.name(), self.spool.dir)
            self._spooling = True
            self._to_spool(partition, envelope, n)

        try:
            self.producer.produce(self.topic, value=envelope, partition=partition, on_delivery=on_delivery)
            self._inflight += n
        except BufferError:  # the local queue is full: the broker is slow or away
            self._spooling = True
            self._to_spool(partition, envelope, n)

    def _to_spool(self, partition: int, envelope: bytes, n: int) -> None:
        if self.spool.append(partition, envelope):
            self.counters.spooled += n
        else:
            self.counters.dropped += n
            if self.counters.dropped == n:
                log.error("audit.transport.spool_full dir=%s: new events are dropped and counted",
                          self.spool.dir)

    def _replay(self, batch: int = 200) -> None:
        """Send spooled envelopes in order; commit the spool only past what the broker acknowledged."""
        self._next_replay = time.monotonic() + self.REPLAY_EVERY_S
        results: list[bool] = []
        sent: list[tuple[tuple[int, int], int]] = []
        for position, partition, envelope in itertools.islice(self.spool.pending(), batch):
            try:
                self.producer.produce(self.topic, value=envelope, partition=partition,
                                      on_delivery=lambda err, _m: results.append(err is None))
            except BufferError:
                break
            sent.append((position, envelope.count(b"\n") + 1))
        if not sent:
            if self.spool.empty():  # nothing left on disk: back to the direct path
                self._spooling = False
                log.warning("audit.transport.spool_drained replayed=%d", self.counters.replayed)
            return
        self.producer.flush(5.0)
        if len(results) == len(sent) and all(results):
            self.spool.commit(sent[-1][0])
            events = sum(n for _, n in sent)
            self.counters.replayed += events
            self.counters.sent += events
            self._next_replay = 0.0  # the broker is back: keep going

    def flush(self, timeout: float = 10.0) -> bool:
        """Publish everything recorded so far; True if all of it was acknowledged in time."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            with self._lock:
                pending = sum(len(b) for b in self._batches.values())
            if not pending and self._inflight <= 0 and not self._spooling:
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


def _spool_dir(settings: Settings) -> Path:
    # One spool per topic and process: two processes never interleave appends in one file.
    base = os.environ.get("AUDIT_SPOOL_DIR") or str(Path(tempfile.gettempdir()) / "agent-audit-spool")
    return Path(base) / settings.topics.raw / str(os.getpid())


def default_factory() -> Callable[[], KafkaTransport]:
    lock = threading.Lock()
    holder: list[KafkaTransport] = []

    def get() -> KafkaTransport:
        with lock:
            if not holder:
                holder.append(KafkaTransport(Settings.from_env()))
            return holder[0]

    return get
