"""The msgspec fast path of the contract is never looser than the pydantic reference, and agrees with it."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.contract import validate_event
from agent_audit.core.contract_structs import checked_event, checked_line
from agent_audit.core.errors import InvalidEvent
from agent_audit.core.wire import decode_exact

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
    assert_line_agrees(orjson.dumps(data))
    if fast is None:
        return  # the reference decides: never wrong, only slower
    expected = reference(data)
    assert expected is not None, f"the fast path accepted what the reference refuses: {data}"
    assert orjson.dumps(fast[0]) == orjson.dumps(expected)  # same keys, order and values
    assert fast[1] == validate_event(copy.deepcopy(data)).timestamp


def assert_line_agrees(line: bytes) -> None:
    """From bytes: accepted only where the line parsed exactly (``decode_exact``) is accepted by
    the reference, with the same dump and instant."""
    fast = checked_line(line)
    if fast is None:
        return
    try:
        data = decode_exact(line)
    except ValueError:
        raise AssertionError(f"the fast path accepted a line that is not JSON: {line!r}") from None
    expected = reference(data)
    assert expected is not None, f"the fast path accepted what the reference refuses: {line!r}"
    assert orjson.dumps(fast[0]) == orjson.dumps(expected)
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


def _line(kind: str = "input", **extra: Any) -> bytes:
    return orjson.dumps({**event(kind), **extra})


ODD_LINES = [
    _line()[:-1] + b',"kind":"output"}',  # two kinds: the last one counts for orjson
    _line("output")[:-1] + b',"kind":"input"}',
    _line().replace(b'"kind":"input",', b""),  # no kind
    _line(payload={"type": "text", "content": "", "metadata": {"kind": "input"}}).replace(
        b'"kind":"input",', b""),  # no kind, but one nested below
    _line(seq=3)[:-1] + b',"seq":4}',  # a repeated key: the last one counts
    _line(seq=3)[:-1] + b',"seq":"4"}',
    _line(payload={"type": "t", "content": "", "metadata": {"n": 12345678901234567}}),  # 2**53 < n
    _line(payload={"type": "t", "content": "", "metadata": {"n": 1}}).replace(
        b'"n":1', b'"n":123456789012345678901234'),
    _line(payload={"type": "t", "content": "card 4111111111111111", "metadata": {}}),  # digits in text
    _line(payload={"type": "t", "content": "", "metadata": {"n": [[[[[[]]]]]] * 3}}),
    b'{"a":' + b"[" * 1100 + b"]" * 1100 + b"}",
    _line()[:-1] + b',"a":' + b"[" * 1100 + b"]" * 1100 + b"}",
    _line(payload={"type": "t", "content": "", "metadata": {"deep": [[[[[[[[]]]]]]]]}}).replace(
        b"[[[[[[[[]]]]]]]]", b"[" * 1100 + b"]" * 1100),
    _line(timestamp="2026-02-30T11:40:00.123456Z"),  # no such day
    _line(timestamp="2026-12-03T11:40:00.000000Z"),
    _line(timestamp="2026-12-03T24:00:00.000000Z"),
    _line(timestamp="2026-12-03t11:40:00.123456Z"),
    _line(timestamp="2026-12-03T11:40:00.123456+01:00"),
    _line(timestamp="2026-12-03T11:40:60.123456Z"),
    _line(redaction={"pii": 1}),
    b" " + _line() + b" ",
    b"\xef\xbb\xbf" + _line(),
    _line().replace(b'"hi"', b'"h\\ud800i"'),
    _line().replace(b'"hi"', b'"h\\ud83d\\ude00i"'),
    _line().replace(b'"hi"', b'"h\ti"'),
    _line().replace(b'"hi"', b'"h\xffi"'),
    _line("tool_call").replace(b"12.5", b"1e400"),
    _line("tool_call").replace(b"12.5", b"12"),
    _line("tool_call").replace(b"12.5", b"NaN"),
    _line("end")[:-1] + b",}",
]


@pytest.mark.parametrize("line", ODD_LINES, ids=range(len(ODD_LINES)))
def test_the_fast_path_from_bytes_is_never_looser_than_the_reference(line: bytes) -> None:
    """Repeated keys and kinds, a missing kind, long integers, deep nesting, odd bytes and dates:
    what ``checked_line`` accepts, the reference accepts from the same line, dumped the same."""
    assert_line_agrees(line)


def test_a_repeated_kind_or_a_missing_one_never_passes_from_bytes() -> None:
    """msgspec decoding one kind's Struct accepts a line without ``kind``: the union insists on it."""
    assert checked_line(ODD_LINES[2]) is None
    assert checked_line(ODD_LINES[3]) is None
    assert checked_line(ODD_LINES[0]) is None


def test_the_demo_workload_takes_the_fast_path_from_bytes() -> None:
    """Every line the demo's agents record is accepted straight from its bytes (no dict first)."""
    from bench.workload import record_events  # noqa: PLC0415 - bench is top-level, not installed

    for _, line in record_events(400):
        assert checked_line(line) is not None
        assert_line_agrees(line)
