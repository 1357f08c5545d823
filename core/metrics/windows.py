"""Per-partition tumbling windows on event time, closed by a watermark, emitted as partials.

Windows are ``[k * size_s, (k + 1) * size_s)`` in epoch seconds. The watermark is the highest event
time seen minus ``grace_s``; a window closes (its partial is emitted, once) when its end is at or
below the watermark, and the watermark never goes back. An event whose window has closed is
*late*: counted in ``counts["late"]``, never silently lost, never reopening a window.

Idle partitions: after ``idle_s`` (default: ``grace_s``) of wall-clock quiet — no event counted —
the watermark may move to ``wall_now - grace_s``, so a quiet partition still closes its windows
and still lets the merger finalize the other partitions' windows. The quiet clock starts at the
first call with a wall time after creation or restore — never from a restored value — so a
restarted worker has ``idle_s`` to get its backlog redelivered before idleness can close the
windows that backlog belongs to (raise ``idle_s`` if that takes longer). ``grace_s`` should cover
the producers' clock skew: on an idle partition, an event more than ``grace_s`` behind the
worker's clock may find its window closed (counted as late).

Clock skew: an event more than ``max_skew_s`` ahead of the wall clock is counted in
``counts["future"]`` and placed at the wall time, so one bad producer clock cannot close every
window of its partition ahead of time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent_audit.core.metrics.tally import WindowTally

__all__ = ["SNAPSHOT_VERSION", "WindowAggregator", "event_time"]

SNAPSHOT_VERSION = 2
_COUNTERS = ("late", "future", "windows_closed", "overflowed", "bad_durations")


@dataclass
class WindowAggregator:
    partition: int = 0
    size_s: int = 60
    grace_s: float = 10.0
    max_tools: int = 200
    max_models: int = 50
    max_skew_s: float | None = 300.0
    idle_s: float | None = None  # quiet before the wall clock moves the watermark; None: grace_s
    windows: dict[int, WindowTally] = field(default_factory=dict)
    max_event_time: float = -math.inf
    mark: float = -math.inf  # the watermark; windows ending at or before it are closed
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    # Wall time the partition went quiet; None until the first call after creation or restore.
    quiet_since: float | None = field(default=None, compare=False)

    def observe(self, event: dict[str, Any], wall_now: float | None = None) -> bool:
        """Count one decoded event; False when it was late (its window already closed)."""
        t = event_time(event["timestamp"])
        if self.max_skew_s is not None and wall_now is not None and t > wall_now + self.max_skew_s:
            self.counts["future"] += 1
            t = wall_now
        start = int(t // self.size_s) * self.size_s
        if start + self.size_s <= self.mark:
            self.counts["late"] += 1
            return False
        if t > self.max_event_time:  # noqa: PLR1730 - per event: max() costs ~80 ns more
            self.max_event_time = t
        if wall_now is not None:
            self.quiet_since = wall_now
        window = self.windows.get(start)
        if window is None:
            window = self.windows[start] = WindowTally()
        window.add_event(event, self.max_tools, self.max_models)
        return True

    def advance(self, wall_now: float | None = None) -> float:
        """Move the watermark (by event time, and by the wall clock if idle); return it."""
        mark = self.max_event_time - self.grace_s
        if wall_now is not None:
            if self.quiet_since is None:
                self.quiet_since = wall_now
            if wall_now - self.quiet_since > (self.grace_s if self.idle_s is None else self.idle_s):
                mark = max(mark, wall_now - self.grace_s)
        self.mark = max(self.mark, mark)
        return self.mark

    watermark = advance  # the name the stream glue uses

    def close_due(self, wall_now: float | None = None) -> list[dict[str, Any]]:
        """Advance, then pop the partial of every window the watermark has passed, oldest first."""
        mark = self.advance(wall_now)
        due = sorted(s for s in self.windows if s + self.size_s <= mark)
        partials = []
        for start in due:
            tally = self.windows.pop(start)
            self.counts["windows_closed"] += 1
            self.counts["overflowed"] += tally.overflowed
            self.counts["bad_durations"] += tally.bad_durations
            partials.append({"partition": self.partition, "window_start": start,
                             "window_end": start + self.size_s, **tally.to_json()})
        return partials

    def to_json(self) -> dict[str, Any]:
        """A compact snapshot: settings, open windows, watermark, counters."""
        return {
            "v": SNAPSHOT_VERSION, "partition": self.partition, "size_s": self.size_s,
            "grace_s": self.grace_s, "max_tools": self.max_tools, "max_models": self.max_models,
            "max_skew_s": self.max_skew_s, "idle_s": self.idle_s, "mark": _finite(self.mark),
            "max_t": _finite(self.max_event_time), "counts": dict(self.counts),
            "open": {str(s): w.to_json() for s, w in sorted(self.windows.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowAggregator:
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"window snapshot version {data.get('v')!r}, expected {SNAPSHOT_VERSION}")
        skew, idle = data["max_skew_s"], data.get("idle_s")
        return cls(
            partition=int(data["partition"]), size_s=int(data["size_s"]), grace_s=float(data["grace_s"]),
            max_tools=int(data["max_tools"]), max_models=int(data["max_models"]),
            max_skew_s=None if skew is None else float(skew), idle_s=None if idle is None else float(idle),
            windows={int(s): WindowTally.from_json(w) for s, w in data["open"].items()},
            max_event_time=_infinite(data["max_t"]), mark=_infinite(data["mark"]),
            counts={**dict.fromkeys(_COUNTERS, 0), **{k: int(n) for k, n in data["counts"].items()}},
        )


def event_time(ts: str | datetime | float) -> float:
    """Epoch seconds of an event timestamp (RFC 3339 text as the contract dumps it, or a datetime)."""
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)  # 3.11 reads the trailing "Z"
    if isinstance(ts, datetime):
        # A naive time is taken as UTC, never as the worker's local time.
        return (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)).timestamp()
    return float(ts)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _infinite(x: float | None) -> float:
    return -math.inf if x is None else float(x)
