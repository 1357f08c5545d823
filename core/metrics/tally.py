"""What one window counted: per tool, per model and per event kind — never per user or session.

A partition's open window and the merger's combined window are the same ``WindowTally``; two
tallies merge exactly (counts add, sketches merge). Distinct tool and model names are capped per
window: a name beyond the cap is folded into ``OVERFLOW`` and the event counted in ``overflowed``.
A tool call whose ``duration_ms`` cannot be a latency (missing, negative, NaN) still counts as a
call and an error if it is one, and is counted in ``bad_durations`` instead of the sketch.
Token sums saturate at ``MAX_TOKENS`` (2**53): a tally always encodes as JSON and reads back exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent_audit.core.metrics.sketch import LogSketch

__all__ = ["MAX_TOKENS", "OVERFLOW", "ModelStats", "ToolStats", "WindowTally"]

OVERFLOW = "__overflow__"
MAX_TOKENS = 2**53
UNKNOWN = "unknown"

_S = TypeVar("_S")


@dataclass
class ToolStats:
    calls: int = 0
    errors: int = 0
    latency: LogSketch = field(default_factory=LogSketch)


@dataclass
class ModelStats:
    outputs: int = 0
    tokens: int = 0
    cost: float = 0.0


@dataclass
class WindowTally:
    tools: dict[str, ToolStats] = field(default_factory=dict)
    models: dict[str, ModelStats] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    overflowed: int = 0
    bad_durations: int = 0

    def add_event(self, event: dict[str, Any], max_tools: int, max_models: int) -> None:
        """Count one decoded v1 event (a dict as the contract dumps it)."""
        kind = str(event["kind"])
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "tool_call":
            payload = event.get("payload") or {}
            tool = self._slot(self.tools, str(payload.get("tool_name") or UNKNOWN), max_tools, ToolStats)
            tool.calls += 1
            if payload.get("status") == "error":
                tool.errors += 1
            try:
                tool.latency.observe(float(payload["duration_ms"]))
            except (KeyError, TypeError, ValueError):
                self.bad_durations += 1
        elif kind == "output":
            meta = (event.get("payload") or {}).get("metadata") or {}
            model = self._slot(self.models, str(meta.get("model") or UNKNOWN), max_models, ModelStats)
            model.outputs += 1
            model.tokens = min(model.tokens + int(_number(meta.get("tokens_used"))), MAX_TOKENS)
            model.cost += _number(meta.get("cost"))

    def _slot(self, table: dict[str, _S], name: str, cap: int, new: Callable[[], _S]) -> _S:
        slot = table.get(name)
        if slot is None:
            if len(table) >= cap:
                self.overflowed += 1
                name = OVERFLOW
                slot = table.get(name)
            if slot is None:
                slot = table[name] = new()
        return slot

    def merge(self, other: WindowTally) -> WindowTally:
        """A new tally holding both (neither input changes)."""
        out = WindowTally(kinds=dict(self.kinds), overflowed=self.overflowed + other.overflowed,
                          bad_durations=self.bad_durations + other.bad_durations)
        for kind, n in other.kinds.items():
            out.kinds[kind] = out.kinds.get(kind, 0) + n
        for name in self.tools.keys() | other.tools.keys():
            a, b = self.tools.get(name, ToolStats()), other.tools.get(name, ToolStats())
            out.tools[name] = ToolStats(a.calls + b.calls, a.errors + b.errors, a.latency.merge(b.latency))
        for name in self.models.keys() | other.models.keys():
            c, d = self.models.get(name, ModelStats()), other.models.get(name, ModelStats())
            out.models[name] = ModelStats(c.outputs + d.outputs, min(c.tokens + d.tokens, MAX_TOKENS),
                                          c.cost + d.cost)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "tools": {n: {"calls": t.calls, "errors": t.errors, "latency": t.latency.to_json()}
                      for n, t in sorted(self.tools.items())},
            "models": {n: {"outputs": m.outputs, "tokens": m.tokens, "cost": m.cost}
                       for n, m in sorted(self.models.items())},
            "kinds": dict(sorted(self.kinds.items())),
            "overflowed": self.overflowed, "bad_durations": self.bad_durations,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowTally:
        return cls(
            tools={n: ToolStats(int(t["calls"]), int(t["errors"]), LogSketch.from_json(t["latency"]))
                   for n, t in data["tools"].items()},
            models={n: ModelStats(int(m["outputs"]), int(m["tokens"]), float(m["cost"]))
                    for n, m in data["models"].items()},
            kinds={k: int(n) for k, n in data["kinds"].items()},
            overflowed=int(data.get("overflowed", 0)), bad_durations=int(data.get("bad_durations", 0)),
        )


def _number(value: Any) -> float:
    # Tokens and cost are validated upstream; a broken one must not stop the stream.
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return number if 0.0 <= number <= MAX_TOKENS else 0.0
