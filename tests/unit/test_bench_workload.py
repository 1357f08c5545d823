"""The stream benchmark's workload: valid demo events, cut into per-partition envelopes in order."""

from __future__ import annotations

import orjson

from agent_audit.core.contract import validate_event
from agent_audit.core.wire import partition_for, split_envelope
from bench.workload import envelopes, record_events


def test_events_are_valid_and_carry_pii_and_tool_calls() -> None:
    """Every recorded line validates; the mix has tool calls and text that redaction must change."""
    events = record_events(500, sessions_at_once=20)
    decoded = [orjson.loads(line) for _, line in events]
    assert all(validate_event(d) for d in decoded)
    assert {d["kind"] for d in decoded} >= {"input", "reasoning", "tool_call", "output"}
    assert any("@example.com" in line.decode() for _, line in events)


def test_envelopes_keep_each_partitions_order_and_their_size_bound() -> None:
    """Each envelope holds at most N lines of one partition; joined back, a partition's lines are in order."""
    events = record_events(300, sessions_at_once=10)
    cut = envelopes(events, partitions=3, per_envelope=7)
    assert all(count <= 7 and count == len(list(split_envelope(env))) for _, env, count in cut)
    for p in range(3):
        lines = [line for q, env, _ in cut if q == p for line in split_envelope(env)]
        assert lines == [line for s, line in events if partition_for(s, 3) == p]
