"""The msgspec fast path of the contract is never looser than the pydantic reference, and agrees with it."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.contract import validate_event
from agent_audit.core.contract_structs import checked_event
from agent_audit.core.errors import InvalidEvent

ENVELOPE = {"schema_version": 1, "event_id": "0190f1e2-aaaa-7bbb-8ccc-123456789abc", "level": "info",
            "timestamp": "2026-12-03T11:40:00.123456Z", "session_id": "s-1", "user_id": "u-1",
            "agent": {"name": "bot", "version": "1.2"}, "seq": 3}
PAYLOADS: dict[str, dict[str, Any]] = {
    "input": {"type": "text", "content": "hi", "metadata": {"channel": "web", "n": None}},
    "reasoning": {"thought": "t", "plan": ["a", "b"], "confidence": 0.5},
    "tool_call": {"tool_name": "search", "parameters": {"q": "x"}, "result": {"value": [1, None]},
                  "status": "error", "duration_ms": 12.5, "call_id": "c1"},
    "output": {"type": "text", "content": "ok", "metadata": {"tokens_used": 10, "model": "m", "cost": 0.01}},
    "error": {"type": "Timeout", "message": "slow", "tool_name": "search", "stack_trace": None},
    "end": {"final_seq": 3},
}
ODD_VALUES = [None, True, False, 0, 1, -1, 3.0, 0.5, 2**53, 2**53 - 1, 1e10, 1e11, 10**9 + 1, "", "x",
              "x\n", "2026-12-03T11:40:00Z", "2026-12-03T11:40:00+02:00", "2026-13-03T11:40:00Z",
              "0001-01-01T00:00:00+01:00", "2026-12-03T11:40:00.123456789z",
              "0190f1e2-aaaa-7bbb-8ccc-123456789abc\n",
              "a" * 201, "0123456789abcdef", "0123456789abcdef\n", [], ["a", 1], {}, {"k": None},
              "success", "error", "info", "trace", "nope", "12345678901234567890n"]
FIELDS = [*ENVELOPE, "kind", "trace_id", "span_id", "parent_span_id", "payload", "extra", "redaction",
          "agent.name", "agent.version", "agent.extra",
          *(f"payload.{k}" for p in PAYLOADS.values() for k in p),
          "payload.metadata.tokens_used", "payload.metadata.cost", "payload.metadata.model",
          "payload.metadata.extra", "payload.final_seq", "payload.unknown"]


def event(kind: str) -> dict[str, Any]:
    return {**copy.deepcopy(ENVELOPE), "kind": kind, "payload": copy.deepcopy(PAYLOADS[kind])}


def mutate(doc: dict[str, Any], path: str, value: Any, drop: bool) -> None:
    *parents, name = path.split(".")
    for part in parents:
        doc = doc.get(part) if isinstance(doc, dict) else None  # type: ignore[assignment]
        if not isinstance(doc, dict):
            return
    if drop:
        doc.pop(name, None)
    else:
        doc[name] = copy.deepcopy(value)


def reference(data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        model = validate_event(copy.deepcopy(data))
    except InvalidEvent:
        return None
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


def assert_agrees(data: dict[str, Any]) -> None:
    fast = checked_event(copy.deepcopy(data))
    if fast is None:
        return  # the reference decides: never wrong, only slower
    expected = reference(data)
    assert expected is not None, f"the fast path accepted what the reference refuses: {data}"
    assert orjson.dumps(fast[0]) == orjson.dumps(expected)  # same keys, order and values
    assert fast[1] == validate_event(copy.deepcopy(data)).timestamp


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_a_valid_event_takes_the_fast_path_with_the_reference_dump(kind: str) -> None:
    """Every kind's valid event is accepted by the Structs and dumped exactly as pydantic dumps it."""
    data = event(kind)
    assert checked_event(copy.deepcopy(data)) is not None
    assert_agrees(data)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(sorted(PAYLOADS)),
       st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(ODD_VALUES), st.booleans()),
                min_size=1, max_size=3))
def test_the_fast_path_is_never_looser_than_the_reference(kind: str,
                                                          changes: list[tuple[str, Any, bool]]) -> None:
    """Whatever fields are changed, dropped or added: what the Structs accept, pydantic accepts, same dump."""
    data = event(kind)
    for path, value, drop in changes:
        mutate(data, path, value, drop)
    assert_agrees(data)


def test_the_demo_workload_takes_the_fast_path() -> None:
    """The events the demo's agents record (the benchmark's mix) are all accepted by the Structs."""
    from bench.workload import record_events  # noqa: PLC0415 - bench is top-level, not installed

    for _, line in record_events(400):
        data = orjson.loads(line)
        assert checked_event(data) is not None
        assert_agrees(orjson.loads(line))
