"""Cold retention: archived days older than the limit (years) are deleted; legal holds win.

A day's age is ``today - day`` in whole days (the day is the events' own UTC day, from the object
name). An expired object holding events of a held session or user is rewritten in place with only
those events (the same name: a reader never sees both versions); the others are deleted whole.
A user's hold finds sealed rows by the data-key subject of each held form of the id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from agent_audit.sinks.archive.layout import EVENTS, live_keys
from agent_audit.sinks.archive.parquet import read_table, table_bytes
from agent_audit.sinks.archive.store import ObjectStore
from agent_audit.sinks.compliance.holds import FIELD_OF_SCOPE, Hold

__all__ = ["ArchiveRetentionAction", "Subjects", "apply_archive_retention", "held_mask"]


@dataclass(frozen=True)
class ArchiveRetentionAction:
    key: str
    day: str
    age_days: int
    action: str  # deleted | pruned | would delete | would prune
    events_removed: int
    events_held: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


Subjects = Callable[[Iterable[str]], list[str]]


def held_mask(table: pa.Table, holds: Sequence[Hold], subjects: Subjects | None) -> pa.ChunkedArray:
    mask = pa.chunked_array([pa.array([False] * table.num_rows, pa.bool_())])
    for scope, column in FIELD_OF_SCOPE.items():
        values = sorted({v for h in holds if h.scope == scope and h.status == "active" for v in h.values()})
        if values:
            held = pc.is_in(table.column(column), value_set=pa.array(values))
            mask = pc.or_(mask, pc.fill_null(held, False))
        if values and scope == "user" and subjects is not None:
            held = pc.is_in(table.column("subject"), value_set=pa.array(subjects(values), pa.string()))
            mask = pc.or_(mask, pc.fill_null(held, False))
    return mask


def apply_archive_retention(store: ObjectStore, days: int, holds: Sequence[Hold],
                            today: date | None = None, dry_run: bool = False,
                            subjects: Subjects | None = None) -> list[ArchiveRetentionAction]:
    """Delete (or prune, under a hold) every archived object of a day older than ``days``;
    ``subjects`` (``RowOpener.subjects``) lets a user's hold reach sealed rows."""
    if days < 1:
        raise ValueError(f"archive retention must be at least 1 day, got {days}")
    today = today or datetime.now(UTC).date()
    live, superseded = live_keys(store.list(EVENTS))
    actions = []
    for k in live:
        age = (today - k.day).days
        if age <= days:
            continue
        data = store.get(k.key)
        if data is None:
            continue
        table = read_table(data)
        mask = held_mask(table, holds, subjects)
        held = pc.sum(mask).as_py() or 0
        removed = table.num_rows - held
        verb = "pruned" if held else "deleted"
        if not dry_run:
            if held:
                store.put(k.key, table_bytes(table.filter(mask)))
            else:
                store.delete(k.key)
        actions.append(ArchiveRetentionAction(k.key, k.day.isoformat(), age,
                                              f"would {verb[:-1]}" if dry_run else verb, removed, held))
    if not dry_run:
        for k in superseded:
            if (today - k.day).days > days:
                store.delete(k.key)
    return actions
