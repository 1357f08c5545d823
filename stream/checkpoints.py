"""The stream's signed checkpoints: per raw partition, every AUDIT_CHECKPOINT_INTERVAL_S while events flow.

Every new link of an envelope becomes a leaf of its partition's open checkpoint. After the envelope,
a checkpoint is closed and signed when its first leaf is older than the interval (measured on the
envelopes' record times, so a replay after a crash closes it after the same envelope), or when it
holds AUDIT_CHECKPOINT_MAX_LEAVES leaves; the idle timer closes it on wall-clock time once events stop.
The open checkpoint's state (number, previous hash, Merkle frontier) is one record on the state
topic, written after the envelope's outputs and after its chains' records (same partition, so
when it is on the topic they are too), before the ack; the heads of the sessions it touched are
rebuilt from the chain states when a partition is loaded.

After a crash the envelopes since the last windows record are processed again against whatever
prefix of their state records reached the topic. So the result is the same whatever that prefix:
a replayed event whose chain record survived but whose checkpoint record did not gives its leaf
back (``relink``), and a record closed by the idle timer is kept in the state (``pending``),
which is written before the record is published and publishes it again on load.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

from agent_audit.core.evidence.checkpoint import OpenCheckpoint
from agent_audit.core.evidence.signing import SigningKey
from agent_audit.core.integrity import ChainState
from agent_audit.core.settings import Settings
from agent_audit.stream.output import OutRecord
from agent_audit.stream.state import PartitionState

__all__ = ["STATE_KEY", "PartitionCheckpoints"]

STATE_KEY = "checkpoint"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PartitionCheckpoints:
    """The leaf log of ``SessionChains`` for the partition being processed, and the checkpoints' closer."""

    def __init__(self, settings: Settings, key: SigningKey, state: PartitionState) -> None:
        self.key = key
        self.state = state
        self.log = settings.topics.raw
        self.topic = settings.topics.checkpoints
        self.interval_s = float(settings.checkpoint_interval_s)
        self.max_leaves = settings.checkpoint_max_leaves
        self.open: dict[int, OpenCheckpoint] = {}
        self.partition = 0
        self._now = 0.0
        self._grew = False
        self._cp = OpenCheckpoint(self.log, 0)  # replaced by ``begin`` before any envelope

    def _current(self, partition: int) -> OpenCheckpoint:
        cp = self.open.get(partition)
        if cp is None:
            cp = OpenCheckpoint.from_json(self.log, partition, self.state.get(partition, STATE_KEY))
            for key, value in self.state.partitions.get(partition, {}).items():
                if key.startswith("chain:") and isinstance(value, dict | bytes):  # v2 JSON or v3 packed
                    chain = ChainState.from_record(value)
                    if chain.checkpoint == cp.number and chain.recent:
                        cp.heads[key[len("chain:"):]] = (chain.recent[-1][0], chain.head)
            self.open[partition] = cp
        return cp

    def begin(self, partition: int, record_time: float) -> None:
        """Before an envelope: its partition and its record time (seconds)."""
        self.partition, self._now, self._grew = partition, record_time, False
        self._cp = self._current(partition)

    def append(self, session: str, seq: int, link: str) -> tuple[int, int, int]:
        """``OpenCheckpoint.append`` of the envelope's partition, inlined: it runs once an event."""
        cp = self._cp
        if not self._grew:  # the envelope's first leaf
            self._grew = True
            if cp.opened_at is None:
                cp.opened_at = self._now
        frontier = cp.frontier
        index = frontier.size
        frontier.append(bytes.fromhex(link))
        cp.heads[session] = (seq, link)
        return cp.partition, cp.number, index

    def relink(self, session: str, seq: int, link: str, number: int, leaf: int) -> None:
        """A replayed event's leaf, added again where the crash lost it: its chain record reached
        the state topic, this checkpoint's did not (``leaf`` is then the next index)."""
        cp = self._cp
        if number == cp.number and leaf == cp.size:
            self.append(session, seq, link)

    def finish(self) -> tuple[list[tuple[bytes, bytes, int]], list[OutRecord]]:
        """After an envelope: the state record to write (if it changed) and a closed checkpoint, if due."""
        cp = self._current(self.partition)
        return self._settle(cp, self._now, self._grew)

    def tick(self, partition: int, now: float | None = None) -> tuple[list[tuple[bytes, bytes, int]],
                                                                       list[OutRecord]]:
        """The idle timer: close a checkpoint whose events stopped coming."""
        cp = self._current(partition)
        return self._settle(cp, time.time() if now is None else now, False)

    def _settle(self, cp: OpenCheckpoint, now: float, grew: bool) -> tuple[list[tuple[bytes, bytes, int]],
                                                                          list[OutRecord]]:
        out: list[OutRecord] = []
        if cp.pending is not None and cp.pending_out:
            cp.pending = None  # handed out earlier; sends go in order: on its topic before this state
        if cp.due(now, self.interval_s, self.max_leaves):
            opened = cp.opened_at if cp.opened_at is not None else now
            cp.close(self.key, _iso(max(now, opened)), _iso(opened))
        if cp.pending is not None and not cp.pending_out:  # just closed, or loaded from the state
            out.append(self._record(cp.pending))
            cp.pending_out = True
        if not grew and not out:
            return [], []
        return [self.state.put(cp.partition, STATE_KEY, cp.to_json())], out

    def _record(self, record: dict[str, Any]) -> OutRecord:
        day = str(record["closed_at"])[:10].replace("-", ".")
        headers = (("checkpoint_id", str(record["checkpoint_id"]).encode()), ("day", day.encode()))
        return OutRecord(self.topic, orjson.dumps(record), str(record["partition"]).encode(), headers)

    def forget(self) -> None:
        self.open.clear()
        self._cp = OpenCheckpoint(self.log, 0)
