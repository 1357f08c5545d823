"""SQL over the archive: DuckDB scanning the live Parquet objects through pyarrow's filesystem.

DuckDB's own S3 support (the httpfs extension) is downloaded at run time, which production
networks and this machine do not allow; pyarrow's S3 filesystem is in the wheel. The view
``events`` holds each archived event once: superseded objects are left out (``layout``), and the
days not yet compacted, where the stream's replays may have put an event in two objects, are
deduplicated by ``event_id`` (a compacted day needs no such pass). The connection reaches nothing
but the archive.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import duckdb
import pyarrow.dataset as ds

from agent_audit.sinks.archive.layout import EVENTS, DataKey, live_keys
from agent_audit.sinks.archive.rows import SCHEMA
from agent_audit.sinks.archive.store import ObjectStore

__all__ = ["archived_days", "open_archive"]


def _in_range(key: DataKey, since: date | None, until: date | None) -> bool:
    return (since is None or key.day >= since) and (until is None or key.day <= until)


def _dataset(store: ObjectStore, keys: list[DataKey]) -> ds.Dataset:
    if not keys:
        return ds.dataset(SCHEMA.empty_table())
    return ds.dataset([f"{store.root}/{k.key}" for k in keys], schema=SCHEMA, format="parquet",
                      filesystem=store.filesystem)


def open_archive(store: ObjectStore, since: date | None = None,
                 until: date | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (UTC) with the view ``events``; ``since``/``until`` (days, inclusive)
    leave other days' objects unread."""
    live, _superseded = live_keys(store.list(EVENTS))
    live = [k for k in live if _in_range(k, since, until)]
    per_group = Counter((k.day, k.partition) for k in live)
    single = [k for k in live if per_group[(k.day, k.partition)] == 1]
    several = [k for k in live if per_group[(k.day, k.partition)] > 1]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("archive_single", _dataset(store, single))
    con.register("archive_several", _dataset(store, several))
    con.execute("CREATE VIEW events AS SELECT * FROM archive_single "
                "UNION ALL SELECT DISTINCT ON (event_id) * FROM archive_several")
    # SQL typed by a person reads the archive and nothing else: no local files, no writes out,
    # no attaching other databases, and no setting can turn that back on.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def archived_days(store: ObjectStore) -> list[date]:
    live, _ = live_keys(store.list(EVENTS))
    return sorted({k.day for k in live})
