"""Forget in the cold tier: what the archive holds of a user once their data keys are destroyed.

Sealed rows (the layout since sealing reached the archive) need no rewrite: their content is one
AES-GCM ciphertext under the user's data key, destroyed by forget before this runs, so every copy
of every object is unreadable at once and reads back as the erasure tombstone. What such a row
still shows is what the stream never sealed (session id as stored, kind, level, time, agent, seq,
chain links), the tool figures (tool, status, duration, model, tokens, cost) and the data key's
``subject`` (a keyed digest, the name the receipt and the key's tombstone use): no content.

Rows of the unsealed layout (files written before, or records published unsealed) hold the user's
id and content in the clear: each object holding some is rewritten under the same name with those
rows replaced by their tombstones (a reader never sees both versions); rows under an active legal
hold are kept, and said so. Every step is safe to repeat: a rewritten row is a tombstone already.
The objects themselves go with cold retention (``retention``); the receipt dates that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from agent_audit.core.sealing import tombstone
from agent_audit.sinks.archive.layout import EVENTS, live_keys
from agent_audit.sinks.archive.parquet import read_table, table_bytes
from agent_audit.sinks.archive.retention import Subjects, held_mask
from agent_audit.sinks.archive.store import ObjectStore
from agent_audit.sinks.compliance.holds import Hold

__all__ = ["ArchiveErasure", "erase_in_archive"]

_CLEARED = ("user_id", "trace_id")  # personal columns of the unsealed layout, emptied with the content


@dataclass
class ArchiveErasure:
    sealed_rows: int = 0  # shredded by the key: unreadable, left in place
    rewritten_rows: int = 0  # unsealed rows replaced by tombstones
    held_rows: int = 0  # unsealed rows kept under an active legal hold
    held_sealed_rows: int = 0  # sealed rows under a hold: shredded all the same (the key is the user's)
    objects: set[str] = field(default_factory=set)  # objects holding any of the user's rows
    rewritten_objects: int = 0
    last_day: date | None = None  # the newest day holding the user's rows
    erased_ids: set[str] = field(default_factory=set)  # rows read as tombstones now (shredded or rewritten)

    def expires(self, retention_days: int) -> date | None:
        """The day after which cold retention deletes the last object holding the user's rows."""
        return self.last_day + timedelta(days=retention_days + 1) if self.last_day else None


def erase_in_archive(store: ObjectStore, user_ids: Sequence[str], subjects: Subjects, holds: Sequence[Hold],
                     receipt_id: str, at: str, dry_run: bool = False) -> ArchiveErasure:
    """Count the user's sealed rows, rewrite their unsealed ones as tombstones (``dry_run``: count)."""
    wanted = pa.array(subjects(user_ids), pa.string())
    ids = pa.array(list(user_ids), pa.string())
    done = ArchiveErasure()
    live, _ = live_keys(store.list(EVENTS))
    for k in live:
        data = store.get(k.key)
        if data is None:  # compacted away meanwhile: its rows are in the live object that replaced it
            continue
        table = read_table(data)
        sealed = pc.fill_null(pc.is_in(table.column("subject"), value_set=wanted), False)
        clear = pc.fill_null(pc.is_in(table.column("user_id"), value_set=ids), False)
        n_sealed, n_clear = pc.sum(sealed).as_py() or 0, pc.sum(clear).as_py() or 0
        if not n_sealed and not n_clear:
            continue
        done.objects.add(k.key)
        done.last_day = max(done.last_day or k.day, k.day)
        done.sealed_rows += n_sealed
        held = held_mask(table, holds, subjects)
        done.held_sealed_rows += pc.sum(pc.and_(sealed, held)).as_py() or 0
        gone = pc.or_(sealed, pc.and_(clear, pc.invert(held)))  # a held sealed row is shredded all the same
        done.erased_ids.update(str(i) for i in table.column("event_id").filter(gone).to_pylist())
        if n_clear:
            kept = pc.and_(clear, held)
            n_kept = pc.sum(kept).as_py() or 0
            done.held_rows += n_kept
            done.rewritten_rows += n_clear - n_kept
            if n_clear > n_kept and not dry_run:
                erase = pc.and_(clear, pc.invert(kept))
                store.put(k.key, table_bytes(_tombstoned(table, erase, receipt_id, at)))
                done.rewritten_objects += 1
    return done


def _tombstoned(table: pa.Table, erase: pa.ChunkedArray, receipt_id: str, at: str) -> pa.Table:
    """The table with the ``erase`` rows' event replaced by its tombstone and personal columns emptied."""
    flags = erase.to_pylist()
    events = [orjson.dumps(tombstone(orjson.loads(e), receipt_id, at)).decode() if f else e
              for e, f in zip(table.column("event").to_pylist(), flags, strict=True)]
    table = table.set_column(table.schema.get_field_index("event"), "event", pa.array(events, pa.string()))
    for name in _CLEARED:
        column = table.column(name)
        kept = pc.if_else(erase, pa.scalar(None, pa.string()), column)
        table = table.set_column(table.schema.get_field_index(name), name, kept)
    return table
