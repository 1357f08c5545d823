"""Envelopes: one partition each, bounded in events and bytes, every event once, a session in order."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agent_audit.core.wire import partition_for, split_envelope
from agent_audit.producers.batching import build_envelopes, repartition

_items = st.lists(st.tuples(st.sampled_from([f"s-{i}" for i in range(7)]), st.integers(0, 300)),
                  max_size=300)


def _encode(items: list[tuple[str, int]]) -> list[tuple[str, bytes]]:
    return [(s, orjson.dumps({"session_id": s, "seq": i, "pad": "x" * size}))
            for i, (s, size) in enumerate(items)]


@given(_items, st.integers(1, 5), st.integers(1, 20), st.integers(64, 4096))
def test_envelopes_hold_each_event_once_on_its_sessions_partition_in_order(
        raw: list[tuple[str, int]], partitions: int, max_events: int, max_bytes: int) -> None:
    """Bounds hold (a lone oversize event excepted), partitions match partition_for, order is kept."""
    items = _encode(raw)
    envelopes = build_envelopes(items, partitions, max_events, max_bytes)
    seen: list[bytes] = []
    for env in envelopes:
        lines = list(split_envelope(env.value))
        assert env.events == len(lines) <= max_events
        assert len(env.value) <= max_bytes or env.events == 1
        assert all(partition_for(orjson.loads(line)["session_id"], partitions) == env.partition
                   for line in lines)
        assert env.key == orjson.loads(lines[0])["session_id"]
        seen.extend(lines)
    assert sorted(seen) == sorted(e for _, e in items)
    per_session = [orjson.loads(line) for line in seen]
    for session in {s for s, _ in raw}:
        seqs = [e["seq"] for e in per_session if e["session_id"] == session]
        assert seqs == sorted(seqs)


def test_an_envelope_spooled_under_another_partition_count_is_recut() -> None:
    """After the topic grew, replayed events go to the partitions the new count gives their sessions."""
    items = _encode([(f"s-{i % 5}", 10) for i in range(40)])
    (old,) = build_envelopes(items, 1, 500, 1 << 20)
    recut = repartition(old, 4, 500, 1 << 20)
    assert sum(e.events for e in recut) == 40
    for env in recut:
        assert {partition_for(orjson.loads(line)["session_id"], 4) for line in split_envelope(env.value)} == {
            env.partition}
    assert repartition(old, 1, 500, 1 << 20) == [old]
