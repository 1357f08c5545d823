"""Object storage away under load: the archive worker waits and retries; nothing lost, nothing doubled.

A SeaweedFS of this test's own (own state folder and port), stopped and started again while the
worker writes; the shared stack's S3 is never touched.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.seaweedfs import SeaweedNode
from agent_audit.stack.workers import Workers
from tests.integration.test_archive import _events, _produce_slowly, _wait_archived


@pytest.mark.timeout(600)
def test_object_storage_stopped_under_load_loses_and_doubles_nothing(
        settings: Settings, tmp_path: Path) -> None:
    """S3 stopped for 10 s while events arrive, then back: every event is archived exactly once,
    and the worker said it was retrying rather than dying."""
    node = SeaweedNode(StackPaths(cache=StackPaths.from_env().cache, state=tmp_path / "stack"), port=28433)
    node.up(timeout=180.0)
    events = _events()[:6000]
    env = {**os.environ, **settings.to_env(), **node.env(), "AUDIT_ARCHIVE_BATCH": "500",
           "AUDIT_ARCHIVE_LINGER_S": "0.5"}
    archive = ArchiveSettings.from_env(env)
    workers = Workers(tmp_path / "logs")
    done = threading.Event()
    producer = threading.Thread(target=_produce_slowly, args=(settings, events, done), daemon=True)
    try:
        workers.start("archive", env)
        producer.start()
        time.sleep(1.0)
        assert node.down(timeout=10.0)
        time.sleep(10.0)
        workers.check_alive()  # still there, waiting for the store
        node.up(timeout=180.0)
        producer.join(120)
        assert done.is_set()
        rows, ids = _wait_archived(archive, len(events), workers)
    finally:
        workers.stop_all()
        node.down()
    assert rows == len(events) and sorted(ids) == sorted(ev["event_id"] for ev in events)
    assert "archive.store.retry" in (tmp_path / "logs" / "archive.log").read_text()


@pytest.mark.timeout(600)
def test_an_archive_worker_started_while_object_storage_is_down_waits_for_it(
        settings: Settings, tmp_path: Path) -> None:
    """S3 not running when the worker starts: it stays up, says it is retrying, and archives every
    event exactly once when S3 comes."""
    node = SeaweedNode(StackPaths(cache=StackPaths.from_env().cache, state=tmp_path / "stack"), port=28434)
    events = _events()[:1000]
    env = {**os.environ, **settings.to_env(), **node.env(), "AUDIT_ARCHIVE_LINGER_S": "0.5"}
    workers = Workers(tmp_path / "logs")
    done = threading.Event()
    try:
        workers.start("archive", env)
        _produce_slowly(settings, events, done)
        log = tmp_path / "logs" / "archive.log"
        deadline = time.monotonic() + 120
        while "archive.store.retry" not in (log.read_text() if log.exists() else ""):
            workers.check_alive()  # waiting, not dead
            assert time.monotonic() < deadline, "the worker never said it was waiting for the store"
            time.sleep(0.5)
        node.up(timeout=180.0)
        rows, ids = _wait_archived(ArchiveSettings.from_env(env), len(events), workers)
    finally:
        workers.stop_all()
        node.down()
    assert rows == len(events) and sorted(ids) == sorted(ev["event_id"] for ev in events)
