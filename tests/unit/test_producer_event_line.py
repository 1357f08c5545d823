"""Lines finished on the transport's thread: the same v1 events, ids unique and time-ordered, the
agent's data captured at the call, and the background thread's work cut into short chunks."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_audit.core.contract import validate_event
from agent_audit.producers import AuditTrail, BatchTransport, ClientOptions, MemoryPublisher
from agent_audit.producers.batching import build_envelopes
from agent_audit.producers.event_line import encode_lines
from agent_audit.producers.queue import EventQueue
from agent_audit.producers.transport import CHUNK_EVENTS

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Parts:
    """A transport that keeps the parts a trail queues, as BatchTransport's queue does."""

    def __init__(self) -> None:
        self.queue = EventQueue(10_000, 10_000_000, wake_at=10**9)
        self.enqueue = self.queue.put

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for _, line in encode_lines(self.queue.take())]


def _trail(transport: Any, **kw: Any) -> AuditTrail:
    return AuditTrail(session_id=f"s-{uuid.uuid4().hex[:8]}", user_id="u", agent="bot",
                      transport=transport, **kw)


def test_every_kind_finished_on_the_transport_thread_validates_with_a_uuid7_and_utc_time() -> None:
    """Parts queued by the agent become contract-valid events: UUIDv7 ids, RFC 3339 UTC times
    within the call's window, seq from 0, trace ids and the end marker's final seq kept."""
    transport = Parts()
    trail = _trail(transport)
    before = datetime.now(UTC)
    trail.input(content="hi", metadata={"n": 1})
    trail.reasoning("think", plan=["a"], confidence=0.5)
    with trail.tool_call("search", {"q": "x"}) as call:
        call.result = [1, 2]
    trail.output(content="done", tokens_used=3, trace={"trace_id": "a" * 32, "span_id": "b" * 16})
    trail.error(type="Timeout", message="slow")
    trail.close()
    after = datetime.now(UTC)
    events = transport.lines()
    validated = [validate_event(orjson.dumps(e)) for e in events]
    assert [e["seq"] for e in events] == list(range(6))
    assert all(UUID7.match(e["event_id"]) for e in events)
    assert all(before <= v.timestamp <= after for v in validated)
    assert events[3]["trace_id"] == "a" * 32 and events[3]["span_id"] == "b" * 16
    assert events[5]["kind"] == "end" and events[5]["payload"] == {"final_seq": 5}


def test_ids_are_unique_and_sort_by_creation_time() -> None:
    """100,000 ids made in batches: no repeat, and the id's millisecond is the event's own."""
    items = [("s", b'{"a":1,', "input", "info", time.time_ns() + i * 1000, i, b"", b'{}}')
             for i in range(100_000)]
    ids = [orjson.loads(line)["event_id"] for _, line in encode_lines(items)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=lambda h: h[:13])  # the time prefix never goes back
    assert int(ids[0].replace("-", "")[:12], 16) == items[0][4] // 1_000_000


def test_the_agents_data_is_captured_at_the_call_not_when_the_line_is_finished() -> None:
    """A dict the agent changes after the call is recorded as it was at the call."""
    transport = Parts()
    trail = _trail(transport)
    params = {"q": "before"}
    trail.record_tool_call("t", parameters=params, duration_ms=1.0)
    params["q"] = "after"
    assert transport.lines()[0]["payload"]["parameters"] == {"q": "before"}


def test_envelopes_cut_by_bisection_keep_both_bounds_and_the_order() -> None:
    """Every envelope holds at most max_events lines and max_bytes bytes (one oversized line
    travels alone), and the lines come out in order."""
    lines = [("s", b"x" * n) for n in (10, 200, 30, 5, 5, 5, 90, 1, 1, 1, 1, 300, 2)]
    envelopes = build_envelopes(lines, 1, max_events=3, max_bytes=100)
    assert b"\n".join(e.value for e in envelopes) == b"\n".join(line for _, line in lines)
    for env in envelopes:
        assert env.events <= 3 and (len(env.value) <= 100 or env.events == 1)
    assert [e.events for e in envelopes] == [1, 1, 3, 3, 3, 1, 1]


def test_a_flood_is_published_in_chunks_and_arrives_whole_and_in_order(tmp_path: Path) -> None:
    """Many chunks' worth of events in one tick: every event is delivered, each session in seq order."""
    publisher = MemoryPublisher()
    options = ClientOptions(spool_dir=tmp_path, linger_ms=200, spool_fsync="never")
    transport = BatchTransport(publisher, options, partitions=3, spool_dir=tmp_path / "t", exit_hook=False)
    trails = [_trail(transport) for _ in range(4)]
    n = CHUNK_EVENTS * 5
    for i in range(n):
        trails[i % 4].record_tool_call("t", parameters={"i": i}, duration_ms=1.0)
    assert transport.flush(10)
    seqs: dict[str, list[int]] = {}
    for event in publisher.lines():
        seqs.setdefault(event["session_id"], []).append(event["seq"])
    assert sorted(seqs) == sorted(t.session_id for t in trails)
    assert all(s == list(range(n // 4)) for s in seqs.values())
    transport.shutdown(1)


def test_a_full_queue_is_reported_once_by_the_transport_thread_never_on_the_agents(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Refusals are counted on the agent's thread and logged once, later, by the transport's thread
    (a log handler on the agent's thread could be slow, or record into a trail itself)."""
    publisher = MemoryPublisher()
    options = ClientOptions(spool_dir=tmp_path, linger_ms=5, spool_fsync="never", queue_events=50)
    transport = BatchTransport(publisher, options, partitions=3, spool_dir=tmp_path / "t", exit_hook=False)
    trail = _trail(transport)
    with caplog.at_level(logging.ERROR, logger="agent_audit.producers"):
        for i in range(5_000):
            trail.record_tool_call("t", parameters={"i": i}, duration_ms=1.0)
        assert transport.flush(10)
    full = [r for r in caplog.records if r.getMessage().startswith("audit.queue_full")]
    assert len(full) == 1 and full[0].threadName == "audit-transport"
    assert transport.counters.dropped == transport.queue.refused > 0
    transport.shutdown(1)


class Echoing:
    """A transport of the agent's own whose send() records again (e.g. it logs through an audit bridge)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.echo: AuditTrail | None = None

    def send(self, session_id: str, encoded: bytes) -> bool:
        self.lines.append(encoded)
        if self.echo is not None and len(self.lines) < 4:
            self.echo.input(content="sent one")
        return True

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> bool:
        return True

    @property
    def counters(self) -> Any:
        return None


def test_a_transport_that_records_from_inside_send_does_not_deadlock_the_agent() -> None:
    """The hot path's lock is reentrant: a record made from inside a transport's send() returns."""
    transport = Echoing()
    transport.echo = _trail(Parts())
    trail = _trail(transport)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (trail.input(content="a"), trail.input(content="b"), done.set()))
    worker.start()
    assert done.wait(10)
    assert len(transport.lines) == 2 and trail.failures == 0
