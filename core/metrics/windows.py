"""Per-partition tumbling windows on event time, closed by a watermark, emitted as partials.

The watermark is the highest event time seen minus the grace period; when a partition has been
idle for longer than the grace period (wall clock), ``close_due(now)`` lets wall-clock time stand
in, so an idle stream still closes its windows. Events for a window already closed are counted
as late (never silently lost). Dimensions are tools, models and kinds only — never users or
sessions — and distinct tools per window are capped, the rest counted under ``__overflow__``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.metrics.sketch import LogSketch

__all__ = ["OVERFLOW", "WindowAggregator"]

OVERFLOW = "__overflow__"


@dataclass
class _Tool:
    calls: int = 0
    errors: int = 0
    sketch: LogSketch = field(default_factory=LogSketch)


@dataclass
class _Window:
    tools: dict[str, _Tool] = field(default_factory=dict)
    models: dict[str, dict[str, float]] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)


@dataclass
class WindowAggregator:
    partition: int = 0
    size_s: int = 60
    grace_s: float = 10.0
    max_tools: int = 200
    windows: dict[int, _Window] = field(default_factory=dict)
    max_event_time: float = -math.inf
    closed_until: float = -math.inf  # every window ending at or before this was emitted
    last_event_wall: float = -math.inf
    late: int = 0
    overflowed: int = 0

    def observe(self, event: dict[str, Any], wall_now: float) -> None:
        t = _epoch(event["timestamp"])
        start = math.floor(t / self.size_s) * self.size_s
        if start + self.size_s <= self.closed_until:
            self.late += 1
            return
        self.max_event_time = max(self.max_event_time, t)
        self.last_event_wall = wall_now
        window = self.windows.setdefault(start, _Window())
        window.kinds[event["kind"]] += 1
        payload = event.get("payload", {})
        if event["kind"] == "tool_call":
            name = str(payload.get("tool_name", "unknown"))
            if name not in window.tools and len(window.tools) >= self.max_tools:
                name = OVERFLOW
                self.overflowed += 1
            tool = window.tools.setdefault(name, _Tool())
            tool.calls += 1
            tool.errors += payload.get("status") == "error"
            tool.sketch.observe(float(payload.get("duration_ms", 0.0)))
        elif event["kind"] == "output":
            meta = payload.get("metadata") or {}
            model = window.models.setdefault(str(meta.get("model") or "unknown"),
                                             {"outputs": 0, "tokens": 0, "cost": 0.0})
            model["outputs"] += 1
            model["tokens"] += int(meta.get("tokens_used") or 0)
            model["cost"] += float(meta.get("cost") or 0.0)

    def watermark(self, wall_now: float | None = None) -> float:
        mark = self.max_event_time - self.grace_s
        if wall_now is not None and wall_now - self.last_event_wall > self.grace_s:
            mark = max(mark, wall_now - self.grace_s)  # idle: let the clock close the windows
        return mark

    def close_due(self, wall_now: float | None = None) -> list[dict[str, Any]]:
        """Partials of every window whose end the watermark has passed, oldest first."""
        mark = self.watermark(wall_now)
        partials = []
        for start in sorted(s for s in self.windows if s + self.size_s <= mark):
            partials.append(self._partial(start, self.windows.pop(start)))
        if mark > self.closed_until:
            # Windows end on multiples of size: everything up to the watermark's floor is closed.
            self.closed_until = max(self.closed_until, math.floor(mark / self.size_s) * self.size_s)
        return partials

    def _partial(self, start: int, window: _Window) -> dict[str, Any]:
        return {
            "partition": self.partition, "window_start": start, "window_end": start + self.size_s,
            "tools": {n: {"calls": t.calls, "errors": t.errors, "sketch": t.sketch.to_json()}
                      for n, t in window.tools.items()},
            "models": window.models, "kinds": dict(window.kinds),
        }

    def to_json(self) -> dict[str, Any]:
        """A compact snapshot: open windows and counters (restoring never re-emits closed ones)."""
        return {
            "p": self.partition, "size": self.size_s, "grace": self.grace_s, "max_tools": self.max_tools,
            "open": [self._partial(s, w) for s, w in self.windows.items()],
            "max_t": _finite(self.max_event_time), "closed": _finite(self.closed_until),
            "late": self.late, "overflowed": self.overflowed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowAggregator:
        agg = cls(partition=int(data["p"]), size_s=int(data["size"]), grace_s=float(data["grace"]),
                  max_tools=int(data["max_tools"]), late=int(data["late"]),
                  overflowed=int(data["overflowed"]))
        agg.max_event_time = -math.inf if data["max_t"] is None else float(data["max_t"])
        agg.closed_until = -math.inf if data["closed"] is None else float(data["closed"])
        for part in data["open"]:
            agg.windows[int(part["window_start"])] = _Window(
                tools={n: _Tool(t["calls"], t["errors"], LogSketch.from_json(t["sketch"]))
                       for n, t in part["tools"].items()},
                models={m: dict(v) for m, v in part["models"].items()},
                kinds=Counter(part["kinds"]))
        return agg


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
