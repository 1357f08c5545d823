"""When each recorded event reached each stage: on ``agent.events``, acknowledged by the sink, searchable.

Every time is an upper bound (taken when the answer came back), so a latency is never under-reported.

- On the topic, per event: ``Tap`` reads ``agent.events`` as any downstream consumer would (no group).
  The bench's sessions are keyed ``e2e-<i>`` and event ``k`` goes to session ``k % sessions``; the
  stream keeps each session's order, so the n-th record keyed by session ``s`` is event
  ``n * sessions + s``. That gives each event its arrival time and its (partition, offset). A copy
  of a record already seen (at-least-once: the stream may publish an envelope's events twice) is
  known by its ``event_id`` header and skipped.
- Acknowledged, per event: the sink commits a partition's offset only after Elasticsearch stored
  every record before it; ``Poller`` reads the group's committed offsets every ``interval`` s, and an
  event is acknowledged at the first read whose offset for its partition passed its own.
- Searchable: Elasticsearch's count (no forced refresh: the index's own refresh decides, as for
  users), read at the same cadence. A refresh exposes every document stored before it, so events are
  taken in acknowledgement order and the j-th is searchable at the first read whose count reaches it
  (and not before its own acknowledgement).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from array import array
from collections import deque
from collections.abc import Sequence

from confluent_kafka import OFFSET_END, Consumer, KafkaException, Message, TopicPartition
from elasticsearch import ApiError, Elasticsearch

__all__ = ["Poller", "Tap", "stage_times"]

NAN = float("nan")
_RECENT = 64


class Tap:
    """A thread reading ``agent.events`` from its end: per event k, arrival time, partition, offset."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, sessions: int, recorded: int) -> None:
        self.sessions = sessions
        # Events already on the topic: session s has had every k < recorded with k % sessions == s.
        self.per_session = [(recorded - s + sessions - 1) // sessions for s in range(sessions)]
        self.arrived, self.partition, self.offset = array("d"), array("i"), array("q")
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-e2e-tap",
                                  "enable.auto.commit": False})  # a fetch returns as soon as data comes
        self.consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in range(partitions)])
        self.seen = self.duplicates = 0
        # Per session, the ids of its latest records: a replayed copy is one of them.
        self._recent: list[deque[bytes]] = [deque(maxlen=_RECENT) for _ in range(sessions)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-tap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sessions, per, clock = self.sessions, self.per_session, time.perf_counter
        while not self._stop.is_set():
            msgs = self.consumer.consume(5000, 0.02)
            now = clock()
            for msg in msgs:
                key = msg.key()
                if msg.error() is not None or not key or not key.startswith(b"e2e-"):
                    continue
                s = int(key[4:])
                event_id = _event_id(msg)
                if event_id in self._recent[s]:
                    self.duplicates += 1
                    continue
                self._recent[s].append(event_id)
                k = per[s] * sessions + s
                per[s] += 1
                self._put(k, now, msg.partition() or 0, msg.offset() or 0)
            self.seen += len(msgs)

    def _put(self, k: int, now: float, partition: int, offset: int) -> None:
        if k >= len(self.arrived):
            grow = k + 1 - len(self.arrived) + 4096
            self.arrived.extend([NAN] * grow)
            self.partition.extend([0] * grow)
            self.offset.extend([-1] * grow)
        self.arrived[k], self.partition[k], self.offset[k] = now, partition, offset

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.consumer.close()


def _event_id(msg: Message) -> bytes:
    for pair in msg.headers() or ():
        if pair[0] == "event_id":
            value = pair[1]
            return value if isinstance(value, bytes) else str(value).encode()
    return b""


class Poller:
    """A thread reading the sink group's committed offsets and Elasticsearch's count every ``interval``."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int,
                 es: Elasticsearch, index: str, interval: float) -> None:
        self.offsets = Consumer({"bootstrap.servers": bootstrap, "group.id": group,  # reads, never joins
                                 "enable.auto.commit": False})
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]
        self.es, self.index, self.interval = es, index, interval
        # Per partition: read times and the committed offset (running max), for bisection.
        self.acked_t: list[list[float]] = [[] for _ in self.tps]
        self.acked: list[list[int]] = [[] for _ in self.tps]
        self.count_t: list[float] = []
        self.counts: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        clock = time.perf_counter
        while not self._stop.wait(self.interval):
            try:
                committed = self.offsets.committed(self.tps, timeout=5)
            except KafkaException:
                committed = []  # a slow answer: the next read catches up
            now = clock()
            for tp in committed:
                times, values = self.acked_t[tp.partition], self.acked[tp.partition]
                times.append(now)
                values.append(max(tp.offset, values[-1] if values else -1))
            count = self._count()
            now = clock()
            self.count_t.append(now)
            self.counts.append(max(count, self.counts[-1] if self.counts else 0))

    def _count(self) -> int:
        try:
            return int(self.es.count(index=self.index, ignore_unavailable=True)["count"])
        except ApiError:  # the daily index not there yet, or its shard starting
            return 0

    def searchable(self) -> int:
        return self.counts[-1] if self.counts else 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.offsets.close()


def stage_times(stamps: Sequence[float], first: int, n: int, tap: Tap, poller: Poller, base: int
                ) -> list[tuple[float, float, float]]:
    """Per event ``first .. first + n - 1``: seconds from its record to (on agent.events, acknowledged,
    searchable); ``inf`` where a stage was not reached. ``base``: documents searchable before the step."""
    acks: list[tuple[float, int]] = []
    out = []
    for k in range(first, first + n):
        arrived = tap.arrived[k] if k < len(tap.arrived) else NAN
        if math.isnan(arrived):
            acks.append((math.inf, k))
            continue
        p, off = tap.partition[k], tap.offset[k]
        i = bisect.bisect_right(poller.acked[p], off)  # first read with committed > off
        acks.append((poller.acked_t[p][i] if i < len(poller.acked_t[p]) else math.inf, k))
    acks.sort()
    searchable = {}
    for j, (acked_at, k) in enumerate(acks):
        i = bisect.bisect_left(poller.counts, base + j + 1)
        i = max(i, bisect.bisect_left(poller.count_t, acked_at))
        searchable[k] = poller.count_t[i] if i < len(poller.count_t) and acked_at < math.inf else math.inf
    ack_of = {k: t for t, k in acks}
    for k in range(first, first + n):
        arrived = tap.arrived[k] if k < len(tap.arrived) else NAN
        recorded = stamps[k]
        out.append((arrived - recorded if not math.isnan(arrived) else math.inf,
                    ack_of[k] - recorded, searchable[k] - recorded))
    return out
