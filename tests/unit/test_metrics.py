"""Windowed metrics: the sketch's algebra and accuracy, windows against an exact computation, merge."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.metrics import LogSketch, PartialMerger, WindowAggregator, metric_id
from core.metrics.windows import OVERFLOW
from tests.factories import event

values = st.lists(st.floats(min_value=0.0, max_value=1e7, allow_nan=False), max_size=60)
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _sketch(xs: list[float]) -> LogSketch:
    s = LogSketch()
    for x in xs:
        s.observe(x)
    return s


def _same(a: LogSketch, b: LogSketch) -> bool:
    return (a.buckets, a.zeros, a.count, a.low, a.high) == (b.buckets, b.zeros, b.count, b.low, b.high) \
        and a.total == pytest.approx(b.total)


@settings(max_examples=150, deadline=None)
@given(values, values, values)
def test_merge_is_associative_and_commutative_with_empty_as_identity(a: list, b: list, c: list) -> None:  # type: ignore[type-arg]
    """(a+b)+c == a+(b+c), a+b == b+a, a+empty == a: partials can merge in any order."""
    sa, sb, sc = _sketch(a), _sketch(b), _sketch(c)
    assert _same(sa.merge(sb).merge(sc), sa.merge(sb.merge(sc)))
    assert _same(sa.merge(sb), sb.merge(sa))
    assert _same(sa.merge(LogSketch()), sa)
    assert _same(sa.merge(sb), _sketch(a + b))


def test_quantiles_are_within_one_percent_of_the_exact_ones() -> None:
    """On 50k log-normal latencies every reported quantile is within 1% of the exact value."""
    rng = random.Random(3)
    xs = [rng.lognormvariate(4, 1.2) for _ in range(50_000)]
    sketch, exact = _sketch(xs), sorted(xs)
    for q in (0.5, 0.9, 0.95, 0.99):
        truth = exact[int(q * (len(xs) - 1))]
        assert sketch.quantile(q) == pytest.approx(truth, rel=0.0101)
    assert LogSketch.from_json(sketch.to_json()).summarize() == sketch.summarize()


def _tool_event(seq: int, tool: str, ms: float, error: bool, at: datetime) -> dict:  # type: ignore[type-arg]
    ev = event("tool_call", seq, at=at)
    ev["payload"] = {"tool_name": tool, "duration_ms": ms, "status": "error" if error else "success"}
    return ev


def test_windows_match_an_exact_computation_across_partitions() -> None:
    """Three partitions, random events over 5 minutes: counts exact, p95 within 1%, one record each."""
    rng = random.Random(11)
    aggs = [WindowAggregator(partition=p, size_s=60, grace_s=5) for p in range(3)]
    merger = PartialMerger(partitions=3)
    truth: dict[tuple[str, int], list[tuple[float, bool]]] = {}
    records = []
    for i in range(6000):
        at = T0 + timedelta(seconds=i * 0.05)
        tool, ms, err = rng.choice(["a", "b", "c"]), rng.lognormvariate(3, 1), rng.random() < 0.1
        start = int(at.timestamp()) // 60 * 60
        truth.setdefault((tool, start), []).append((ms, err))
        agg = aggs[i % 3]
        agg.observe(_tool_event(i, tool, ms, err, at), wall_now=0)
        for partial in agg.close_due():
            records += merger.add_partial(partial)
        records += merger.update_watermark(agg.partition, agg.watermark())
    end = T0.timestamp() + 3600  # a wall clock far past the last event: idle windows close
    for agg in aggs:
        for partial in agg.close_due(wall_now=end):
            records += merger.add_partial(partial)
        records += merger.update_watermark(agg.partition, agg.watermark(end))
    tools = [r for r in records if r["type"] == "tool"]
    assert len(tools) == len(truth)  # exactly one record per (tool, window)
    for r in tools:
        start = int(datetime.fromisoformat(r["window_start"].replace("Z", "+00:00")).timestamp())
        seen = truth[(r["tool"], start)]
        assert r["calls"] == len(seen)
        assert r["errors"] == sum(e for _, e in seen)
        exact = sorted(ms for ms, _ in seen)
        assert r["latency_ms"]["p95"] == pytest.approx(exact[int(0.95 * (len(exact) - 1))], rel=0.0101)
        assert r["metric_id"] == metric_id("tool", r["tool"], start)
        assert r["revision"] == 0


def test_late_events_are_counted_not_lost_and_overflow_is_bucketed() -> None:
    """An event for a closed window is counted as late; tools beyond the cap go to __overflow__."""
    agg = WindowAggregator(size_s=60, grace_s=0, max_tools=2)
    for i, tool in enumerate(["a", "b", "c", "d"]):
        agg.observe(_tool_event(i, tool, 1.0, False, T0), wall_now=0)
    agg.observe(_tool_event(9, "a", 1.0, False, T0 + timedelta(minutes=2)), wall_now=0)
    (closed,) = agg.close_due()
    assert set(closed["tools"]) == {"a", "b", OVERFLOW}
    assert closed["tools"][OVERFLOW]["calls"] == 2
    agg.observe(_tool_event(10, "a", 1.0, False, T0), wall_now=0)
    assert agg.late == 1


def test_a_restored_aggregator_continues_without_emitting_a_window_twice() -> None:
    """Snapshot mid-window, restore, go on: each window is emitted exactly once."""
    agg = WindowAggregator(size_s=60, grace_s=0)
    agg.observe(_tool_event(0, "a", 5.0, False, T0), wall_now=0)
    agg.observe(_tool_event(1, "a", 5.0, False, T0 + timedelta(seconds=61)), wall_now=0)
    first = agg.close_due()
    restored = WindowAggregator.from_json(agg.to_json())
    restored.observe(_tool_event(2, "a", 7.0, False, T0 + timedelta(seconds=70)), wall_now=0)
    restored.observe(_tool_event(3, "a", 7.0, False, T0 + timedelta(seconds=125)), wall_now=0)
    second = restored.close_due()
    assert [p["window_start"] for p in first + second] == [int(T0.timestamp()), int(T0.timestamp()) + 60]
    assert second[0]["tools"]["a"]["calls"] == 2


def test_a_late_partial_revises_and_a_replayed_partial_changes_nothing() -> None:
    """After finalization a new partial bumps the revision; the same partial again is ignored."""
    merger = PartialMerger(partitions=1)
    agg = WindowAggregator(size_s=60, grace_s=0)
    agg.observe(_tool_event(0, "a", 5.0, False, T0), wall_now=0)
    (partial,) = agg.close_due(wall_now=T0.timestamp() + 120)
    merger.add_partial(partial)
    (final, *_) = merger.update_watermark(0, T0.timestamp() + 120)
    assert merger.add_partial(partial) == []
    revised = dict(partial, tools={"a": {**partial["tools"]["a"], "calls": 2}})
    (again, *_) = merger.add_partial(revised)
    assert (again["metric_id"], again["revision"], again["calls"]) == (final["metric_id"], 1, 2)
    assert PartialMerger.from_json(merger.to_json()).finalized == merger.finalized
