"""The agent client: every kind conforms to the contract, seq has no gaps, failures never reach the agent."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from typing import Any

import pytest

from agent_audit.core.contract import validate_event
from agent_audit.core.errors import ConfigError
from agent_audit.producers import AuditTrail, Counters, MemoryTransport


def _trail(session_id: str | None = None, **kw: Any) -> tuple[AuditTrail, MemoryTransport]:
    """A fresh session each time: seq counters are per session and per process."""
    session_id = session_id or f"s-{uuid.uuid4().hex[:8]}"
    transport = MemoryTransport()
    trail = AuditTrail(session_id=session_id, user_id="u-1", agent="bot", agent_version="1.0",
                       transport=transport, **kw)
    return trail, transport


def _validated(t: MemoryTransport) -> list[Any]:
    return [validate_event(e) for e in t.events]


def test_each_kind_is_a_valid_v1_event_with_seq_from_zero() -> None:
    """input, reasoning, tool_call, output, error all validate against the contract; seq runs 0..5."""
    trail, t = _trail()
    trail.input("text", content="hi", metadata={"channel": "web"})
    trail.reasoning("think", plan=["a", "b"], confidence=0.8)
    with trail.tool_call("search_kb", parameters={"q": "x"}) as call:
        call.result = {"hits": 3}
    trail.record_tool_call("lookup", parameters={"id": 1}, result="three hits", duration_ms=12.5)
    trail.output("text", content="done", tokens_used=812, model="gpt-x", cost=0.012)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        trail.error(exc)
    models = _validated(t)
    assert [m.kind for m in models] == ["input", "reasoning", "tool_call", "tool_call", "output", "error"]
    assert [m.seq for m in models] == list(range(6))
    assert len({m.session_id for m in models}) == 1 and models[0].agent.version == "1.0"
    assert models[2].payload.result == {"hits": 3}
    assert models[3].payload.result == {"value": "three hits"}  # scalars are wrapped: one ES type
    assert models[4].payload.metadata.tokens_used == 812
    assert "ValueError: boom" in (models[5].payload.stack_trace or "")


def test_the_envelope_fields_are_exactly_the_contracts() -> None:
    """schema_version 1, a UUIDv7 event_id, a UTC timestamp ending in Z, agent {name, version}."""
    trail, t = _trail()
    trail.input(content="x")
    (event,) = t.decoded()
    assert set(event) == {"schema_version", "event_id", "kind", "level", "timestamp", "session_id",
                          "user_id", "agent", "seq", "payload"}
    assert event["schema_version"] == 1 and event["agent"] == {"name": "bot", "version": "1.0"}
    uuid7 = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(uuid7, event["event_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", event["timestamp"])


def test_error_from_keywords_without_an_exception() -> None:
    """trail.error(type=..., message=...) records an error event with no stack trace."""
    trail, t = _trail()
    trail.error(type="Timeout", message="upstream slow", tool_name="search", recovery_action="retry")
    (model,) = _validated(t)
    assert (model.payload.type, model.payload.message, model.payload.stack_trace) == (
        "Timeout", "upstream slow", None)
    assert model.payload.recovery_action == "retry" and model.level == "error"


def test_tool_call_block_is_timed_and_a_raise_is_recorded_then_propagates() -> None:
    """A raising block: tool_call status=error with the exception, an error event, the same exception."""
    trail, t = _trail()
    with pytest.raises(KeyError), trail.tool_call("bad", {"a": 1}):
        raise KeyError("k")
    call, error = _validated(t)
    assert call.payload.status == "error" and call.level == "error"
    assert call.payload.result == {"error": {"type": "KeyError", "message": "'k'"}}
    assert call.payload.duration_ms >= 0
    assert error.kind == "error" and error.payload.tool_name == "bad"
    assert "KeyError" in (error.payload.stack_trace or "")


def test_tool_call_measures_the_blocks_duration() -> None:
    """duration_ms is the wall time of the block."""
    trail, t = _trail()
    with trail.tool_call("slow"):
        threading.Event().wait(0.02)
    (model,) = _validated(t)
    assert 15 <= model.payload.duration_ms < 1000


def test_a_tool_can_report_failure_without_raising() -> None:
    """call.status = 'error' is recorded as is, at level error."""
    trail, t = _trail()
    with trail.tool_call("pay") as call:
        call.result = {"declined": True}
        call.status = "error"
    (model,) = _validated(t)
    assert (model.payload.status, model.level) == ("error", "error")


def test_tool_call_works_as_an_async_context_manager() -> None:
    """async with trail.tool_call(...) records like the sync form, failures included."""
    trail, t = _trail()

    async def agent() -> None:
        async with trail.tool_call("fetch", {"url": "u"}) as call:
            await asyncio.sleep(0.001)
            call.result = {"status": 200}
        with pytest.raises(TimeoutError):
            async with trail.tool_call("fetch"):
                raise TimeoutError

    asyncio.run(agent())
    ok, failed, error = _validated(t)
    assert (ok.payload.status, ok.payload.result) == ("success", {"status": 200})
    assert failed.payload.status == "error"
    assert ok.payload.duration_ms >= 1 and error.payload.type == "TimeoutError"


def test_decorators_record_sync_and_async_functions_with_their_arguments() -> None:
    """@trail.tool, @trail.tool("name") and @trail.tool_call("name") each record one call per call."""
    trail, t = _trail()

    @trail.tool
    def add(a: int, b: int = 0) -> int:
        return a + b

    @trail.tool("fetch_page")
    async def fetch(url: str, **headers: str) -> str:
        await asyncio.sleep(0)
        return "page"

    @trail.tool_call("lookup", parameters={"source": "crm"})
    def lookup(self: object, customer: int) -> dict[str, int]:
        return {"orders": 2}

    assert add(1, b=2) == 3
    assert asyncio.run(fetch("http://x", accept="json")) == "page"
    assert lookup(object(), 7) == {"orders": 2}
    calls = _validated(t)
    assert [c.payload.tool_name for c in calls] == ["add", "fetch_page", "lookup"]
    assert calls[0].payload.parameters == {"a": 1, "b": 2} and calls[0].payload.result == {"value": 3}
    assert calls[1].payload.parameters == {"url": "http://x", "accept": "json"}
    assert calls[2].payload.parameters == {"source": "crm", "customer": 7}  # self is left out


def test_a_decorated_function_that_raises_is_recorded_and_reraised() -> None:
    """The decorator records status=error and an error event; the caller still sees the exception."""
    trail, t = _trail()

    @trail.tool()
    async def flaky() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        asyncio.run(flaky())
    assert [(m.kind, m.level) for m in _validated(t)] == [("tool_call", "error"), ("error", "error")]


@pytest.mark.parametrize(("threshold", "kept"), [
    ("trace", ["trace", "debug", "info", "warning", "error"]),
    ("info", ["info", "warning", "error"]),
    ("warning", ["warning", "error"]),
    ("error", ["error"]),
])
def test_level_filter_keeps_events_at_or_above_the_threshold_without_consuming_seq(
        threshold: str, kept: list[str]) -> None:
    """Events below the trail's level are not recorded and seq stays gapless over what is."""
    trail, t = _trail(level=threshold)
    for level in ("trace", "debug", "info", "warning"):
        trail.reasoning(f"at {level}", level=level)
    trail.error(type="E", message="m")
    models = _validated(t)
    assert [m.level for m in models] == kept
    assert [m.seq for m in models] == list(range(len(kept)))


