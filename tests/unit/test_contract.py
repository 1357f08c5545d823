"""The v1 event contract: what validates, what is rejected and why, and the published schema."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from agent_audit.core.contract import json_schema, validate_event
from agent_audit.core.errors import InvalidEvent
from agent_audit.core.wire import join_envelope, new_event_id, partition_for, split_envelope

from tests.factories import event

KINDS = ["input", "reasoning", "tool_call", "output", "error"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_validates(kind: str) -> None:
    """A well-formed event of every kind validates to the model of that kind."""
    model = validate_event(event(kind, 0))
    assert model.kind == kind


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda e: e.pop("session_id"), "session_id"),
    (lambda e: e.update(seq=-1), "seq"),
    (lambda e: e.update(kind="telepathy"), "kind"),
    (lambda e: e.update(timestamp="2026-11-25T09:30:00"), "timestamp"),  # naive time: no zone
    (lambda e: e["payload"].pop("duration_ms"), "duration_ms"),
    (lambda e: e.update(unexpected=1), "unexpected"),
    (lambda e: e.update(level="loud"), "level"),
])
def test_invalid_events_are_rejected_with_a_reason_naming_the_field(mutate, where: str) -> None:  # type: ignore[no-untyped-def]
    """Rejections say which field failed, so the dead-letter topic explains itself."""
    ev = event("tool_call", 3)
    mutate(ev)
    with pytest.raises(InvalidEvent) as info:
        validate_event(ev)
    assert where in info.value.reason


def test_the_reason_never_echoes_the_input() -> None:
    """A rejected value may be PII: the reason names locations and error types only."""
    ev = event("input", 0)
    ev["seq"] = "jane.doe@example.com"
    with pytest.raises(InvalidEvent) as info:
        validate_event(ev)
    assert "jane" not in info.value.reason


def test_bytes_and_dicts_validate_alike() -> None:
    """Raw JSON bytes and decoded dicts give the same model."""
    ev = event("output", 2)
    assert validate_event(json.dumps(ev).encode()) == validate_event(ev)


def test_published_schema_is_the_contract() -> None:
    """schema/audit-event.v1.json is exactly what the models generate (regenerate it on change)."""
    published = json.loads((Path(__file__).parents[2] / "schema" / "audit-event.v1.json").read_text())
    assert published == json.loads(json.dumps(json_schema()))


def test_event_ids_are_uuid7_and_time_ordered() -> None:
    """event_id is a version-7 UUID whose prefix sorts by creation time."""
    a, b = new_event_id(now_ms=1_000), new_event_id(now_ms=2_000)
    assert uuid.UUID(a).version == 7
    assert a < b


def test_envelopes_round_trip_and_skip_blank_lines() -> None:
    """An envelope is NDJSON: split gives back the lines joined, blank lines and CRLF tolerated."""
    lines = [b'{"a":1}', b'{"b":2}']
    assert list(split_envelope(join_envelope(lines))) == lines
    assert list(split_envelope(b'{"a":1}\r\n\n{"b":2}\n')) == lines


def test_a_session_always_maps_to_the_same_partition() -> None:
    """partition_for is stable and in range, so a session's events stay ordered."""
    assert partition_for("s-1", 6) == partition_for("s-1", 6)
    assert {partition_for(f"s-{i}", 6) for i in range(200)} == set(range(6))
