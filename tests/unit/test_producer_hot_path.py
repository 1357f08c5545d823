"""The agent's hot path, made cheaper without changing what is recorded: the same payload bytes
whatever the keys, the ``with`` form equal to ``record_tool_call``, the queue's size of each item
exact, and a hostile value still never raised into the agent."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from agent_audit.producers import AuditTrail, ToolCall
from agent_audit.producers.event_line import EventParts, QueuedItem, item_size
from agent_audit.producers.queue import EventQueue

REFERENCE = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS  # the one encoding every payload had before


class Key(str):
    pass


class Customer:
    def __str__(self) -> str:
        return "Customer#7"


class Colour(enum.Enum):
    RED = "red"


class Sized(EventQueue):
    """The transport's queue, keeping the size the trail gave with each item."""

    def __init__(self) -> None:
        super().__init__(10_000, 10_000_000, wake_at=10**9)
        self.sizes: list[tuple[QueuedItem, int]] = []

    def put(self, item: QueuedItem, size: int) -> bool:
        self.sizes.append((item, size))
        return super().put(item, size)


class Parts:
    def __init__(self) -> None:
        self.queue = Sized()
        self.enqueue = self.queue.put

    def parts(self) -> list[EventParts]:
        return [item for item in self.queue.take() if len(item) == 8]  # type: ignore[misc]


def _trail() -> tuple[AuditTrail, Parts]:
    transport = Parts()
    return AuditTrail(session_id=f"s-{uuid.uuid4().hex[:8]}", user_id="u", agent="bot",
                      transport=transport), transport  # type: ignore[arg-type]


def _payload(part: EventParts) -> dict[str, Any]:
    return orjson.loads(part[7][:-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("parameters", [
    {"query": "refund policy", "top_k": 3},
    {Key("k"): 1, "nested": {Key("inner"): [1, {"z": None}]}},
    {1: "one", 2.5: "two and a half", False: "no", None: "none"},
    {"deep": {"deeper": {7: "seven"}}},
    {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "colour": Colour.RED, "obj": Customer()},
])
def test_the_payload_bytes_are_the_reference_encoding_whatever_the_keys(parameters: dict[Any, Any]) -> None:
    """Encoding without OPT_NON_STR_KEYS first and with it only when a key is not a str gives, for
    every payload, exactly the bytes the one encoding with it gave (non-str keys become text)."""
    trail, t = _trail()
    trail.record_tool_call("search", parameters=parameters, duration_ms=1.5)
    with trail.tool_call("search", parameters) as call:
        call.result = {"ok": True}
    direct, block = t.parts()
    expected = {"tool_name": "search", "parameters": parameters, "status": "success", "duration_ms": 1.5}
    assert direct[7] == orjson.dumps(expected, default=str, option=REFERENCE) + b"}"
    expected.update(duration_ms=_payload(block)["duration_ms"], result={"ok": True})
    assert block[7] == orjson.dumps(expected, default=str, option=REFERENCE) + b"}"


@pytest.mark.parametrize(("parameters", "result", "status"), [
    ({"q": "x"}, {"hits": 3}, None),
    (None, None, None),
    ({}, ["a", "b"], "error"),
    ({"q": "x"}, "plain text", "success"),
    ({"q": "x"}, 0, None),
])
def test_the_with_form_records_what_record_tool_call_records(
        parameters: dict[str, Any] | None, result: Any, status: str | None) -> None:
    """Same name, parameters, result and status: the same event (kind, level, payload) either way,
    but for the duration the block measured itself; a status of error makes the level error."""
    trail, t = _trail()
    with trail.tool_call("crm", parameters) as call:
        call.result = result
        call.status = status
    (block,) = t.parts()
    duration = _payload(block)["duration_ms"]
    trail.record_tool_call("crm", parameters=parameters, result=result, status=status or "success",
                           duration_ms=duration)
    (direct,) = t.parts()
    assert duration >= 0
    assert (block[2], block[3], block[7]) == (direct[2], direct[3], direct[7])
    assert block[3] == ("error" if status == "error" else "info")


def test_the_factory_and_the_constructor_make_the_same_tool_call() -> None:
    """``trail.tool_call`` fills the slots without __init__; ``ToolCall(...)`` gives the same object."""
    trail, _ = _trail()
    made = trail.tool_call("lookup", {"a": 1}, level="debug")
    built = ToolCall(trail, "lookup", {"a": 1}, "debug")
    assert type(made) is ToolCall
    slots = ToolCall.__slots__
    assert {s: getattr(made, s) for s in slots} == {s: getattr(built, s) for s in slots}


def test_the_size_queued_with_each_item_is_its_item_size() -> None:
    """The trail hands the queue each item's size from the parts it made: exactly ``item_size``,
    for every kind, with and without trace ids, and for the end marker whose body is made last."""
    trail, t = _trail()
    trail.input(content="hello")
    trail.reasoning("think", plan=["a"])
    trail.output(content="bye", trace={"trace_id": "ab" * 16, "span_id": "cd" * 8})
    trail.record_tool_call("t", parameters={"x": 1}, duration_ms=2, trace={"trace_id": "ef" * 16})
    with trail.tool_call("t"):
        pass
    trail.error(type="Boom", message="it broke")
    trail.close()
    assert len(t.queue.sizes) == 7
    assert all(size == item_size(item) for item, size in t.queue.sizes)


def test_the_queue_counts_what_it_accepted_across_takes_and_not_what_it_refused() -> None:
    """``accepted`` is what was taken plus what waits; a refusal is counted apart."""
    queue = EventQueue(3, 10_000, wake_at=2)
    assert [queue.put(("s", b"x"), 1) for _ in range(4)] == [True, True, True, False]
    assert queue.wake.is_set()  # the second item reached wake_at
    assert len(queue.take()) == 3
    assert queue.put(("s", b"y"), 1)
    assert (queue.accepted, queue.refused, len(queue)) == (4, 1, 1)


class Ambiguous:
    """Like an array: its truth value raises."""

    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")


def test_parameters_whose_truth_value_raises_are_counted_never_raised() -> None:
    """Parameters that cannot be tested for emptiness fail the record, never the agent's call; the
    failed record takes no seq."""
    trail, t = _trail()
    with trail.tool_call("t", Ambiguous()):  # type: ignore[arg-type]
        pass
    assert trail.record_tool_call("t", parameters=Ambiguous(), duration_ms=1) is False
    trail.input(content="after")
    assert trail.failures == 2
    assert [p[5] for p in t.parts()] == [0]
