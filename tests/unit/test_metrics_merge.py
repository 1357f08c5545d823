"""The merge stage: final once every partition agrees, replays harmless, late partials revise."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.metrics import PartialMerger, WindowAggregator, metric_id
from tests.factories import event

W0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()


def _partial(partition: int, window: int, calls: dict[str, list[float]], errors: int = 0) -> dict[str, Any]:
    """The partial a partition emits for window number ``window`` with these durations per tool."""
    agg = WindowAggregator(partition=partition, size_s=60, grace_s=0)
    for tool, durations in calls.items():
        for i, ms in enumerate(durations):
            ev = event("tool_call", 0, at=datetime.fromtimestamp(W0 + window * 60 + 1, UTC))
            ev["payload"] = {"tool_name": tool, "duration_ms": ms,
                             "status": "error" if i < errors else "success"}
            agg.observe(ev)
    agg.observe(event("input", 0, at=datetime.fromtimestamp(W0 + (window + 1) * 60, UTC)))
    (partial,) = agg.close_due()
    return {"type": "partial", **partial}  # as the stream wraps it


def _tools(records: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {r["tool"]: (r["calls"], r["revision"]) for r in records if r["type"] == "tool"}


def test_a_window_is_final_only_when_every_partition_watermark_has_passed_it() -> None:
    """Partials from two of three partitions: nothing until partition 2, silent so far, speaks."""
    merger = PartialMerger(partitions=3)
    assert merger.add_partial(_partial(0, 0, {"a": [1.0, 2.0]})) == []
    assert merger.add_partial(_partial(1, 0, {"a": [3.0], "b": [4.0]})) == []
    assert merger.update_watermark(0, W0 + 100) == []
    assert merger.update_watermark(1, W0 + 100) == []
    assert merger.update_watermark(2, W0 + 59) == []  # not past the end yet
    records = merger.update_watermark(2, W0 + 60)
    assert _tools(records) == {"a": (3, 0), "b": (1, 0)}
    (volume,) = [r for r in records if r["type"] == "volume"]
    assert volume["kinds"] == {"tool_call": 4}
    assert merger.update_watermark(2, W0 + 500) == []  # exactly once


def test_the_tool_record_has_the_documented_shape_and_a_deterministic_id() -> None:
    """calls, errors, error_rate, latency min/mean/p50/p90/p95/p99/max; id from tool and window."""
    merger = PartialMerger(partitions=1)
    merger.add_partial(_partial(0, 0, {"pay": [10.0, 20.0, 30.0, 40.0]}, errors=1))
    (record, _volume) = merger.update_watermark(0, W0 + 60)
    assert record == {
        "type": "tool", "metric_id": metric_id("tool", "pay", int(W0), int(W0) + 60), "revision": 0,
        "window_start": "2026-11-25T10:00:00Z", "window_end": "2026-11-25T10:01:00Z", "tool": "pay",
        "calls": 4, "errors": 1, "error_rate": 0.25, "latency_ms": record["latency_ms"]}
    lat = record["latency_ms"]
    assert (lat["count"], lat["min"], lat["mean"], lat["max"]) == (4, 10.0, 25.0, 40.0)
    assert [lat[p] for p in ("p50", "p90", "p95", "p99")] == pytest.approx([20, 30, 30, 30], rel=0.01)


def test_a_replayed_partial_changes_nothing_and_a_late_partition_revises_only_what_changed() -> None:
    """Same partial again: nothing. A late partial adding calls to "a": "a" goes out as revision 1,
    "b" (unchanged) does not, a tool only the late partial has goes out as revision 0."""
    merger = PartialMerger(partitions=1)
    merger.add_partial(_partial(0, 0, {"a": [1.0], "b": [2.0]}))
    first = merger.update_watermark(0, W0 + 60)
    assert merger.add_partial(_partial(0, 0, {"a": [1.0], "b": [2.0]})) == []
    merger.partitions = 2  # a partition the merger did not know of turns up late
    revised = merger.add_partial(_partial(1, 0, {"a": [5.0], "c": [1.0]}))
    assert _tools(revised) == {"a": (2, 1), "c": (1, 0)}
    ids = {r["tool"]: r["metric_id"] for r in first if r["type"] == "tool"}
    assert next(r for r in revised if r.get("tool") == "a")["metric_id"] == ids["a"]
    assert [r["revision"] for r in revised if r["type"] == "volume"] == [1]
    assert merger.counts["replayed"] == 1


def test_a_partial_too_old_to_revise_is_dropped_and_counted() -> None:
    """Only the last keep_windows finalized windows can be revised; older partials are counted."""
    merger = PartialMerger(partitions=1, keep_windows=2)
    for w in range(4):
        merger.add_partial(_partial(0, w, {"a": [1.0]}))
    merger.update_watermark(0, W0 + 240)
    assert sorted(merger.finalized) == [int(W0) + 120, int(W0) + 180]
    assert merger.add_partial(_partial(0, 0, {"a": [9.0]})) == []
    assert merger.counts["dropped"] == 1


def _drive(merger: PartialMerger, messages: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for kind, body in messages:
        out += merger.add_partial(body) if kind == "partial" else merger.update_watermark(*body)
    return out


def _messages(order: list[int]) -> list[tuple[str, Any]]:
    """Three partitions, three windows: each partition sends its partials, then its watermark."""
    per_partition: list[list[tuple[str, Any]]] = []
    for p in range(3):
        msgs: list[tuple[str, Any]] = [
            ("partial", _partial(p, w, {"a": [1.0 + p + w] * (p + 1), f"t{p}": [float(w + 1)]}))
            for w in range(3)]
        per_partition.append([*msgs, ("watermark", (p, W0 + 180))])
    # Interleave partitions in the given order, each partition's own messages staying in order.
    out, cursors = [], [0, 0, 0]
    for p in order:
        if cursors[p] < len(per_partition[p]):
            out.append(per_partition[p][cursors[p]])
            cursors[p] += 1
    for p in range(3):
        out += per_partition[p][cursors[p]:]
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2), max_size=12), st.integers(0, 12))
def test_any_interleaving_and_a_restart_anywhere_give_the_same_records_once(
        order: list[int], cut: int) -> None:
    """Partitions interleaved in any order, merger snapshotted and restored after any message:
    the same records, exactly one per (tool, window), all revision 0."""
    messages = _messages(order)
    reference = _drive(PartialMerger(partitions=3), _messages([]))
    first = PartialMerger(partitions=3)
    got = _drive(first, messages[:cut])
    second = PartialMerger.from_json(json.loads(json.dumps(first.to_json())))
    got += _drive(second, messages[cut:])
    key = sorted((r["metric_id"], json.dumps(r, sort_keys=True)) for r in got)
    assert key == sorted((r["metric_id"], json.dumps(r, sort_keys=True)) for r in reference)
    assert len({r["metric_id"] for r in got}) == len(got) == 3 * 5  # a, t0, t1, t2, volume
    assert {r["revision"] for r in got} == {0}


def test_a_restored_merger_can_be_told_the_topic_grew() -> None:
    """from_json(partitions=...) overrides the saved count; an unknown watermark is ignored."""
    merger = PartialMerger(partitions=1)
    restored = PartialMerger.from_json(merger.to_json(), partitions=4)
    assert restored.partitions == 4
    assert restored.update_watermark(0, -math.inf) == [] and restored.update_watermark(1, None) == []
    assert restored.low_watermark() == -math.inf
