"""Alert rules: fire once per episode, resolve once, no flapping, guards, TOML config, restarts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.alerts import AlertEvaluator, Rule, default_rules, load_rules
from agent_audit.core.errors import ConfigError


def _window(minute: int) -> dict[str, str]:
    return {"window_start": f"2026-11-25T10:{minute:02d}:00Z",
            "window_end": f"2026-11-25T10:{minute + 1:02d}:00Z"}


def _tool(minute: int, calls: int, errors: int, p95: float = 100.0, tool: str = "pay") -> dict[str, Any]:
    return {"type": "tool", "tool": tool, **_window(minute), "calls": calls, "errors": errors,
            "error_rate": errors / calls, "latency_ms": {"p95": p95}}


def _volume(minute: int, events: int) -> dict[str, Any]:
    return {"type": "volume", **_window(minute), "events": events, "kinds": {"tool_call": events}}


def _run(ev: AlertEvaluator, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["status"], a["window_start"][14:16]) for r in records for a in ev.evaluate(r)]


def test_an_error_rate_episode_fires_once_and_resolves_once() -> None:
    """Five bad windows give one firing alert; two good ones after it give one resolved alert."""
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, min_calls=20, clear_after=2)])
    out = [a for m, errors in enumerate([0, 10, 12, 9, 15, 11, 0, 1, 0, 10])
           for a in ev.evaluate(_tool(m, 40, errors))]
    assert [(a["status"], a["window_start"][14:16]) for a in out] == [
        ("firing", "01"), ("resolved", "07"), ("firing", "09")]
    assert out[0]["episode_id"] == out[1]["episode_id"] != out[2]["episode_id"]
    assert out[0]["alert_id"] == f"{out[0]['episode_id']}-firing"
    assert (out[0]["value"], out[0]["threshold"], out[0]["since"]) == (0.25, 0.2, "2026-11-25T10:01:00Z")


def test_hysteresis_keeps_a_flapping_signal_to_one_episode() -> None:
    """Bad, fine, bad, fine...: with clear_after=2 one firing and no resolution while it flaps;
    with fire_after=2 a single bad window never fires at all."""
    flapping = [_tool(m, 40, 20 if m % 2 == 0 else 0) for m in range(10)]
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, clear_after=2)])
    assert _run(ev, flapping) == [("firing", "00")]
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, fire_after=2)])
    assert _run(ev, flapping) == []
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, fire_after=2)])
    assert _run(ev, [_tool(0, 40, 0), _tool(1, 40, 20), _tool(2, 40, 20)]) == [("firing", "02")]
    assert ev.to_json()["episodes"][0][2] is not None  # since = the first bad window


def test_too_few_calls_never_fire_and_a_window_is_judged_once() -> None:
    """Below min_calls nothing fires; the same window again (a revision, a replay) is not judged."""
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, min_calls=20)])
    assert ev.evaluate(_tool(0, 5, 5)) == []
    assert len(ev.evaluate(_tool(1, 40, 30))) == 1
    assert ev.evaluate(_tool(1, 40, 30)) == []
    assert ev.evaluate(_tool(0, 40, 30)) == []  # an older window: a revision


def test_p95_rules_can_target_named_tools() -> None:
    """A p95 rule limited to one tool ignores the others."""
    ev = AlertEvaluator([Rule("slow", "p95_latency", threshold=1000, min_calls=1, tools=("run_tests",))])
    assert ev.evaluate(_tool(0, 5, 0, p95=9000, tool="pay")) == []
    (alert,) = ev.evaluate(_tool(0, 5, 0, p95=9000, tool="run_tests"))
    assert (alert["subject"], alert["kind"], alert["value"], alert["threshold"]) == (
        "run_tests", "p95_latency", 9000.0, 1000.0)


def test_a_volume_spike_is_judged_against_the_trailing_mean_with_a_minimum() -> None:
    """Steady ~100 events per window, then 500: a spike; warm-up windows and small ones never fire."""
    ev = AlertEvaluator([Rule("spike", "volume_spike", factor=3.0, min_calls=50, trailing_windows=5)])
    out = [a for m, n in enumerate([100, 110, 90, 105, 500]) for a in ev.evaluate(_volume(m, n))]
    assert [(a["status"], a["value"], a["threshold"]) for a in out] == [("firing", 500.0, 303.75)]
    quiet = AlertEvaluator([Rule("spike", "volume_spike", factor=3.0, min_calls=50)])
    assert _run(quiet, [_volume(m, n) for m, n in enumerate([2, 3, 2, 2, 40])]) == []


def test_a_tool_that_stops_being_called_resolves_after_its_missed_windows() -> None:
    """A firing tool absent from later windows (no data counts as fine) resolves, value None."""
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, clear_after=2)])
    assert _run(ev, [_tool(0, 40, 20), _tool(1, 40, 0, tool="other")]) == [("firing", "00")]
    (resolved,) = ev.evaluate(_tool(3, 40, 0, tool="other"))
    assert (resolved["status"], resolved["subject"], resolved["window_start"][14:16], resolved["value"]) \
        == ("resolved", "pay", "02", None)


def test_state_survives_a_restart_without_a_second_firing() -> None:
    """Restored from its snapshot, an evaluator mid-episode neither fires again nor forgets to resolve."""
    rule = Rule("err", "error_rate", threshold=0.2, clear_after=1)
    ev = AlertEvaluator([rule])
    ev.evaluate(_tool(0, 40, 20))
    again = AlertEvaluator.from_json([rule], ev.to_json())
    assert again.evaluate(_tool(1, 40, 20)) == []
    assert [a["status"] for a in again.evaluate(_tool(2, 40, 0))] == ["resolved"]


def test_rules_load_from_toml() -> None:
    """Each [[rule]] table becomes a Rule; tools become a tuple; the defaults are valid rules."""
    rules = load_rules('[[rule]]\nname = "p"\nkind = "p95_latency"\nthreshold = 5\ntools = ["a"]\n'
                       '[[rule]]\nname = "v"\nkind = "volume_spike"\nfactor = 4\nclear_after = 3\n')
    assert rules == [Rule("p", "p95_latency", threshold=5.0, tools=("a",)),
                     Rule("v", "volume_spike", factor=4.0, clear_after=3)]
    assert {r.kind for r in default_rules()} == {"error_rate", "p95_latency", "volume_spike"}


@pytest.mark.parametrize(("text", "message"), [
    ('[[rule]]\nname = "x"\nkind = "vibes"\n', "kind must be one of"),
    ('[[rule]]\nname = "x"\nkind = "error_rate"\n', "needs a threshold"),
    ('[[rule]]\nname = "x"\nkind = "error_rate"\nthreshold = 20\n', "fraction"),
    ('[[rule]]\nname = "x"\nkind = "error_rate"\nthreshold = 0.2\nthreshhold = 1\n', "unknown keys"),
    ('[[rule]]\nname = "x"\nkind = "volume_spike"\nclear_after = 0\n', "clear_after"),
    ('[[rule]]\nname = "x"\nkind = "volume_spike"\n[[rule]]\nname = "x"\nkind = "volume_spike"\n',
     "duplicate"),
    ('[rule]\nname = "x"\n', "rule"),
    ("[[rule]\n", "alert rules"),
])
def test_a_bad_rules_file_is_a_config_error_naming_the_problem(text: str, message: str) -> None:
    """Typos, unknown kinds, missing or absurd values fail at start-up, not at the first alert."""
    with pytest.raises(ConfigError, match=message):
        load_rules(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), max_size=40), st.integers(1, 3), st.integers(1, 3))
def test_any_signal_gives_alternating_firing_and_resolved_alerts_one_pair_per_episode(
        bad: list[bool], fire_after: int, clear_after: int) -> None:
    """Whatever the windows do: firing, resolved, firing... each episode id once per status, and a
    firing only after fire_after bad windows in a row."""
    ev = AlertEvaluator([Rule("err", "error_rate", threshold=0.2, fire_after=fire_after,
                              clear_after=clear_after)])
    alerts = [a for m, b in enumerate(bad) for a in ev.evaluate(_tool(m, 40, 20 if b else 0))]
    assert [a["status"] for a in alerts] == ["firing", "resolved"] * (len(alerts) // 2) + \
        ["firing"] * (len(alerts) % 2)
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    for a in alerts:
        if a["status"] == "firing":
            m = int(a["window_start"][14:16])
            assert all(bad[m - k] for k in range(fire_after))
