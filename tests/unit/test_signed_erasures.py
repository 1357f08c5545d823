"""What forget publishes for the stream to sign: valid events, closed, every id listed once."""

from __future__ import annotations

import uuid

from agent_audit.core.contract import validate_event
from agent_audit.sinks.compliance.signed_erasures import (
    CHUNK,
    ERASURE_SESSION_PREFIX,
    erasure_events,
    listed_ids,
)


def test_a_signing_session_lists_every_id_once_in_valid_events_closed_by_an_end_event() -> None:
    """1,201 ids: three list events of at most CHUNK ids, then an end event naming its own seq;
    every event passes the contract, the session name starts with the receipt, and listed_ids gives
    back exactly the ids."""
    ids = [str(uuid.uuid4()) for _ in range(2 * CHUNK + 201)]
    events = erasure_events("r1", "dpo@corp", ids)
    assert [e["seq"] for e in events] == [0, 1, 2, 3]
    assert events[-1]["kind"] == "end" and events[-1]["payload"] == {"final_seq": 3}
    assert {e["session_id"] for e in events} == {events[0]["session_id"]}
    assert events[0]["session_id"].startswith(f"{ERASURE_SESSION_PREFIX}r1-")
    assert all(len(e["payload"]["metadata"]["erased"]) <= CHUNK for e in events[:-1])
    for e in events:
        validate_event(e)
    assert listed_ids(events) == {events[0]["session_id"]: set(ids)}


def test_listed_ids_ignores_what_is_not_a_list_of_ids() -> None:
    """A stored event whose metadata is missing, not a mapping, or lists something else counts
    for nothing (and raises nothing): only a list under ``erased`` names ids."""
    s = "erasure-r1-x"
    events = [{"session_id": s}, {"session_id": s, "payload": {"metadata": "text"}},
              {"session_id": s, "payload": {"metadata": {"erased": "not-a-list"}}},
              {"session_id": s, "payload": {"metadata": {"erased": ["a", "b"]}}}]
    assert listed_ids(events) == {s: {"a", "b"}}
