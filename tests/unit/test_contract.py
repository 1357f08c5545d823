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
    (lambda e: e.update(unexpected=1), "<key>: extra_forbidden"),
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


def _with(path: str, value: object, kind: str = "tool_call") -> dict[str, object]:
    ev = event(kind, 3)
    *parents, leaf = path.split(".")
    target = ev
    for p in parents:
        target = target[p]
    target[leaf] = value
    return ev


@pytest.mark.parametrize(("kind", "path", "value"), [
    ("tool_call", "seq", "12"),
    ("tool_call", "seq", True),
    ("tool_call", "seq", 12.0),
    ("tool_call", "timestamp", 1700000000),
    ("tool_call", "timestamp", "1700000000"),
    ("tool_call", "payload.duration_ms", "15.5"),
    ("tool_call", "payload.duration_ms", True),
    ("reasoning", "payload.confidence", "0.5"),
    ("output", "payload.metadata.tokens_used", "100"),
    ("output", "payload.metadata.tokens_used", 100.0),
    ("output", "payload.metadata.cost", "0.1"),
    ("input", "payload.content", 5),
])
def test_no_type_is_coerced(kind: str, path: str, value: object) -> None:
    """Validation is strict, as the published schema: no string, boolean or float becomes a number
    or a timestamp, no number becomes a string."""
    with pytest.raises(InvalidEvent) as info:
        validate_event(_with(path, value, kind))
    assert path.rsplit(".", 1)[-1] in info.value.reason


@pytest.mark.parametrize(("kind", "path", "value"), [
    ("tool_call", "seq", 2**53),
    ("tool_call", "seq", 2**63 - 1),
    ("output", "payload.metadata.tokens_used", 2**64 - 1),
    ("output", "payload.metadata.tokens_used", 10**9 + 1),
    ("output", "payload.metadata.cost", 1e7),
    ("output", "payload.metadata.cost", float("inf")),
    ("tool_call", "payload.duration_ms", 1e11),
    ("tool_call", "payload.duration_ms", float("nan")),
    ("reasoning", "payload.confidence", 1.5),
])
def test_every_number_has_bounds(kind: str, path: str, value: object) -> None:
    """Numbers outside their documented bounds (contract.BOUNDS) are rejected, NaN and infinity too."""
    with pytest.raises(InvalidEvent) as info:
        validate_event(_with(path, value, kind))
    assert path.rsplit(".", 1)[-1] in info.value.reason


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
                                   "2026-13-01T00:00:00Z", "2026-11-25 09:30:00Z", "yesterday"])
def test_timestamps_that_do_not_exist_in_utc_are_clean_rejections(stamp: str) -> None:
    """A timestamp the offset pushes out of range, or not RFC 3339, is an InvalidEvent, not a crash."""
    with pytest.raises(InvalidEvent) as info:
        validate_event(_with("timestamp", stamp))
    assert "timestamp" in info.value.reason


def test_the_bounds_are_in_the_published_schema() -> None:
    """Every bound the models enforce is in the JSON Schema, so producers can check before sending."""
    defs = json_schema()["$defs"]
    assert defs["ToolCallEvent"]["properties"]["seq"]["maximum"] == 2**53 - 1
    assert defs["ToolCallPayload"]["properties"]["duration_ms"]["maximum"] == 1e10
    tokens = defs["OutputMetadata"]["properties"]["tokens_used"]["anyOf"][0]
    assert tokens == {"maximum": 10**9, "minimum": 0, "type": "integer"}
    assert "pattern" in defs["ToolCallEvent"]["properties"]["timestamp"]


def test_exact_decoding_keeps_big_integers_as_marked_strings() -> None:
    """An integer beyond 2**53 comes out as its digits and "n", never as an altered float; an
    unholdable number is refused."""
    from agent_audit.core.wire import decode_exact  # noqa: PLC0415

    line = b'{"a": 1180591620717411303424, "b": [9007199254740993, 9007199254740992, -99999999999999999]}'
    assert decode_exact(line) == {"a": "1180591620717411303424n",
                                  "b": ["9007199254740993n", 9007199254740992, "-99999999999999999n"]}
    with pytest.raises(ValueError, match="infinity"):
        decode_exact(b'{"a": 1e400, "b": 12345678901234567}')


def test_the_reason_never_echoes_an_unexpected_key() -> None:
    """A key the contract does not know may be PII too: the reason says <key> instead."""
    ev = event("tool_call", 1)
    ev["payload"]["jane@example.com"] = 1
    ev["555-0123"] = 2
    with pytest.raises(InvalidEvent) as info:
        validate_event(ev)
    assert "jane" not in info.value.reason and "555" not in info.value.reason
    assert "tool_call.payload.<key>: extra_forbidden" in info.value.reason
