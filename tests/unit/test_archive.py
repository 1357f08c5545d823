"""The archive's pure rules and its local-folder store: names, supersession, compaction, settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from agent_audit.core.errors import ConfigError
from agent_audit.sinks.archive.compaction import compact
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.layout import EVENTS, data_key, live_keys, parse_key
from agent_audit.sinks.archive.parquet import encode_batch, read_table
from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.store import LocalStore, build_store


def _event(i: int, day: str = "2026-12-01", session: str = "s-1") -> bytes:
    return orjson.dumps({
        "schema_version": 1, "event_id": f"e-{i:05d}", "kind": "tool_call", "level": "info",
        "timestamp": f"{day}T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z", "session_id": session,
        "user_id": "u-1", "agent": {"name": "a", "version": "1"}, "seq": i,
        "payload": {"tool_name": "search", "status": "success", "duration_ms": 1.5},
        "integrity": {"hash": f"h{i}", "prev_hash": None}})


def _store(tmp_path: Path) -> LocalStore:
    env = {"AUDIT_ARCHIVE_DIR": str(tmp_path), "AUDIT_MODE": "development"}
    store = build_store(ArchiveSettings.from_env(env))
    assert isinstance(store, LocalStore)
    return store


def _put_batch(store: LocalStore, partition: int, first: int, values: list[bytes]) -> list[str]:
    batch = encode_batch(partition, first, first + len(values) - 1, values)
    for key, data in batch.objects:
        store.put(key, data)
    return [k for k, _ in batch.objects]


def _count(store: LocalStore) -> int:
    row = open_archive(store).execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    assert row is not None and row[0] == row[1]
    return int(row[0])


def test_an_object_name_is_a_function_of_day_partition_and_range_and_parses_back() -> None:
    """data_key and parse_key are inverse; other names (temporary files, state) are not data."""
    key = data_key(date(2026, 12, 3), 2, 1200, 1799)
    assert key == "events/day=2026-12-03/p002-00000000000000001200-00000000000000001799.parquet"
    parsed = parse_key(key)
    assert parsed is not None and parsed.key == key
    assert parse_key("events/day=2026-12-03/.tmp-abc") is None
    assert parse_key("_state/p002.json") is None


def test_a_file_inside_another_files_range_of_the_same_day_and_partition_is_superseded() -> None:
    """Contained ranges are superseded; other partitions and days are untouched."""
    d = date(2026, 12, 1)
    keys = [data_key(d, 0, 0, 99), data_key(d, 0, 100, 199), data_key(d, 0, 0, 199),
            data_key(d, 1, 0, 99), data_key(date(2026, 12, 2), 0, 0, 99)]
    live, superseded = live_keys(keys)
    assert [k.key for k in superseded] == [data_key(d, 0, 0, 99), data_key(d, 0, 100, 199)]
    assert len(live) == 3


def test_a_batch_becomes_one_object_per_day_each_event_once() -> None:
    """Events are split by their own UTC day; a repeated event_id is written once; non-events are
    counted, not written."""
    values = [_event(1), _event(2, "2026-12-02"), _event(1), b"not json", _event(3)]
    batch = encode_batch(4, 10, 14, values)
    assert [k for k, _ in batch.objects] == [data_key(date(2026, 12, 1), 4, 10, 14),
                                             data_key(date(2026, 12, 2), 4, 10, 14)]
    assert (batch.rows, batch.invalid) == (3, 1)
    assert read_table(batch.objects[0][1]).column("event_id").to_pylist() == ["e-00001", "e-00003"]
    assert encode_batch(4, 10, 14, values).objects == batch.objects  # the same records, the same bytes


def test_the_archived_event_is_the_published_one_byte_for_byte() -> None:
    """The ``event`` column holds the record as published: restore and verification see no change."""
    value = _event(7)
    table = read_table(encode_batch(0, 0, 0, [value]).objects[0][1])
    assert table.column("event").to_pylist() == [value.decode()]
    assert table.column("tool_name").to_pylist() == ["search"]


def test_compaction_merges_a_closed_day_once_and_survives_a_stop_before_its_deletes(tmp_path: Path) -> None:
    """Three small objects become one named by the whole range; a rerun changes nothing; inputs left
    behind by a stop between write and delete are never counted twice and are cleared next time."""
    store = _store(tmp_path)
    for first in (0, 100, 200):
        _put_batch(store, 0, first, [_event(i) for i in range(first, first + 100)])
    assert _count(store) == 300
    inputs = {k: store.get(k) for k in store.list(EVENTS)}
    assert compact(store, today=date(2026, 12, 2)) == [data_key(date(2026, 12, 1), 0, 0, 299)]
    assert compact(store, today=date(2026, 12, 2)) == []
    assert _count(store) == 300
    for key, data in inputs.items():  # as if compaction had stopped before deleting its inputs
        assert data is not None
        store.put(key, data)
    assert _count(store) == 300
    compact(store, today=date(2026, 12, 2))
    assert store.list(EVENTS) == [data_key(date(2026, 12, 1), 0, 0, 299)]


def test_today_is_not_compacted_by_default(tmp_path: Path) -> None:
    """Only days before today (UTC) are closed; an open day keeps taking small objects."""
    store = _store(tmp_path)
    _put_batch(store, 0, 0, [_event(1)])
    _put_batch(store, 0, 1, [_event(2)])
    assert compact(store, today=date(2026, 12, 1)) == []
    assert len(store.list(EVENTS)) == 2


def test_the_events_view_counts_an_event_in_two_uncompacted_objects_once(tmp_path: Path) -> None:
    """The stream's replays may publish an event twice, into two batches: SQL still sees it once."""
    store = _store(tmp_path)
    _put_batch(store, 0, 0, [_event(1), _event(2)])
    _put_batch(store, 0, 2, [_event(2), _event(3)])
    assert _count(store) == 3


def _env(**extra: str) -> dict[str, Any]:
    return {"AUDIT_MODE": "production", **extra}


def test_production_needs_a_bucket_or_a_folder_and_the_secret_stays_out_of_repr() -> None:
    """No silent default location in production; credentials come in pairs; repr hides them."""
    with pytest.raises(ConfigError):
        ArchiveSettings.from_env(_env())
    with pytest.raises(ConfigError):
        ArchiveSettings.from_env(_env(AUDIT_ARCHIVE_BUCKET="b", AUDIT_ARCHIVE_S3_ACCESS_KEY="AK"))
    s = ArchiveSettings.from_env(_env(AUDIT_ARCHIVE_BUCKET="b", AUDIT_ARCHIVE_S3_ACCESS_KEY="AK",
                                      AUDIT_ARCHIVE_S3_SECRET_KEY="sekrit-value"))
    assert s.on_s3 and "sekrit-value" not in repr(s) and "sekrit-value" not in s.location
    with pytest.raises(ConfigError):
        ArchiveSettings.from_env(_env(AUDIT_ARCHIVE_DIR="/x", AUDIT_ARCHIVE_BATCH="0"))


def test_sql_over_the_archive_cannot_reach_local_files_or_write_out(tmp_path: Path) -> None:
    """The archive's connection reads the archive only: reading or writing files, attaching a
    database or unlocking the settings are refused."""
    store = _store(tmp_path)
    _put_batch(store, 0, 0, [_event(1)])
    con = open_archive(store)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", f"COPY (SELECT 1) TO '{tmp_path}/out.csv'",
                f"ATTACH '{tmp_path}/other.db'", "SET enable_external_access = true"):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    assert not (tmp_path / "out.csv").exists()
