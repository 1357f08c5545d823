"""Compaction: a closed day's small objects of one partition become one, deterministically.

The merged object is named by the whole range of its inputs (``layout.data_key``), holds each
event once (duplicates from the stream's replays dropped), ordered by (session, seq) so a session's
rows sit together. It is written before its inputs are deleted; between the two, the inputs are
superseded (inside its range) and readers skip them. Running it again changes nothing; stopping
it anywhere loses nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime

from agent_audit.sinks.archive.layout import EVENTS, DataKey, data_key, live_keys
from agent_audit.sinks.archive.parquet import read_table, table_bytes, unique_events
from agent_audit.sinks.archive.store import ObjectStore

__all__ = ["compact"]


def compact(store: ObjectStore, days: Collection[date] | None = None, today: date | None = None) -> list[str]:
    """Compact the given days (default: every day before ``today``, UTC); returns the keys written."""
    today = today or datetime.now(UTC).date()
    live, superseded = live_keys(store.list(EVENTS))
    groups: dict[tuple[date, int], list[DataKey]] = defaultdict(list)
    for k in live:
        groups[(k.day, k.partition)].append(k)
    for k in superseded:  # already inside a live object: only a leftover to clear
        store.delete(k.key)
    written = []
    for (day, partition), files in sorted(groups.items()):
        due = day in days if days is not None else day < today
        if not due or len(files) < 2:
            continue
        tables = []
        for k in files:
            data = store.get(k.key)
            if data is None:  # another compactor got there first: its result will be live
                break
            tables.append(read_table(data))
        else:
            key = data_key(day, partition, min(k.first for k in files), max(k.last for k in files))
            store.put(key, table_bytes(unique_events(tables)))
            for k in files:
                if k.key != key:
                    store.delete(k.key)
            written.append(key)
    return written
