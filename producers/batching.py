"""Pure batching: encoded events -> NDJSON envelopes, one partition each, bounded in events and bytes.

The stream's cost is per Kafka message, so the client sends envelopes, not events. Events keep their
recorded order inside a partition; a session always maps to one partition, so it stays ordered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from core.wire import join_envelope, partition_for, split_envelope

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
    open_batches: dict[int, tuple[str, list[bytes], int]] = {}
    out: list[Envelope] = []

    def close(partition: int) -> None:
        key, lines, _ = open_batches.pop(partition)
        out.append(Envelope(partition, partitions, key, join_envelope(lines), len(lines)))

    for session_id, encoded in items:
        p = partition_for(session_id, partitions)
        batch = open_batches.get(p)
        if batch is not None and (len(batch[1]) >= max_events or batch[2] + len(encoded) + 1 > max_bytes):
            close(p)
            batch = None
        if batch is None:
            open_batches[p] = (session_id, [encoded], len(encoded))
        else:
            batch[1].append(encoded)
            open_batches[p] = (batch[0], batch[1], batch[2] + len(encoded) + 1)
    for p in list(open_batches):
        close(p)
    return out


def repartition(envelope: Envelope, partitions: int, max_events: int, max_bytes: int) -> list[Envelope]:
    """Re-cut an envelope spooled under another partition count (the topic changed while we waited)."""
    if envelope.partitions == partitions:
        return [envelope]
    items = [(str(orjson.loads(line).get("session_id", "")), line) for line in split_envelope(envelope.value)]
    return build_envelopes(items, partitions, max_events, max_bytes)
