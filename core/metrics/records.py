"""Metric records: what a finalized window becomes on ``agent.metrics``.

One record per tool, per model and one volume record per window, each with a deterministic
``metric_id`` (the same window always gets the same id, so a re-sent or revised record replaces
itself in Elasticsearch). Shapes — the metrics index mapping is strict, so a new field goes there
first::

    {"type": "tool", "metric_id", "revision", "window_start", "window_end", "tool", "calls",
     "errors", "error_rate", "latency_ms": {"count", "min", "mean", "max", "p50", "p90", "p95", "p99"}}
    {"type": "model", "metric_id", "revision", "window_start", "window_end", "model", "outputs",
     "tokens", "cost"}
    {"type": "volume", "metric_id", "revision", "window_start", "window_end", "kinds": {kind: n},
     "events"}

Times are RFC 3339 UTC text ("2026-11-25T10:00:00Z"); latencies are milliseconds.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from agent_audit.core.metrics.tally import WindowTally

__all__ = ["iso", "metric_id", "window_records"]


def metric_id(kind: str, name: str, window_start: int, window_end: int) -> str:
    """Deterministic id of one record: the window length is in it, so a resized window never collides."""
    return hashlib.sha256(f"{kind}|{name}|{window_start}|{window_end}".encode()).hexdigest()[:24]


def window_records(start: int, end: int, tally: WindowTally, revision: int = 0) -> list[dict[str, Any]]:
    """Tool records (by name), then model records, then the volume record of one window."""
    base = {"window_start": iso(start), "window_end": iso(end), "revision": revision}
    records: list[dict[str, Any]] = [
        {"type": "tool", "metric_id": metric_id("tool", name, start, end), **base, "tool": name,
         "calls": t.calls, "errors": t.errors, "error_rate": t.errors / t.calls if t.calls else 0.0,
         "latency_ms": t.latency.summarize()}
        for name, t in sorted(tally.tools.items())]
    records += [
        {"type": "model", "metric_id": metric_id("model", name, start, end), **base, "model": name,
         "outputs": m.outputs, "tokens": m.tokens, "cost": m.cost}
        for name, m in sorted(tally.models.items())]
    records.append({"type": "volume", "metric_id": metric_id("volume", "all", start, end), **base,
                    "kinds": dict(sorted(tally.kinds.items())), "events": sum(tally.kinds.values())})
    return records


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
