"""Replay of spooled envelopes once the broker is back: in order, one bounded round at a time.

Runs on the transport's background thread only. A round produces up to ``BATCH`` envelopes from the
oldest non-empty spool (spools left by dead processes first, then our own) and commits the spool's
read position only when every one of them was acknowledged; a failed round is retried after a
backoff (0.25 s doubling to 5 s), probing the broker with a metadata request first. When every
spool is empty the transport goes back to producing directly.

At start the probe decides: ``unreachable`` spools from the first event; ``slow`` keeps producing
directly with the configured partition count and asks again, from the background thread, until the
broker answers. ``missing`` is first taken as slow too: a topic created a moment ago may not be in
the answering broker's metadata yet (that, and not an unreachable broker, is what a test saw right
after creating its topic). If it is still missing after ``MISSING_GRACE_S``, or librdkafka fails a
delivery for an unknown topic, the topic is reported by name and events wait in the spool for it.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_audit.core.errors import InvalidEvent
from agent_audit.producers.batching import Envelope, repartition
from agent_audit.producers.publisher import Outcome, Probe
from agent_audit.producers.spool import DiskSpool, Position, SpooledEnvelope, adopt_orphans

if TYPE_CHECKING:
    from agent_audit.producers.transport import BatchTransport

__all__ = ["Replayer"]

log = logging.getLogger(__name__)


@dataclass
class _Round:
    spool: DiskSpool
    deadline: float
    position: Position | None = None
    outstanding: int = 0
    delivered: int = 0
    ok: bool = True


class Replayer:
    BATCH = 32  # envelopes per round: bounded memory (at most 16 MiB at 512 KiB each), ~16k events
    ROUND_TIMEOUT_S = 35.0  # a little over message.timeout.ms: librdkafka reports first
    MISSING_GRACE_S = 10.0  # how long a "no such topic" answer may be metadata catching up

    def __init__(self, transport: BatchTransport) -> None:
        self.t = transport
        self.orphans: list[DiskSpool] = []
        self._round: _Round | None = None
        self._backoff = 0.25
        self._next_try = 0.0
        self.unsure = False  # the start-up probe got no answer in time, or no topic yet: ask again
        self._missing_since: float | None = None
        # A probe blocks this thread for its whole timeout when the broker is away; meanwhile the
        # queue fills, and the next tick builds envelopes from all of it in one long stretch of
        # Python holding the GIL, which the agent's calls then wait behind. Probing no longer than
        # a linger keeps every tick the size of a normal one.
        self.probe_timeout_s = min(0.5, max(0.05, transport.options.linger_ms / 1000))

    @property
    def busy(self) -> bool:
        return self._round is not None and self._round.outstanding > 0

    def start(self) -> None:
        """On the background thread: the topic's partition count, and spools of dead processes."""
        t = self.t
        probe = t.publisher.probe(timeout=2.0)
        if probe.partitions:
            t.partitions = probe.partitions
        if t.spool_dir is not None:
            for spool in adopt_orphans(t.spool_dir, t.options.spool_max_bytes, t.options.spool_fsync,
                                       t.options.spool_cipher()):
                if spool.empty():
                    spool.close()
                else:
                    self.orphans.append(spool)
        if self.orphans:
            t.spooling = True  # new events wait behind the old ones
            log.warning("audit.spool_adopted spools=%d: replaying what earlier processes left",
                        len(self.orphans))
        if probe.state == "unreachable":
            t.enter_spooling("broker unreachable at start")
        elif probe.state in ("slow", "missing"):
            self.unsure = True
            self._missing_since = time.monotonic() if probe.state == "missing" else None
            log.info("audit.broker_slow the start-up probe got %s: producing, asking again",
                     "no answer in 2 s" if probe.state == "slow" else f"no topic {t.publisher.topic} yet")

    def recheck(self) -> None:
        """After a slow start-up probe: ask again (at the backoff's pace) until the broker answers."""
        now = time.monotonic()
        if now < self._next_try:
            return
        probe = self.t.publisher.probe(timeout=self.probe_timeout_s)
        if probe.state == "missing" and self._missing_since is None:
            self._missing_since = now
        young = self._missing_since is not None and now - self._missing_since < self.MISSING_GRACE_S
        if probe.state == "slow" or (probe.state == "missing" and young):
            self._later(now)
            return
        self.unsure = False
        self._backoff = 0.25
        if probe.partitions:
            self.t.partitions = probe.partitions
        elif probe.state == "missing":
            self.report_missing()
            self.t.enter_spooling(f"topic {self.t.publisher.topic} missing")

    def report_missing(self) -> None:
        self.t.report("topic_missing", "topic %s does not exist on the broker: events are kept in the spool "
                      "until it is created (agent-audit topics create)", self.t.publisher.topic,
                      level=logging.ERROR)

    def step(self) -> None:
        now = time.monotonic()
        current = self._round
        if current is not None:
            if current.outstanding:
                if now > current.deadline:
                    self.t.publisher.purge()  # fail the stragglers; the round is retried
                return
            self._round = None
            if not current.ok:
                self._later(now)
                return
            self._finish(current)
        elif now < self._next_try:
            return
        if not self.t.publisher.reachable:
            probe = self.t.publisher.probe(timeout=self.probe_timeout_s)
            if not self._usable(probe):
                self._later(now)
                return
        spool = self._next_spool()
        if spool is None:
            self.t.spooling = False
            self.t.report.reset("broker_unavailable")
            log.warning("audit.spool_drained replayed=%d", self.t.tally["replayed"])
            return
        self._round = self._send(spool, spool.read(self.BATCH), now)
        if self._round is None:
            self._later(now)

    def _usable(self, probe: Probe) -> bool:
        if probe.state == "missing":
            self.report_missing()
        if probe.partitions is None:
            return False
        self.t.partitions = probe.partitions
        self.t.report.reset("topic_missing")
        return True

    def _send(self, spool: DiskSpool, records: list[SpooledEnvelope], now: float) -> _Round | None:
        t, o = self.t, self.t.options
        current = _Round(spool, now + self.ROUND_TIMEOUT_S)
        for record in records:
            try:
                for env in repartition(record.envelope, t.partitions, o.envelope_events, o.envelope_bytes):
                    t.publisher.produce(env, functools.partial(self._on_delivery, current, env))
                    current.outstanding += 1
            except BufferError:
                break  # the rest waits for the next round; a part already sent may repeat: harmless
            except InvalidEvent as exc:
                t.drop(record.envelope.events, "rejected", exc.reason)
            current.position = record.position
        return current if current.position is not None or current.outstanding else None

    def _on_delivery(self, current: _Round, env: Envelope, outcome: Outcome) -> None:
        current.outstanding -= 1
        if outcome == "ok":
            current.delivered += env.events
        elif outcome == "reject":
            self.t.drop(env.events, "rejected", "the broker refused a replayed envelope")
        else:
            current.ok = False

    def _finish(self, done: _Round) -> None:
        if done.position is None:
            return
        done.spool.commit(done.position)
        tally = self.t.tally
        tally["replayed"] += done.delivered
        tally["sent"] += done.delivered
        if done.spool is not self.t.spool:
            tally["recovered"] += done.delivered
            if done.spool.empty():
                done.spool.close()
                self.orphans.remove(done.spool)
        self._backoff = 0.25

    def _later(self, now: float) -> None:
        self._next_try = now + self._backoff
        self._backoff = min(self._backoff * 2, 5.0)

    def _next_spool(self) -> DiskSpool | None:
        for spool in [*self.orphans, self.t.spool]:
            if spool is not None and not spool.empty():
                return spool
        return None

    def close(self) -> None:
        for spool in self.orphans:
            spool.close(remove_if_empty=True)
        self.orphans.clear()
