"""``trail.close()``: the end marker that lets ``verify`` tell a complete session from an open one."""

from __future__ import annotations

import uuid

import pytest

from agent_audit.core.contract import validate_event
from agent_audit.core.errors import InvalidEvent
from agent_audit.producers import AuditTrail, MemoryTransport
from tests.factories import event


def test_close_sends_an_end_event_carrying_its_own_seq_as_the_final_one() -> None:
    """Three events then close(): a valid ``end`` event at seq 3 with final_seq 3."""
    transport = MemoryTransport()
    trail = AuditTrail(f"s-{uuid.uuid4().hex}", "u", "a", transport=transport)
    for i in range(3):
        trail.input(content=f"m{i}")
    assert trail.close()
    last = validate_event(transport.events[-1])
    assert (last.kind, last.seq, last.payload.final_seq) == ("end", 3, 3)  # type: ignore[union-attr]


def test_a_session_continued_in_another_process_resumes_its_seq_before_closing() -> None:
    """A second process passes seq_start = last seq + 1; its close() names the whole session's end."""
    session = f"s-{uuid.uuid4().hex}"
    second = MemoryTransport()
    AuditTrail(session, "u", "a", transport=second, seq_start=5).close()
    assert validate_event(second.events[-1]).seq == 5


def test_an_end_event_must_name_its_own_seq_and_event_ids_are_uuids() -> None:
    """final_seq differing from seq, or a free-form event id, is rejected by the contract."""
    bad_end = {**event("input", 4), "kind": "end", "payload": {"final_seq": 9}}
    with pytest.raises(InvalidEvent):
        validate_event(bad_end)
    with pytest.raises(InvalidEvent, match="event_id"):
        validate_event({**event("input", 0), "event_id": "e-1"})
