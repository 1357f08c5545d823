"""Alert rules: fire once per episode, resolve once, respect min-calls guards, load from TOML."""

from __future__ import annotations

import pytest

from core.alerts import AlertEvaluator, Rule, load_rules
from core.errors import ConfigError


def _tool(minute: int, calls: int, errors: int, p95: float = 100.0, tool: str = "pay") -> dict:  # type: ignore[type-arg]
    start = f"2026-11-25T10:{minute:02d}:00Z"
    return {"type": "tool", "tool": tool, "window_start": start, "window_end": start, "calls": calls,
            "errors": errors, "error_rate": errors / calls, "latency_ms": {"p95": p95}}


def _volume(minute: int, events: int) -> dict:  # type: ignore[type-arg]
    start = f"2026-11-25T10:{minute:02d}:00Z"
    return {"type": "volume", "window_start": start, "window_end": start, "events": events}


def test_an_error_rate_episode_fires_once_and_resolves_once() -> None:
    """Five bad windows give one firing alert; two good ones after give one resolved alert."""
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, min_calls=20, clear_after=2)])
    out = []
    for m, errors in enumerate([0, 10, 12, 9, 15, 11, 0, 1, 0, 10]):
        out += ev.evaluate(_tool(m, 40, errors))
    assert [(a["status"], a["window_start"][-6:-4]) for a in out] == [
        ("firing", "01"), ("resolved", "07"), ("firing", "09")]
    assert out[0]["episode_id"] == out[1]["episode_id"] != out[2]["episode_id"]


def test_too_few_calls_never_fire_and_revisions_are_not_judged_twice() -> None:
    """Below min_calls nothing fires; the same window again (a revision) is skipped."""
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, min_calls=20)])
    assert ev.evaluate(_tool(0, 5, 5)) == []
    assert len(ev.evaluate(_tool(1, 40, 30))) == 1
    assert ev.evaluate(_tool(1, 40, 30)) == []


def test_p95_rules_can_target_named_tools() -> None:
    """A p95 rule limited to one tool ignores the others."""
    ev = AlertEvaluator([Rule("slow", "p95_latency", threshold=1000, min_calls=1, tools=("run_tests",))])
    assert ev.evaluate(_tool(0, 5, 0, p95=9000, tool="pay")) == []
    assert ev.evaluate(_tool(0, 5, 0, p95=9000, tool="run_tests"))[0]["subject"] == "run_tests"


def test_a_volume_spike_is_judged_against_the_trailing_mean() -> None:
    """Steady ~100 events per window, then 500: a spike; the warm-up windows never fire."""
    ev = AlertEvaluator([Rule("spike", "volume_spike", factor=3.0, min_calls=50, trailing_windows=5)])
    out = [a for m, n in enumerate([100, 110, 90, 105, 500]) for a in ev.evaluate(_volume(m, n))]
    assert [(a["status"], a["value"]) for a in out] == [("firing", 500.0)]


def test_state_survives_a_restart_without_a_second_firing() -> None:
    """Restored from its snapshot, an evaluator mid-episode does not fire again."""
    rule = Rule("err", "error_rate", threshold=0.2)
    ev = AlertEvaluator([rule])
    ev.evaluate(_tool(0, 40, 20))
    again = AlertEvaluator([rule])
    again.restore(ev.to_json())
    assert again.evaluate(_tool(1, 40, 20)) == []


def test_rules_load_from_toml_and_bad_kinds_are_config_errors() -> None:
    """The rules file is TOML; an unknown kind fails at start-up with the rule's name."""
    rules = load_rules('[[rule]]\nname = "p"\nkind = "p95_latency"\nthreshold = 5\ntools = ["a"]\n')
    assert rules == [Rule("p", "p95_latency", threshold=5, tools=("a",))]
    with pytest.raises(ConfigError, match="'x'"):
        load_rules('[[rule]]\nname = "x"\nkind = "vibes"\n')
