"""Transports carry encoded events away from the agent; the agent's thread only appends to a queue.

Shaped like OpenTelemetry's BatchSpanProcessor: a bounded queue (``producers.queue``), one background
thread that cuts envelopes per partition every linger and publishes them, counted drops,
``flush(timeout)`` (force_flush) and ``shutdown(timeout)``. Unlike an SDK it does not swallow export
failures: what the broker cannot take goes to the disk spool and is replayed, in order, later.

Order: every envelope gets a ticket when it is produced. When the broker goes away (all brokers
down, a failed delivery, or librdkafka's queue full), the transport purges what is in flight, spools
the failures in ticket order, and from then on spools every new envelope behind them until the
spool is replayed and empty. So a session's envelopes reach the topic in the order recorded;
a replay may repeat an envelope, which the downstream ids (``event_id``) make harmless.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent_audit.core.errors import InvalidEvent
from agent_audit.producers.batching import Envelope, EnvelopeBuilder
from agent_audit.producers.event_line import QueuedItem, encode_lines
from agent_audit.producers.options import ClientOptions
from agent_audit.producers.publisher import Outcome, Publisher
from agent_audit.producers.queue import EventQueue
from agent_audit.producers.replay import Replayer
from agent_audit.producers.reports import OnceLog
from agent_audit.producers.spool import DiskSpool, own_spool_dir

__all__ = ["BatchTransport", "Counters", "Transport"]

log = logging.getLogger(__name__)

# The longest stretch this thread runs Python without letting the agent's threads in: ~0.3 ms of
# encoding on this machine kind; then a sleep long enough for a waiting thread to take the GIL.
CHUNK_EVENTS = 256
YIELD_S = 0.0001


class Transport(Protocol):
    def send(self, session_id: str, encoded: bytes) -> bool:
        """Hand over one encoded event; never blocks, never raises; False if refused (counted)."""

    def flush(self, timeout: float) -> bool:
        """True once everything handed over before the call was delivered (or dropped and counted)."""

    def shutdown(self, timeout: float) -> bool:
        """flush(timeout), then keep what is left on disk and release the client."""

    @property
    def counters(self) -> Counters: ...


@dataclass(frozen=True)
class Counters:
    recorded: int = 0  # handed to the transport
    sent: int = 0  # acknowledged by the broker, first try or replayed
    spooled: int = 0  # written to the disk spool because the broker could not take them
    replayed: int = 0  # delivered from the spool (this process's or a dead one's)
    dropped: int = 0  # lost on purpose and counted: queue full, spool full, refused by the broker
    failed: int = 0  # delivery attempts that failed; each such envelope then went to the spool
    recovered: int = 0  # of ``replayed``: events spooled by an earlier process that died


class BatchTransport:
    """The engine: bounded queue -> envelopes -> publisher, with the spool as the detour."""

    def __init__(self, publisher: Publisher, options: ClientOptions, partitions: int,
                 spool_dir: Path | None = None, exit_hook: bool = True) -> None:
        self.options = options
        self.publisher = publisher
        self.partitions = partitions
        self.report = OnceLog(log)
        self._wake = threading.Event()
        # Wake early only when a flood fills a quarter of the queue: fewer, larger ticks steal the GIL
        # from the agent less often than one tick per envelope would.
        self.queue = EventQueue(options.queue_events, options.queue_bytes, wake_at=options.queue_events // 4,
                                wake=self._wake)
        # The hot path: a trail holding RECORD_LOCK appends its event's parts straight to the queue.
        self.enqueue = self.queue.put
        self.spool_dir = spool_dir
        self.spool = self._open_spool()
        self.replayer = Replayer(self)
        self._tickets = itertools.count()
        self._inflight: dict[int, Envelope] = {}
        self._failed: list[tuple[int, Envelope]] = []
        self.spooling = False
        self.tally = {"sent": 0, "spooled": 0, "replayed": 0, "dropped": 0, "failed": 0, "recovered": 0}
        self._settled = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-transport", daemon=True)
        self._thread.start()
        self._exit_hook = exit_hook
        if exit_hook:
            atexit.register(self.shutdown, options.exit_timeout_s)

    # --- the agent's side ----------------------------------------------------------------
    def send(self, session_id: str, encoded: bytes) -> bool:
        return self.queue.put_locked((session_id, encoded))

    def _report_queue_full(self) -> None:
        self.report("queue_full", "in-memory queue full (%d events or %d bytes): new events are dropped "
                    "and counted", self.options.queue_events, self.options.queue_bytes, level=logging.ERROR)

    @property
    def counters(self) -> Counters:
        t = self.tally
        return Counters(recorded=self.queue.accepted + self.queue.refused, sent=t["sent"],
                        spooled=t["spooled"], replayed=t["replayed"],
                        dropped=t["dropped"] + self.queue.refused, failed=t["failed"],
                        recovered=t["recovered"])

    def flush(self, timeout: float = 10.0) -> bool:
        target = self.queue.accepted
        deadline = time.monotonic() + timeout
        with self._settled:
            while self._own_settled() < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._wake.set()  # skip the linger: publish now
                self._settled.wait(min(remaining, 0.05))
        return True

    def shutdown(self, timeout: float = 5.0) -> bool:
        """flush(timeout); then what is still unsent is purged to the spool and the client closed."""
        if self._closed:
            return self._own_settled() >= self.queue.accepted
        self._closed = True
        delivered = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(max(2.0, timeout))
        if not self._thread.is_alive():
            self.publisher.close(0.0)
            self.replayer.close()
            if self.spool is not None:
                self.spool.close()
        if self._exit_hook:
            atexit.unregister(self.shutdown)
        return delivered

    close = shutdown  # the name confluent-kafka users reach for

    def _own_settled(self) -> int:
        t = self.tally
        return t["sent"] - t["recovered"] + t["dropped"]

    # --- the background thread -------------------------------------------------------------
    def _run(self) -> None:
        self._guarded(self.replayer.start)
        while not self._stop.is_set():
            self._wake.wait(self.options.linger_ms / 1000)
            self._wake.clear()
            self._guarded(self._tick)
        self._guarded(self._spill)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:  # the thread must outlive any bug: count, report once, go on
            self.report("transport_error", "unexpected error in the background thread",
                        level=logging.ERROR, exc_info=True)
        with self._settled:
            self._settled.notify_all()

    def _tick(self) -> None:
        if self.queue.take_refusal_report():
            self._report_queue_full()
        envelopes = self._cut(self.queue.take())
        if self.spooling:
            self.to_spool(envelopes)
        else:
            self._produce(envelopes)
        self.publisher.poll(0)
        if self._failed or (self._inflight and not self.publisher.reachable):
            self.enter_spooling("delivery failed")
        if self.spooling:
            self.replayer.step()
        elif self.replayer.unsure:
            self.replayer.recheck()

    def _cut(self, items: list[QueuedItem]) -> list[Envelope]:
        """Lines, then envelopes, a chunk at a time: between chunks this thread sleeps a moment so an
        agent thread waiting for the GIL gets it now, not after the interpreter's 5 ms switch interval."""
        if not items:
            return []
        o = self.options
        builder = EnvelopeBuilder(self.partitions, o.envelope_events, o.envelope_bytes)
        for start in range(0, len(items), CHUNK_EVENTS):
            if start:
                time.sleep(YIELD_S)
            builder.add(encode_lines(items[start:start + CHUNK_EVENTS]))
        return builder.envelopes()

    def _produce(self, envelopes: list[Envelope]) -> None:
        for i, env in enumerate(envelopes):
            if not self.publisher.reachable:  # all brokers down: to disk now, not after the timeout
                self.enter_spooling("all brokers down")
                self.to_spool(envelopes[i:])
                return
            ticket = next(self._tickets)
            try:
                self.publisher.produce(env, functools.partial(self._on_delivery, ticket))
            except BufferError:
                self.enter_spooling("local queue full")
                self.to_spool(envelopes[i:])
                return
            except InvalidEvent as exc:
                self.drop(env.events, "rejected", exc.reason)
                continue
            self._inflight[ticket] = env

    def _on_delivery(self, ticket: int, outcome: Outcome) -> None:
        env = self._inflight.pop(ticket, None)
        if env is None:
            return
        if outcome == "ok":
            self.tally["sent"] += env.events
        elif outcome == "reject":
            self.drop(env.events, "rejected", "the broker refused an envelope")
        else:
            self.tally["failed"] += env.events
            self._failed.append((ticket, env))

    def enter_spooling(self, reason: str) -> None:
        """Purge what is in flight and spool the failures in order; new envelopes queue behind them."""
        if not self.spooling:
            self.spooling = True
            self.report("broker_unavailable", "%s: spooling to %s", reason,
                        self.spool.dir if self.spool else "(no spool)")
        if self._inflight:
            self.publisher.purge()
            deadline = time.monotonic() + 1.0
            while self._inflight and time.monotonic() < deadline:
                self.publisher.poll(0.01)
        failed = sorted(self._failed, key=lambda item: item[0])
        self._failed.clear()
        self.to_spool([env for _, env in failed])

    def to_spool(self, envelopes: list[Envelope]) -> None:
        if not envelopes:
            return
        written = 0
        if self.spool is not None:
            try:
                written = self.spool.append(envelopes)
            except OSError as exc:
                self.report("spool_error", "cannot write the spool (%s)", exc.strerror, level=logging.ERROR)
        self.tally["spooled"] += sum(env.events for env in envelopes[:written])
        for env in envelopes[written:]:
            self.drop(env.events, "spool_full", "spool full or unavailable: new events are dropped")

    def drop(self, events: int, kind: str, why: str) -> None:
        self.tally["dropped"] += events
        self.report(kind, "%s (events dropped so far: %d)", why, self.tally["dropped"], level=logging.ERROR)

    def _spill(self) -> None:
        """At shutdown: whatever is not acknowledged yet goes to the spool for the next process."""
        envelopes = self._cut(self.queue.take())
        if self._inflight or self.replayer.busy:
            self.publisher.purge()
            deadline = time.monotonic() + 1.0
            while (self._inflight or self.replayer.busy) and time.monotonic() < deadline:
                self.publisher.poll(0.01)
        failed = sorted(self._failed, key=lambda item: item[0])
        self._failed.clear()
        self.to_spool([env for _, env in failed] + envelopes)

    def _open_spool(self) -> DiskSpool | None:
        if self.spool_dir is None:
            return None
        o = self.options
        try:
            return DiskSpool(own_spool_dir(self.spool_dir), max_bytes=o.spool_max_bytes, fsync=o.spool_fsync,
                             cipher=o.spool_cipher())
        except OSError as exc:
            self.report("spool_error", "cannot open a spool under %s (%s): an outage will drop events",
                        self.spool_dir, exc.strerror, level=logging.ERROR)
            return None