def test_an_unknown_level_is_a_config_error_at_construction() -> None:
    """A typo in the trail's level fails fast, before any event."""
    with pytest.raises(ConfigError):
        AuditTrail(session_id="s", user_id="u", agent="a", level="verbose", transport=MemoryTransport())


def test_seq_has_no_gaps_or_duplicates_under_threads() -> None:
    """Eight threads recording into one trail: seq is exactly 0..N-1, in queue order."""
    trail, t = _trail()
    threads = [threading.Thread(target=lambda: [trail.input(content="x") for _ in range(250)])
               for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [e["seq"] for e in t.decoded()] == list(range(2000))


def test_two_trails_of_one_session_share_its_seq() -> None:
    """A second AuditTrail for a live session continues its numbering instead of restarting at 0."""
    t = MemoryTransport()
    shared, other_id = f"shared-{uuid.uuid4().hex}", f"other-{uuid.uuid4().hex}"
    first = AuditTrail(session_id=shared, user_id="u", agent="a", transport=t)
    second = AuditTrail(session_id=shared, user_id="u", agent="a", transport=t)
    other = AuditTrail(session_id=other_id, user_id="u", agent="a", transport=t)
    first.input(content="1")
    second.input(content="2")
    other.input(content="3")
    first.input(content="4")
    assert [(e["session_id"], e["seq"]) for e in t.decoded()] == [
        (shared, 0), (shared, 1), (other_id, 0), (shared, 2)]


def test_a_resumed_session_starts_at_the_given_seq() -> None:
    """seq_start continues a session recorded by an earlier process."""
    trail, t = _trail(seq_start=41)
    trail.input(content="x")
    assert t.decoded()[0]["seq"] == 41


def test_values_orjson_cannot_encode_are_written_as_text() -> None:
    """Objects in parameters or metadata become their str; non-string keys become strings."""
    trail, t = _trail()

    class Customer:
        def __str__(self) -> str:
            return "Customer#7"

    trail.record_tool_call("crm", parameters={"who": Customer(), 3: "three"}, duration_ms=1)
    (model,) = _validated(t)
    assert model.payload.parameters == {"who": "Customer#7", "3": "three"}


class BrokenTransport:
    def send(self, session_id: str, encoded: bytes) -> bool:
        raise OSError("disk full")

    def flush(self, timeout: float) -> bool:
        raise OSError("disk full")

    def shutdown(self, timeout: float) -> bool:
        return False

    @property
    def counters(self) -> Counters:
        return Counters()


def test_failures_never_raise_into_the_agent_and_are_counted() -> None:
    """A failing transport, an unencodable value, a broken __str__: calls return, failures counted."""
    trail = AuditTrail(session_id=f"s-{uuid.uuid4().hex}", user_id="u", agent="a",
                       transport=BrokenTransport())
    assert trail.input(content="x") is False
    assert trail.flush(1) is False

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    ok, t = _trail()
    ok.record_tool_call("t", parameters={"n": 2**70}, duration_ms=1)  # beyond 64-bit: orjson refuses
    ok.error(Unprintable())
    ok.input(content="after")
    assert trail.failures == 2 and ok.failures == 1
    assert [e["seq"] for e in t.decoded()] == [0, 1]  # the refused event took no seq
