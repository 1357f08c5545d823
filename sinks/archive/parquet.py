"""Pure halves of the archive writer: records of one partition to Parquet objects (zstd), and back.

A batch is a partition's records over an offset range; it becomes one object per UTC day of the
events in it, named by ``layout.data_key`` (so the same records always give the same names).
Within an object an event appears once (duplicates upstream, from the stream's at-least-once
replays, carry the same ``event_id``; the first one is kept).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from agent_audit.core.errors import InvalidEvent
from agent_audit.sinks.archive.layout import data_key
from agent_audit.sinks.archive.rows import SCHEMA, event_to_row, rows_to_table

__all__ = ["EncodedBatch", "encode_batch", "read_table", "table_bytes", "unique_events"]

ROW_GROUP = 64 * 1024  # rows per row group: big enough for zstd, small enough for pruning


@dataclass(frozen=True)
class EncodedBatch:
    objects: list[tuple[str, bytes]]  # (key, Parquet bytes), one per day
    rows: int
    invalid: int  # records that were not events (the Elasticsearch sink dead-letters them)


def encode_batch(partition: int, first: int, last: int, values: Sequence[bytes],
                 opened: Sequence[bytes | None] | None = None) -> EncodedBatch:
    """The objects of one partition's records with offsets ``first..last`` (inclusive); ``opened``
    (parallel to ``values``) holds the events inside sealed records, for the typed columns."""
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    invalid = 0
    for i, value in enumerate(values):
        try:
            row = event_to_row(value, opened[i] if opened is not None else None)
        except InvalidEvent:
            invalid += 1
            continue
        if row["event_id"] in seen:
            continue
        seen.add(row["event_id"])
        by_day[row["timestamp"].date()].append(row)
    objects = [(data_key(day, partition, first, last), table_bytes(rows_to_table(rows)))
               for day, rows in sorted(by_day.items())]
    return EncodedBatch(objects, len(seen), invalid)


def table_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=6, row_group_size=ROW_GROUP,
                   use_dictionary=["kind", "level", "session_id", "user_id", "agent_name", "agent_version",
                                   "tool_name", "status", "model", "subject"])
    return bytes(sink.getvalue().to_pybytes())


def read_table(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data), schema=SCHEMA)


def unique_events(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate, keep the first row of each ``event_id``, order by (session, seq): compaction."""
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    ids = table.column("event_id").to_pylist()
    first: dict[str, int] = {}
    for i, event_id in enumerate(ids):
        first.setdefault(event_id, i)
    if len(first) < len(ids):
        table = table.take(pa.array(sorted(first.values()), pa.int64()))
    order = pc.sort_indices(table, [("session_id", "ascending"), ("seq", "ascending")])
    return table.take(order)
