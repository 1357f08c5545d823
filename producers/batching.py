"""Pure batching: encoded events -> NDJSON envelopes, one partition each, bounded in events and bytes.

The stream's cost is per Kafka message, so the client sends envelopes, not events. Events keep their
recorded order inside a partition; a session always maps to one partition, so it stays ordered.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add

import orjson

from agent_audit.core.wire import join_envelope, partition_for, split_envelope

__all__ = ["Envelope", "EnvelopeBuilder", "build_envelopes", "repartition"]


@dataclass(frozen=True, slots=True)
class Envelope:
    partition: int
    partitions: int  # the topic's partition count the partition was computed for
    key: str | None  # session id of the first event: keeps the key meaningful for compaction tools
    value: bytes
    events: int


class EnvelopeBuilder:
    """Groups ``(session_id, line)`` items per partition across several ``add`` calls (the transport
    adds a tick's events a chunk at a time), then cuts each group into envelopes."""

    __slots__ = ("_grouped", "_partition_of", "max_bytes", "max_events", "partitions")

    def __init__(self, partitions: int, max_events: int, max_bytes: int) -> None:
        self.partitions, self.max_events, self.max_bytes = partitions, max_events, max_bytes
        self._partition_of: dict[str, int] = {}
        self._grouped: dict[int, list[tuple[str, bytes]]] = {}

    def add(self, items: Iterable[tuple[str, bytes]]) -> None:
        # This runs on the background thread, which shares the GIL with the agent: keep it lean.
        partition_of, grouped, partitions = self._partition_of, self._grouped, self.partitions
        for item in items:
            p = partition_of.get(item[0])
            if p is None:
                p = partition_of[item[0]] = partition_for(item[0], partitions)
            group = grouped.get(p)
            if group is None:
                grouped[p] = [item]
            else:
                group.append(item)

    def envelopes(self) -> list[Envelope]:
        out: list[Envelope] = []
        for p, group in self._grouped.items():
            out.extend(_cut(p, self.partitions, group, self.max_events, self.max_bytes))
        return out


def build_envelopes(items: Iterable[tuple[str, bytes]], partitions: int, max_events: int,
                    max_bytes: int) -> list[Envelope]:
    """Group ``(session_id, encoded)`` items per partition, in order, cutting at either bound.

    An event larger than ``max_bytes`` travels alone (the broker then decides; it is never split).
    """
    builder = EnvelopeBuilder(partitions, max_events, max_bytes)
    builder.add(items)
    return builder.envelopes()


def _cut(partition: int, partitions: int, group: list[tuple[str, bytes]], max_events: int,
         max_bytes: int) -> list[Envelope]:
    lines = [encoded for _, encoded in group]
    # ends[i]: bytes of lines[0..i] with a newline after each; the loop below runs per envelope
    ends = list(accumulate(map(add, map(len, lines), repeat(1)), initial=0))  # all in C
    out: list[Envelope] = []
    start = 0
    while start < len(lines):
        # the most lines from ``start`` that fit both bounds, at least one
        last = min(start + max_events, len(lines))
        stop = bisect_right(ends, ends[start] + max_bytes + 1, start + 1, last + 1)
        stop = max(stop - 1, start + 1)
        chunk = lines[start:stop]
        out.append(Envelope(partition, partitions, group[start][0], join_envelope(chunk), len(chunk)))
        start = stop
    return out


def repartition(envelope: Envelope, partitions: int, max_events: int, max_bytes: int) -> list[Envelope]:
    """Re-cut an envelope spooled under another partition count (the topic changed while we waited)."""
    if envelope.partitions == partitions:
        return [envelope]
    items = [(str(orjson.loads(line).get("session_id", "")), line) for line in split_envelope(envelope.value)]
    return build_envelopes(items, partitions, max_events, max_bytes)
