"""Object names of the archive: a pure function of (day, partition, offset range).

::

    {prefix}/events/day=2026-12-03/p002-00000000000000001200-00000000000000001799.parquet
    {prefix}/_state/p002.json        the range the worker is about to write for partition 2

A file holds the events of one UTC day (the event's own timestamp) from one partition of
``agent.events`` whose offsets lie in the range. The same records always give the same names, so
a replay after a crash overwrites objects instead of adding any. Compaction merges a day's files
of one partition into one named by the whole range; a file whose range lies inside another's of
the same day and partition is superseded (``live_keys`` leaves it out): readers never count an
event twice, even if compaction stopped between writing the merged file and deleting its inputs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

__all__ = ["EVENTS", "DataKey", "data_key", "intent_key", "live_keys", "parse_key"]

EVENTS = "events"
_NAME = re.compile(r"^events/day=(\d{4}-\d{2}-\d{2})/p(\d{3,})-(\d{20})-(\d{20})\.parquet$")


@dataclass(frozen=True, order=True)
class DataKey:
    day: date
    partition: int
    first: int  # offsets, both inclusive
    last: int

    @property
    def key(self) -> str:
        return data_key(self.day, self.partition, self.first, self.last)

    def contains(self, other: DataKey) -> bool:
        return self.first <= other.first and other.last <= self.last and self != other


def data_key(day: date, partition: int, first: int, last: int) -> str:
    return f"{EVENTS}/day={day.isoformat()}/p{partition:03d}-{first:020d}-{last:020d}.parquet"


def intent_key(partition: int) -> str:
    return f"_state/p{partition:03d}.json"


def parse_key(key: str) -> DataKey | None:
    """The parts of a data object's name; None for anything else (temporary or foreign objects)."""
    m = _NAME.match(key)
    if m is None:
        return None
    return DataKey(date.fromisoformat(m[1]), int(m[2]), int(m[3]), int(m[4]))


def live_keys(keys: Iterable[str]) -> tuple[list[DataKey], list[DataKey]]:
    """Split data objects into (live, superseded): superseded ones lie inside another's range."""
    groups: dict[tuple[date, int], list[DataKey]] = defaultdict(list)
    for key in keys:
        parsed = parse_key(key)
        if parsed is not None:
            groups[(parsed.day, parsed.partition)].append(parsed)
    live: list[DataKey] = []
    superseded: list[DataKey] = []
    for group in groups.values():
        for k in group:
            (superseded if any(o.contains(k) for o in group) else live).append(k)
    return sorted(live), sorted(superseded)
