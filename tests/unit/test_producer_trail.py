"""The agent client: every kind conforms to the contract, seq has no gaps, failures never reach the agent."""

from __future__ import annotations

import asyncio
import threading

import orjson
import pytest

from core.contract import validate_event
from producers import AuditTrail, MemoryTransport


def _trail(**kw: object) -> tuple[AuditTrail, MemoryTransport]:
    transport = MemoryTransport()
    return AuditTrail(session_id="s-1", user_id="u-1", agent="bot", agent_version="1.0",
                      transport=transport, **kw), transport  # type: ignore[arg-type]


def test_each_kind_is_a_valid_v1_event_with_seq_from_zero() -> None:
    """input, reasoning, tool_call, output, error all validate; seq runs 0..4."""
    trail, t = _trail()
    trail.input("text", content="hi", metadata={"channel": "web"})
    trail.reasoning("think", plan=["a"], confidence=0.5)
    trail.record_tool_call("search", parameters={"q": "x"}, result="three hits", duration_ms=12.5)
    trail.output("text", content="done", tokens_used=10, model="m", cost=0.01)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        trail.error(exc)
    models = [validate_event(e) for e in t.events]
    assert [m.kind for m in models] == ["input", "reasoning", "tool_call", "output", "error"]
    assert [m.seq for m in models] == [0, 1, 2, 3, 4]
    assert models[2].payload.result == {"value": "three hits"}  # type: ignore[union-attr]
    assert "ValueError: boom" in (models[4].payload.stack_trace or "")  # type: ignore[union-attr]


def test_tool_call_context_manager_times_and_records_failures_then_reraises() -> None:
    """A raising block is recorded as status=error with a duration, and the exception propagates."""
    trail, t = _trail()
    with trail.tool_call("ok", {"a": 1}) as call:
        call.result = {"n": 1}
    with pytest.raises(KeyError), trail.tool_call("bad"):
        raise KeyError("k")
    ok, bad = (orjson.loads(e)["payload"] for e in t.events)
    assert ok["status"] == "success"
    assert ok["result"] == {"n": 1}
    assert bad["status"] == "error"
    assert bad["duration_ms"] >= 0


def test_decorator_works_for_sync_and_async_functions() -> None:
    """@trail.tool() records one tool_call per call, sync or async, and returns the result."""
    trail, t = _trail()

    @trail.tool()
    def add(a: int, b: int) -> int:
        return a + b

    @trail.tool("fetch")
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        return "page"

    assert add(1, 2) == 3
    assert asyncio.run(fetch(url="http://x")) == "page"
    payloads = [orjson.loads(e)["payload"] for e in t.events]
    assert [p["tool_name"] for p in payloads] == ["add", "fetch"]
    assert payloads[1]["parameters"]["url"] == "http://x"


def test_level_filter_drops_below_the_threshold_without_consuming_seq() -> None:
    """With level=warning, info events are not recorded and seq stays gapless."""
    trail, t = _trail(level="warning")
    trail.input("text", content="ignored")
    trail.error(type="E", message="kept")
    trail.record_tool_call("t", status="error", duration_ms=1)
    assert [orjson.loads(e)["seq"] for e in t.events] == [0, 1]


def test_seq_has_no_gaps_or_duplicates_under_threads() -> None:
    """Eight threads recording into one trail: seq is exactly 0..N-1, in send order."""
    trail, t = _trail()
    threads = [threading.Thread(target=lambda: [trail.input(content="x") for _ in range(250)])
               for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [orjson.loads(e)["seq"] for e in t.events] == list(range(2000))


class BrokenTransport:
    def send(self, session_id: str, encoded: bytes) -> None:
        raise OSError("disk full")

    def flush(self, timeout: float) -> bool:
        return False


def test_a_failing_transport_never_raises_into_the_agent() -> None:
    """Transport errors are counted on the trail; the agent's call returns normally."""
    trail = AuditTrail(session_id="s", user_id="u", agent="a", transport=BrokenTransport())
    trail.input(content="x")
    trail.output(content="y")
    assert trail.errors == 2
