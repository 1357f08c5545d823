"""The batch transport on an in-memory broker: envelopes, outages, the spool detour, bounds and drops."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_audit.producers import AuditTrail, BatchTransport, ClientOptions, MemoryPublisher
from agent_audit.producers.batching import Envelope
from agent_audit.producers.publisher import DeliveryCallback
from agent_audit.producers.spool import DiskSpool


def _options(tmp_path: Path, **kw: Any) -> ClientOptions:
    return ClientOptions(**{"spool_dir": tmp_path, "linger_ms": 2, "spool_fsync": "never", **kw})


def _transport(tmp_path: Path, publisher: Any, **kw: Any) -> BatchTransport:
    return BatchTransport(publisher, _options(tmp_path, **kw), partitions=3, spool_dir=tmp_path / "topic",
                          exit_hook=False)


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _sessions(n: int) -> list[str]:
    """Fresh session ids: seq counters are per session and per process."""
    tag = uuid.uuid4().hex[:8]
    return [f"{tag}-s-{i}" for i in range(n)]


def _record(transport: BatchTransport, sessions: list[str], per_session: int) -> None:
    trails = [AuditTrail(session_id=s, user_id="u", agent="a", transport=transport) for s in sessions]
    for n in range(per_session):
        for trail in trails:
            trail.record_tool_call("t", parameters={"n": n}, duration_ms=1.0)


def _in_order(publisher: MemoryPublisher) -> dict[str, list[int]]:
    """Each session's seqs as first delivered (a replay may repeat an envelope: harmless downstream)."""
    firsts: dict[str, list[int]] = {}
    seen: set[tuple[str, int]] = set()
    for event in publisher.lines():
        key = (event["session_id"], event["seq"])
        if key not in seen:
            seen.add(key)
            firsts.setdefault(event["session_id"], []).append(event["seq"])
    return firsts


def test_events_travel_as_envelopes_and_flush_waits_for_the_acknowledgements(tmp_path: Path) -> None:
    """5 sessions x 200 events: all delivered in seq order, in far fewer messages than events."""
    publisher = MemoryPublisher(partitions=3)
    transport = _transport(tmp_path, publisher, envelope_events=100)
    sessions = _sessions(5)
    _record(transport, sessions, 200)
    assert transport.flush(10)
    c = transport.counters
    assert (c.recorded, c.sent, c.spooled, c.dropped) == (1000, 1000, 0, 0)
    assert _in_order(publisher) == {s: list(range(200)) for s in sessions}
    assert 10 <= len(publisher.delivered) < 100
    assert all(env.events <= 100 for env in publisher.delivered)
    transport.shutdown(1)


def test_while_the_broker_is_down_events_are_spooled_then_replayed_in_order(tmp_path: Path) -> None:
    """Down: every envelope goes to disk; back: all arrive, in order. (That the agent is never blocked
    is a mechanism, tested with the publisher held below; its microseconds are bench/producer's.)"""
    publisher = MemoryPublisher(partitions=3)
    transport = _transport(tmp_path, publisher)
    sessions, during = _sessions(4), _sessions(1)[0]
    _record(transport, sessions, 50)
    assert transport.flush(10)
    publisher.up = False
    trail = AuditTrail(session_id=during, user_id="u", agent="a", transport=transport)
    for i in range(2000):
        trail.input(content=str(i))
    assert _wait(lambda: transport.counters.spooled == 2000)
    assert not transport.flush(0.1)  # not delivered yet, and flush says so
    publisher.up = True
    _record(transport, sessions, 50)  # the same sessions go on while the spool drains
    assert transport.flush(10)
    c = transport.counters
    # events recorded while older ones still waited on disk queued behind them, on disk too
    assert c.replayed == c.spooled >= 2000 and c.dropped == 0 and c.sent == 2400
    assert _in_order(publisher) == {**{s: list(range(100)) for s in sessions}, during: list(range(2000))}
    transport.shutdown(1)


def test_a_full_local_queue_detours_through_the_spool_without_reordering(tmp_path: Path) -> None:
    """librdkafka's queue full (BufferError) mid-stream: later envelopes never overtake earlier ones."""
    publisher = MemoryPublisher(partitions=2, capacity=3)
    original_poll = publisher.poll
    slow = threading.Event()

    def poll_rarely(timeout: float) -> None:  # the broker acknowledges only now and then
        if slow.is_set():
            original_poll(timeout)
        slow.set()

    publisher.poll = poll_rarely  # type: ignore[method-assign]
    transport = _transport(tmp_path, publisher, envelope_events=10)
    sessions = _sessions(6)
    _record(transport, sessions, 300)
    assert transport.flush(20)
    assert transport.counters.spooled > 0  # the detour was taken
    assert _in_order(publisher) == {s: list(range(300)) for s in sessions}
    transport.shutdown(1)


