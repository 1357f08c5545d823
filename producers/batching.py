"""Pure batching: encoded events -> NDJSON envelopes, one partition each, bounded in events and bytes.

The stream's cost is per Kafka message, so the client sends envelopes, not events. Events keep their
recorded order inside a partition; a session always maps to one partition, so it stays ordered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from agent_audit.core.wire import join_envelope, partition_for, split_envelope

__all__ = ["Envelope", "build_envelopes", "repartition"]


@dataclass(frozen=True, slots=True)
class Envelope:
    partition: int
    partitions: int  # the topic's partition count the partition was computed for
    key: str | None  # session id of the first event: keeps the key meaningful for compaction tools
    value: bytes
    events: int


def build_envelopes(items: Iterable[tuple[str, bytes]], partitions: int, max_events: int,
                    max_bytes: int) -> list[Envelope]:
    """Group ``(session_id, encoded)`` items per partition, in order, cutting at either bound.

    An event larger than ``max_bytes`` travels alone (the broker then decides; it is never split).
    """
    # This runs on the background thread, which shares the GIL with the agent: keep it lean.
    partition_of: dict[str, int] = {}
    grouped: dict[int, list[tuple[str, bytes]]] = {}
    for item in items:
        p = partition_of.get(item[0])
        if p is None:
            p = partition_of[item[0]] = partition_for(item[0], partitions)
        group = grouped.get(p)
        if group is None:
            grouped[p] = [item]
        else:
            group.append(item)
    out: list[Envelope] = []
    for p, group in grouped.items():
        out.extend(_cut(p, partitions, group, max_events, max_bytes))
    return out


def _cut(partition: int, partitions: int, group: list[tuple[str, bytes]], max_events: int,
         max_bytes: int) -> list[Envelope]:
    lines = [encoded for _, encoded in group]
    total = sum(map(len, lines)) + len(lines) - 1
    if len(lines) <= max_events and total <= max_bytes:  # the common case: one envelope
        return [Envelope(partition, partitions, group[0][0], join_envelope(lines), len(lines))]
    out: list[Envelope] = []
    start, size = 0, -1
    for i, line in enumerate(lines):
        if i > start and (i - start >= max_events or size + len(line) + 1 > max_bytes):
            chunk = lines[start:i]
            out.append(Envelope(partition, partitions, group[start][0], join_envelope(chunk), len(chunk)))
            start, size = i, -1
        size += len(line) + 1
    out.append(Envelope(partition, partitions, group[start][0], join_envelope(lines[start:]),
                        len(lines) - start))
    return out


def repartition(envelope: Envelope, partitions: int, max_events: int, max_bytes: int) -> list[Envelope]:
    """Re-cut an envelope spooled under another partition count (the topic changed while we waited)."""
    if envelope.partitions == partitions:
        return [envelope]
    items = [(str(orjson.loads(line).get("session_id", "")), line) for line in split_envelope(envelope.value)]
    return build_envelopes(items, partitions, max_events, max_bytes)
