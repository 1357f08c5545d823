"""A flood toward a broker that is not there: the client's memory stays bounded and drops are counted."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path

from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_memory_stays_bounded_and_overflow_is_counted(settings: Settings, tmp_path: Path) -> None:
    """~150 MB of events recorded toward a closed port: RSS grows far less, every event is accounted for.
    (The per-call cost is measured in bench/producer; tests/unit/test_producer_transport.py holds that
    a call never waits on the publisher.)"""
    nowhere = dataclasses.replace(settings, kafka_bootstrap="127.0.0.1:1")
    options = ClientOptions(spool_dir=tmp_path, spool_max_bytes=4 * 1024 * 1024, spool_fsync="never",
                            queue_bytes=16 * 1024 * 1024)
    transport = KafkaTransport(nowhere, options=options, exit_hook=False)
    trail = AuditTrail(session_id=f"flood-{uuid.uuid4().hex[:6]}", user_id="u", agent="bot",
                       transport=transport)
    before = _rss_mb()
    payload = {"blob": "x" * 200}
    for _ in range(500_000):
        trail.record_tool_call("t", parameters=payload, duration_ms=1.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        c = transport.counters
        if c.spooled + c.dropped == c.recorded:
            break
        time.sleep(0.1)
    grown = _rss_mb() - before
    c = transport.counters
    assert c.recorded == 500_000 and c.spooled + c.dropped == 500_000 and c.dropped > 0
    assert transport.spool is not None and transport.spool.size() <= 4 * 1024 * 1024
    assert grown < 80, f"RSS grew {grown:.0f} MB for ~150 MB of events"
    transport.shutdown(0.5)
