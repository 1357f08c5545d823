"""The archive worker against the real Kafka and S3 (SeaweedFS): exactly once through kill -9."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer

from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.compaction import compact
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.layout import EVENTS, live_keys
from agent_audit.sinks.archive.reader import archived_days, open_archive
from agent_audit.sinks.archive.store import build_store
from agent_audit.stack.workers import Workers
from tests.factories import BASE_TIME, event

N_SESSIONS = 60
PER_SESSION = 250  # 15,000 events over three days


def _events() -> list[dict[str, Any]]:
    kinds = ["input", "reasoning", "tool_call", "output", "error"]
    out = []
    for s in range(N_SESSIONS):
        start = BASE_TIME - timedelta(days=s % 3)
        for i in range(PER_SESSION):
            out.append(event(kinds[i % 5], i, session=f"s-{s:03d}", user=f"u-{s % 7}",
                             at=start + timedelta(seconds=i)))
    return out


def _produce_slowly(settings: Settings, events: list[dict[str, Any]], done: threading.Event) -> None:
    """Publish as the stream would (one event a message, keyed by session), in bursts: load while
    the worker is killed and restarted."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    for i, ev in enumerate(events):
        producer.produce(settings.topics.events, key=ev["session_id"].encode(), value=orjson.dumps(ev))
        if i % 500 == 499:
            producer.poll(0)
            time.sleep(0.2)
    assert producer.flush(30) == 0
    done.set()


def _archived_rows(archive: ArchiveSettings) -> tuple[int, list[str]]:
    """Rows in the live objects, read object by object (no deduplication), and their event ids."""
    store = build_store(archive)
    live, _ = live_keys(store.list(EVENTS))
    ids: list[str] = []
    for k in live:
        ids += pq.read_table(f"{store.root}/{k.key}", filesystem=store.filesystem,
                             columns=["event_id"]).column("event_id").to_pylist()
    return len(ids), ids


def _wait_archived(archive: ArchiveSettings, expected: int, workers: Workers,
                   timeout: float = 180.0) -> tuple[int, list[str]]:
    """The archived rows once ``expected`` are there or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    rows, ids = _archived_rows(archive)
    while rows < expected and time.monotonic() < deadline:
        workers.check_alive()
        time.sleep(1.0)
        rows, ids = _archived_rows(archive)
    return rows, ids


@pytest.mark.timeout(600)
def test_archive_worker_killed_under_load_loses_and_doubles_nothing(
        settings: Settings, archive_env: dict[str, str], tmp_path: Path) -> None:
    """kill -9 three times while events arrive: every event is in exactly one live object, each
    object of one day, and compaction keeps it that way."""
    events = _events()
    env = {**settings.to_env(), **archive_env, "AUDIT_ARCHIVE_BATCH": "700", "AUDIT_ARCHIVE_LINGER_S": "0.5"}
    archive = ArchiveSettings.from_env(env)
    done = threading.Event()
    producer = threading.Thread(target=_produce_slowly, args=(settings, events, done), daemon=True)
    workers = Workers(tmp_path)
    full_env = {**os.environ, **env}
    workers.start("archive", full_env)
    producer.start()
    try:
        for _ in range(3):
            time.sleep(2.5)
            workers.check_alive()
            workers.kill("archive")
            workers.start("archive", full_env)
        producer.join(120)
        assert done.is_set()
        rows, ids = _wait_archived(archive, len(events), workers)
    finally:
        workers.stop_all()
    assert rows == len(events), f"{rows} rows for {len(events)} events"
    assert sorted(ids) == sorted(ev["event_id"] for ev in events)

    store = build_store(archive)
    days = archived_days(store)
    assert len(days) == 3
    assert compact(store, days=days)
    assert compact(store, days=days) == []  # compacting again changes nothing
    rows_after, ids_after = _archived_rows(archive)
    assert rows_after == len(events) and sorted(ids_after) == sorted(ids)
    live, superseded = live_keys(store.list(EVENTS))
    assert len(live) <= 3 * settings.events_partitions  # one object per day and partition
    assert superseded == []
    con = open_archive(store)
    per_day = con.execute("SELECT CAST(timestamp AS DATE), count(*) FROM events GROUP BY 1").fetchall()
    assert sorted(n for _, n in per_day) == [len(events) // 3] * 3


class _CrashAfter:
    """The real store, but the process "dies" after ``n`` data objects: what kill -9 leaves."""

    def __init__(self, store: Any, n: int) -> None:
        self.store, self.n = store, n
        self.filesystem, self.root = store.filesystem, store.root

    def put(self, key: str, data: bytes) -> None:
        if key.startswith(EVENTS):
            if self.n == 0:
                raise _Crash
            self.n -= 1
        self.store.put(key, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class _Crash(Exception):
    pass


def _step_until_crash(sink: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sink.step()


@pytest.mark.timeout(300)
def test_a_batch_cut_short_by_a_crash_is_rewritten_with_the_same_range(
        settings: Settings, archive_env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    """A crash after the intent and one object of a batch, before its commit: the next worker, with
    a different batch size, replays exactly that range (same objects), and nothing is doubled."""
    from agent_audit.sinks.archive.worker import ArchiveSink  # noqa: PLC0415

    events = _events()[:3000]
    done = threading.Event()
    _produce_slowly(settings, events, done)
    env = {**settings.to_env(), **archive_env, "AUDIT_ARCHIVE_LINGER_S": "30"}
    first = ArchiveSink(settings, ArchiveSettings.from_env({**env, "AUDIT_ARCHIVE_BATCH": "400"}))
    first.store = _CrashAfter(first.store, 2)  # type: ignore[assignment]
    first.start()
    with pytest.raises(_Crash):
        _step_until_crash(first)
    first.batches.clear()  # a killed process's memory is gone: nothing to write on leaving
    first.consumer.close()  # nothing more committed: auto-commit is off
    crashed, _ = _archived_rows(ArchiveSettings.from_env(env))
    assert 0 < crashed < len(events)

    second = ArchiveSink(settings, ArchiveSettings.from_env({**env, "AUDIT_ARCHIVE_BATCH": "150"}))
    second.start()
    caplog.set_level(logging.INFO, logger="agent_audit.sinks.archive.worker")
    deadline, idle = time.monotonic() + 120, 0
    while idle < 4 and time.monotonic() < deadline:  # until the topic is drained
        idle = idle + 1 if second.step() == 0 else 0
    second.flush_all()
    second.consumer.close()
    rows, ids = _archived_rows(second.archive)
    assert rows == len(events) and len(set(ids)) == len(events)
    assert live_keys(second.store.list(EVENTS))[1] == []  # nothing superseded: the same ranges
    assert any("archive.replay" in r.getMessage() for r in caplog.records)
