"""Under a flood with the broker unreachable, the client's memory stays bounded and drops are counted."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from core.settings import Settings
from producers import AuditTrail, KafkaTransport
from producers.spool import DiskSpool


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_memory_stays_bounded_and_overflow_is_counted(settings: Settings, tmp_path: Path) -> None:
    """~150 MB of events recorded toward a closed port: RSS grows far less, every event is accounted."""
    nowhere = dataclasses.replace(settings, kafka_bootstrap="127.0.0.1:1")  # nothing listens there
    transport = KafkaTransport(nowhere, config={"queue.buffering.max.kbytes": 8 * 1024},
                               spool=DiskSpool(tmp_path, max_bytes=4 * 1024 * 1024, fsync=False))
    trail = AuditTrail(session_id="flood", user_id="u", agent="bot", transport=transport)
    before = _rss_mb()
    payload = {"blob": "x" * 200}
    for _ in range(500_000):
        trail.record_tool_call("t", parameters=payload, duration_ms=1.0)
    deadline = time.monotonic() + 60
    c = transport.counters
    while c.dropped == 0 and time.monotonic() < deadline:
        time.sleep(0.2)  # the background thread is still moving batches to the queue and the spool
    grown = _rss_mb() - before
    assert c.dropped > 0  # the spool bound was hit and said so
    assert transport.spool.size() <= 4 * 1024 * 1024
    assert grown < 80, f"RSS grew {grown:.0f} MB for ~150 MB of events"
    transport.close(timeout=1)
