"""Per-partition windows: grace, idle close, late and future events, caps, snapshots without replays."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.metrics import OVERFLOW, WindowAggregator
from tests.factories import event

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a window boundary
W0 = T0.timestamp()


def _call(at: float, tool: str = "search", ms: Any = 5.0, status: str = "success",
          session: str = "s-1", user: str = "u-1") -> dict[str, Any]:
    ev = event("tool_call", 0, at=datetime.fromtimestamp(at, UTC), session=session, user=user)
    ev["payload"] = {"tool_name": tool, "duration_ms": ms, "status": status}
    return ev


def _output(at: float, model: str, tokens: int, cost: float) -> dict[str, Any]:
    ev = event("output", 0, at=datetime.fromtimestamp(at, UTC))
    ev["payload"]["metadata"] = {"model": model, "tokens_used": tokens, "cost": cost}
    return ev


def _drain(agg: WindowAggregator) -> list[dict[str, Any]]:
    """The idle timer long after the last event: its first tick starts the quiet clock."""
    agg.close_due(W0 + 100_000)
    return agg.close_due(W0 + 200_000)


def _starts(partials: list[dict[str, Any]]) -> list[float]:
    return [p["window_start"] - W0 for p in partials]


def test_a_window_closes_only_once_the_watermark_passes_end_plus_grace() -> None:
    """With grace 5 s, an event at end+4.9 s keeps [0, 60) open; one at end+5 s closes it."""
    agg = WindowAggregator(size_s=60, grace_s=5)
    agg.observe(_call(W0 + 1))
    agg.observe(_call(W0 + 64.9))
    assert agg.close_due() == []
    agg.observe(_call(W0 + 65))
    (closed,) = agg.close_due()
    assert (_starts([closed]), closed["window_end"] - W0, closed["tools"]["search"]["calls"]) == ([0], 60, 1)


def test_an_event_out_of_order_within_grace_lands_in_its_own_window() -> None:
    """An event 4 s behind the newest one, but in the previous window, still counts there."""
    agg = WindowAggregator(size_s=60, grace_s=5)
    agg.observe(_call(W0 + 50))
    agg.observe(_call(W0 + 62))
    assert agg.observe(_call(W0 + 58)) is True
    first, second = _drain(agg)
    assert (first["tools"]["search"]["calls"], second["tools"]["search"]["calls"]) == (2, 1)


def test_an_event_whose_window_has_closed_is_counted_late_and_changes_nothing() -> None:
    """observe() returns False, counts["late"] goes up, the emitted window is not reopened."""
    agg = WindowAggregator(size_s=60, grace_s=0)
    agg.observe(_call(W0 + 1))
    agg.observe(_call(W0 + 61))
    assert _starts(agg.close_due()) == [0]
    assert agg.observe(_call(W0 + 2)) is False
    assert agg.counts["late"] == 1
    assert list(agg.windows) == [int(W0) + 60]


def test_an_idle_partition_closes_by_the_wall_clock_after_quiet_time() -> None:
    """Quiet for up to idle_s (= grace): event time rules. Longer: the wall clock minus grace."""
    agg = WindowAggregator(size_s=60, grace_s=10)
    agg.observe(_call(W0 + 40), wall_now=W0 + 41)
    assert agg.close_due(W0 + 51) == []  # quiet 10 s: not idle yet
    assert agg.close_due(W0 + 65) == []  # idle: watermark 55 < 60
    assert _starts(agg.close_due(W0 + 71)) == [0]  # 61 >= 60
    assert agg.watermark() == W0 + 61  # and it never goes back


def test_a_partition_that_never_saw_an_event_reports_the_wall_clock_after_grace() -> None:
    """No events: -inf (it promises nothing) until grace has passed quietly, then wall - grace."""
    agg = WindowAggregator(size_s=60, grace_s=10)
    assert agg.watermark(W0) == -math.inf
    assert agg.watermark(W0 + 10) == -math.inf
    assert agg.watermark(W0 + 11) == W0 + 1


def test_after_a_restore_the_backlog_comes_before_any_idle_close() -> None:
    """A restored worker's first tick does not close the open window: its backlog is not late."""
    agg = WindowAggregator(size_s=60, grace_s=5)
    agg.observe(_call(W0 + 10), wall_now=W0 + 10)
    restored = WindowAggregator.from_json(agg.to_json())
    assert restored.close_due(W0 + 3600) == []  # restarted an hour later: the quiet clock restarts
    assert restored.observe(_call(W0 + 30), wall_now=W0 + 3601) is True
    restored.observe(_call(W0 + 70), wall_now=W0 + 3601)
    (closed,) = restored.close_due(W0 + 3601)
    assert closed["tools"]["search"]["calls"] == 2


def test_a_restored_partition_quiet_since_long_ago_does_not_hold_the_others_back() -> None:
    """Last event a day before the restart: after idle_s of quiet its watermark is wall - grace."""
    agg = WindowAggregator(size_s=60, grace_s=5)
    agg.observe(_call(W0), wall_now=W0)
    restored = WindowAggregator.from_json(agg.to_json())
    day = 86_400
    assert restored.watermark(W0 + day) == W0 - 5
    assert restored.watermark(W0 + day + 6) == W0 + day + 1


