"""In-memory stand-ins of the client's ports, shipped with the code so agent teams test without Kafka.

``MemoryTransport`` replaces the whole transport behind an ``AuditTrail``: it keeps every encoded
event, in order. ``MemoryPublisher`` replaces only the broker behind a ``BatchTransport``: it can be
taken down and brought back, and its local queue can fill, so outage and replay logic run in tests.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

from agent_audit.core.errors import InvalidEvent
from agent_audit.producers.batching import Envelope
from agent_audit.producers.publisher import DeliveryCallback, Outcome, Probe
from agent_audit.producers.transport import Counters

__all__ = ["MemoryPublisher", "MemoryTransport"]


class MemoryTransport:
    """Keeps every encoded event: ``events`` (bytes) and ``decoded()`` (dicts) for assertions."""

    def __init__(self) -> None:
        self.events: list[bytes] = []
        self._lock = threading.Lock()

    def send(self, session_id: str, encoded: bytes) -> bool:
        with self._lock:
            self.events.append(encoded)
        return True

    def decoded(self) -> list[dict[str, Any]]:
        return [orjson.loads(e) for e in self.events]

    def flush(self, timeout: float = 0.0) -> bool:
        return True

    def shutdown(self, timeout: float = 0.0) -> bool:
        return True

    @property
    def counters(self) -> Counters:
        n = len(self.events)
        return Counters(recorded=n, sent=n)


class MemoryPublisher:
    """A broker in a list. ``up=False`` fails deliveries as a dead broker would; ``capacity`` bounds
    the local queue (BufferError past it); ``max_bytes`` rejects larger envelopes permanently.
    ``topic_exists=False`` answers probes (and fails deliveries) as a broker without the topic;
    ``slow=True`` lets probes time out while the broker is up."""

    topic = "memory"

    def __init__(self, partitions: int = 3, capacity: int = 10_000, max_bytes: int = 1_000_000) -> None:
        self.up = True
        self.n_partitions = partitions
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.delivered: list[Envelope] = []
        self.probes = 0
        self.topic_exists = True
        self.slow = False
        self._queued: list[tuple[Envelope, DeliveryCallback]] = []
        self._reports: list[tuple[DeliveryCallback, Outcome]] = []

    @property
    def reachable(self) -> bool:
        return self.up and self.topic_exists

    def partitions(self, timeout: float) -> int | None:
        return self.probe(timeout).partitions

    def probe(self, timeout: float) -> Probe:
        self.probes += 1
        if not self.up:
            return Probe("unreachable")
        if self.slow:
            return Probe("slow")
        if not self.topic_exists:
            return Probe("missing")
        return Probe("ok", self.n_partitions)

    def produce(self, envelope: Envelope, on_delivery: DeliveryCallback) -> None:
        if len(envelope.value) > self.max_bytes:
            raise InvalidEvent("too large")
        if len(self._queued) >= self.capacity:
            raise BufferError("local queue full")
        self._queued.append((envelope, on_delivery))

    def poll(self, timeout: float) -> None:
        if self.up and not self.topic_exists:
            self.purge()
        if self.up:  # a live broker acknowledges everything queued, in order
            for env, callback in self._queued:
                self.delivered.append(env)
                self._reports.append((callback, "ok"))
            self._queued.clear()
        reports, self._reports = self._reports, []
        for callback, outcome in reports:
            callback(outcome)

    def purge(self) -> None:
        self._reports.extend((callback, "retry") for _, callback in self._queued)
        self._queued.clear()

    def close(self, timeout: float) -> None:
        self.purge()
        self.poll(0)

    def lines(self) -> list[dict[str, Any]]:
        """Every delivered event, decoded, in delivery order."""
        return [orjson.loads(line) for env in self.delivered for line in env.value.split(b"\n")]