def test_when_the_spool_is_full_new_events_are_dropped_and_counted(tmp_path: Path) -> None:
    """Broker down and spool bound hit: recording goes on, drops are counted, nothing raises."""
    publisher = MemoryPublisher()
    publisher.up = False
    transport = _transport(tmp_path, publisher, spool_max_bytes=20_000, envelope_events=10)
    trail = AuditTrail(session_id=_sessions(1)[0], user_id="u", agent="a", transport=transport)
    for i in range(1000):
        trail.input(content="x" * 100, metadata={"i": i})
    assert _wait(lambda: transport.counters.spooled + transport.counters.dropped == 1000)
    c = transport.counters
    assert c.dropped > 0 and c.spooled > 0
    assert transport.spool is not None and transport.spool.size() <= 20_000
    publisher.up = True
    assert transport.flush(10)  # flush counts drops as settled: they will never come
    (kept,) = _in_order(publisher).values()
    assert kept == list(range(len(kept)))  # keep-oldest: one gap, at the tail
    transport.shutdown(1)


def test_an_envelope_the_broker_can_never_take_is_dropped_not_spooled(tmp_path: Path) -> None:
    """A permanent refusal (too large) is counted as dropped; retrying it forever would block the spool."""
    publisher = MemoryPublisher(max_bytes=2000)
    transport = _transport(tmp_path, publisher, envelope_bytes=1500)  # a larger event travels alone
    trail = AuditTrail(session_id=_sessions(1)[0], user_id="u", agent="a", transport=transport)
    trail.input(content="x" * 5000)
    trail.input(content="small")
    assert transport.flush(5)
    c = transport.counters
    assert (c.dropped, c.spooled, c.sent) == (1, 0, 1)
    transport.shutdown(1)


class StuckPublisher(MemoryPublisher):
    """A broker client whose poll hangs: the background thread cannot drain the queue."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def produce(self, envelope: Envelope, on_delivery: DeliveryCallback) -> None:
        self.release.wait(30)
        super().produce(envelope, on_delivery)


def test_memory_stays_bounded_when_the_background_thread_cannot_keep_up(tmp_path: Path) -> None:
    """The queue refuses past its bound in events and bytes: a flood costs counted drops, not memory."""
    publisher = StuckPublisher()
    transport = _transport(tmp_path, publisher, queue_events=1000, queue_bytes=200_000)
    trail = AuditTrail(session_id=_sessions(1)[0], user_id="u", agent="a", transport=transport)
    trail.input(content="first")
    time.sleep(0.05)  # the thread is now stuck in produce()
    for _ in range(20_000):
        trail.input(content="y" * 300)
    queue = transport.queue
    assert len(queue) <= 1000 and queue.refused > 0
    assert transport.counters.dropped == queue.refused
    assert transport.counters.recorded == 20_001
    publisher.release.set()
    assert transport.flush(10)
    transport.shutdown(1)


def test_shutdown_with_the_broker_away_keeps_everything_for_the_next_process(tmp_path: Path) -> None:
    """Unsent events go to the spool at shutdown; the next transport adopts and replays them first."""
    down = MemoryPublisher()
    down.up = False
    first = _transport(tmp_path, down)
    old, new = _sessions(3), _sessions(2)
    _record(first, old, 100)
    assert first.shutdown(0.2) is False
    assert first.counters.spooled == 300
    assert [p.name for p in (tmp_path / "topic").iterdir()] != []

    publisher = MemoryPublisher()
    second = _transport(tmp_path, publisher)
    _record(second, new, 50)
    assert second.flush(10)
    assert _wait(lambda: second.counters.recovered == 300)
    assert _in_order(publisher) == {**{s: list(range(100)) for s in old}, **{s: list(range(50)) for s in new}}
    second.shutdown(1)
    assert list((tmp_path / "topic").iterdir()) == []  # every spool drained and removed


def test_envelopes_spooled_under_another_partition_count_are_recut_on_replay(tmp_path: Path) -> None:
    """A dead process spooled for 3 partitions; the topic now has 5: each event lands on its partition."""
    from agent_audit.core.wire import partition_for  # noqa: PLC0415

    dead = DiskSpool(tmp_path / "topic" / "dead")
    sessions = [f"s-{i}" for i in range(10)]
    lines = b"\n".join(b'{"session_id":"%s","seq":0}' % s.encode() for s in sessions)
    dead.append([Envelope(0, 3, "s-0", lines, 10)])
    dead.close(remove_if_empty=False)
    publisher = MemoryPublisher(partitions=5)
    transport = _transport(tmp_path, publisher)
    assert _wait(lambda: transport.counters.recovered == 10)
    for env in publisher.delivered:
        assert {partition_for(e, 5) for e in sessions if e.encode() in env.value} == {env.partition}
    transport.shutdown(1)


def test_failures_are_logged_once_per_kind_and_never_with_the_payload(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A long outage with a full spool: one 'broker_unavailable' and one 'spool_full' line, no content."""
    publisher = MemoryPublisher()
    publisher.up = False
    transport = _transport(tmp_path, publisher, spool_max_bytes=5_000, envelope_events=5)
    trail = AuditTrail(session_id=_sessions(1)[0], user_id="u", agent="a", transport=transport)
    with caplog.at_level(logging.INFO, logger="agent_audit.producers"):
        for i in range(500):
            trail.input(content=f"jane.doe@example.com secret-{i}")
            if i % 100 == 0:
                time.sleep(0.01)  # several ticks, several refusals
        assert _wait(lambda: transport.counters.spooled + transport.counters.dropped == 500)
    kinds = [r.getMessage().split()[0] for r in caplog.records]
    assert kinds.count("audit.broker_unavailable") == 1 and kinds.count("audit.spool_full") == 1
    assert not any("example.com" in r.getMessage() or "secret" in r.getMessage() for r in caplog.records)
    transport.shutdown(0.1)