def test_idle_s_gives_a_slow_restart_longer_before_idleness_closes_anything() -> None:
    """idle_s=60, grace 5: 30 s of quiet after the restore close nothing, 70 s close the window."""
    agg = WindowAggregator(size_s=60, grace_s=5, idle_s=60)
    agg.observe(_call(W0 + 50), wall_now=W0 + 50)
    restored = WindowAggregator.from_json(agg.to_json())
    assert restored.close_due(W0 + 500) == [] and restored.close_due(W0 + 530) == []
    assert _starts(restored.close_due(W0 + 570)) == [0]


def test_an_event_from_a_clock_far_ahead_is_counted_and_placed_at_the_wall_time() -> None:
    """A producer an hour ahead cannot close its partition's windows early."""
    agg = WindowAggregator(size_s=60, grace_s=5, max_skew_s=300)
    agg.observe(_call(W0 + 3600), wall_now=W0 + 10)
    agg.observe(_call(W0 + 20), wall_now=W0 + 20)
    assert agg.counts["future"] == 1
    assert agg.close_due() == []
    assert agg.windows[int(W0)].tools["search"].calls == 2


def test_tools_and_models_beyond_the_cap_go_to_the_overflow_bucket_and_are_counted() -> None:
    """max_tools=2: tools c and d are folded into __overflow__; the same for models."""
    agg = WindowAggregator(size_s=60, grace_s=0, max_tools=2, max_models=1)
    for i, tool in enumerate("abcdc"):
        agg.observe(_call(W0 + i, tool=tool))
    agg.observe(_output(W0, "m1", 10, 0.1))
    agg.observe(_output(W0, "m2", 5, 0.2))
    (closed,) = _drain(agg)
    assert {n: t["calls"] for n, t in closed["tools"].items()} == {"a": 1, "b": 1, OVERFLOW: 3}
    assert closed["models"][OVERFLOW] == {"outputs": 1, "tokens": 5, "cost": 0.2}
    assert closed["overflowed"] == agg.counts["overflowed"] == 4


def test_per_model_tokens_and_cost_and_volume_per_kind_are_exact() -> None:
    """Outputs add up tokens and cost per model; every event counts once in its kind."""
    agg = WindowAggregator(size_s=60, grace_s=0)
    agg.observe(_output(W0 + 1, "m1", 100, 0.25))
    agg.observe(_output(W0 + 2, "m1", 50, 0.5))
    agg.observe(_call(W0 + 3, status="error"))
    agg.observe(event("input", 0, at=T0))
    (closed,) = _drain(agg)
    assert closed["models"] == {"m1": {"outputs": 2, "tokens": 150, "cost": 0.75}}
    assert closed["kinds"] == {"input": 1, "output": 2, "tool_call": 1}
    assert closed["tools"]["search"]["errors"] == 1


def test_a_call_with_a_broken_duration_counts_as_a_call_but_not_as_a_latency() -> None:
    """Missing, negative or NaN duration_ms: calls and errors still count; bad_durations says why."""
    agg = WindowAggregator(size_s=60, grace_s=0)
    for ms in (None, -3.0, math.nan, "slow", 7.0):
        agg.observe(_call(W0 + 1, ms=ms, status="error"))
    (closed,) = _drain(agg)
    tool = closed["tools"]["search"]
    assert (tool["calls"], tool["errors"], tool["latency"]["n"], closed["bad_durations"]) == (5, 5, 1, 4)


def test_users_and_sessions_never_become_dimensions() -> None:
    """Whatever the ids, nothing of them appears in a partial or a snapshot."""
    agg = WindowAggregator(size_s=60, grace_s=0)
    for i in range(50):
        agg.observe(_call(W0 + i, session=f"sess-secret-{i}", user=f"user-secret-{i}"))
    text = json.dumps([agg.to_json(), _drain(agg)])
    assert "secret" not in text


# Events (seconds after W0, tool) in arrival order: each arrives up to 4.9 s after newer ones,
# i.e. disordered by less than the 5 s grace.
streams = st.lists(st.tuples(st.floats(0, 400), st.sampled_from("abc"), st.floats(0, 4.9)),
                   max_size=60).map(lambda evs: [(t, tool) for t, tool, _ in
                                                 sorted(evs, key=lambda e: e[0] + e[2])])


@settings(max_examples=150, deadline=None)
@given(streams, st.integers(0, 60))
def test_a_snapshot_and_restore_at_any_point_emits_every_window_exactly_once(
        stream: list[tuple[float, str]], cut: int) -> None:
    """Run straight through, or snapshot (through JSON) after event k and restore: same partials."""

    def run(agg: WindowAggregator, part: list[tuple[float, str]]) -> list[dict[str, Any]]:
        out = []
        for t, tool in part:
            agg.observe(_call(W0 + t, tool=tool))
            out += agg.close_due()
        return out

    straight = WindowAggregator(size_s=60, grace_s=5)
    expected = run(straight, stream) + _drain(straight)
    first = WindowAggregator(size_s=60, grace_s=5)
    got = run(first, stream[:cut])
    second = WindowAggregator.from_json(json.loads(json.dumps(first.to_json())))
    got += run(second, stream[cut:]) + _drain(second)
    assert got == expected
    assert sum(t["calls"] for p in got for t in p["tools"].values()) + second.counts["late"] == len(stream)
    assert second.counts["late"] == 0  # disorder within grace is never late