class WatchedPublisher(StuckPublisher):
    """Records which thread calls produce(), and holds it there until released."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.threads: set[str] = set()

    def produce(self, envelope: Envelope, on_delivery: DeliveryCallback) -> None:
        self.threads.add(threading.current_thread().name)
        self.inside.set()
        super().produce(envelope, on_delivery)


def test_with_the_publisher_blocked_every_call_returns_and_publishing_stays_on_the_other_thread(
        tmp_path: Path) -> None:
    """The broker client hangs inside produce(): 10,000 calls of the agent still return (accepted or
    refused and counted) while it hangs; produce() only ever runs on the transport's own thread."""
    publisher = WatchedPublisher()
    transport = _transport(tmp_path, publisher, queue_events=2000)
    trail = AuditTrail(session_id=_sessions(1)[0], user_id="u", agent="a", transport=transport)
    trail.input(content="first")
    assert publisher.inside.wait(10)  # the background thread is now held inside produce()
    for i in range(10_000):
        trail.record_tool_call("t", parameters={"i": i}, duration_ms=1.0)
    assert not publisher.release.is_set()  # every call above returned while produce() was held
    c = transport.counters
    assert c.recorded == 10_001 and c.dropped == transport.queue.refused > 0
    publisher.release.set()
    assert transport.flush(10)
    assert publisher.threads == {"audit-transport"}
    assert transport.counters.sent == 10_001 - transport.queue.refused
    transport.shutdown(1)


class DyingPublisher(MemoryPublisher):
    """Takes the transport's thread down with it (what an interpreter-level failure would do)."""

    def poll(self, timeout: float) -> None:
        if threading.current_thread().name == "audit-transport":
            raise SystemExit("the background thread dies here")
        super().poll(timeout)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death we cause
def test_with_the_background_thread_dead_calls_still_return_and_every_event_is_counted(
        tmp_path: Path) -> None:
    """Nothing drains the queue any more: calls return at once, the bound refuses and counts the
    overflow, and flush() says False instead of waiting."""
    transport = _transport(tmp_path, DyingPublisher(), queue_events=500)
    assert _wait(lambda: not transport._thread.is_alive())
    trail = AuditTrail(session_id=_sessions(1)[0], user_id="u", agent="a", transport=transport)
    for i in range(2_000):
        trail.record_tool_call("t", parameters={"i": i}, duration_ms=1.0)
    c = transport.counters
    assert c.recorded == 2_000 and c.dropped == 1_500 and len(transport.queue) == 500
    assert transport.flush(0.5) is False
    transport.shutdown(0.1)


def test_a_slow_start_up_probe_keeps_producing_directly_and_asks_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No answer in time is not 'unreachable': nothing is spooled, events are sent, and the partition
    count is taken from the broker once it answers."""
    publisher = MemoryPublisher(partitions=3)
    publisher.slow = True
    with caplog.at_level(logging.INFO, logger="agent_audit.producers"):
        transport = _transport(tmp_path, publisher)
        assert _wait(lambda: transport.replayer.unsure)
        sessions = _sessions(3)
        _record(transport, sessions, 50)
        assert transport.flush(10)
        publisher.slow = False
        assert _wait(lambda: not transport.replayer.unsure)
    c = transport.counters
    assert (c.sent, c.spooled, c.failed) == (150, 0, 0)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "audit.broker_slow" in messages and "unreachable" not in messages
    transport.shutdown(1)


def test_a_missing_topic_is_reported_by_name_and_its_events_wait_for_it_in_the_spool(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The broker answers but has no such topic: one error naming it; events are spooled, not lost,
    and delivered in order once the topic exists."""
    publisher = MemoryPublisher(partitions=3)
    publisher.topic_exists = False
    sessions = _sessions(2)
    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]

    with caplog.at_level(logging.WARNING, logger="agent_audit.producers"):
        transport = _transport(tmp_path, publisher)
        _record(transport, sessions, 100)
        assert _wait(lambda: transport.counters.spooled == 200)
        # The report may come after the spooling (a loaded machine orders the two threads either way).
        assert _wait(lambda: bool(errors()), timeout=20)
    assert len(errors()) == 1 and "topic memory does not exist" in errors()[0]
    publisher.topic_exists = True
    assert _wait(lambda: transport.counters.replayed == 200, timeout=20)
    assert _in_order(publisher) == {s: list(range(100)) for s in sessions}
    transport.shutdown(1)
