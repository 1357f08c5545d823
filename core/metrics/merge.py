"""Merge per-partition partials into one record per (tool, window), final once all partitions agree.

A window is finalized when every partition's watermark has passed its end. A partial that
arrives for a finalized window (a late partition) revises its records: same ``metric_id``, higher
``revision``; sinks keep the highest revision. Partials are keyed by (window, partition), so a
replayed partial (at-least-once delivery) replaces itself instead of counting twice.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.metrics.sketch import LogSketch

__all__ = ["PartialMerger", "metric_id"]

KEEP_FINALIZED = 60  # windows remembered for revisions (an hour of 60 s windows)


def metric_id(kind: str, name: str, window_start: int) -> str:
    return hashlib.sha256(f"{kind}|{name}|{window_start}".encode()).hexdigest()[:24]


@dataclass
class PartialMerger:
    partitions: int
    watermarks: dict[int, float] = field(default_factory=dict)
    pending: dict[int, dict[int, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    finalized: dict[int, dict[str, Any]] = field(default_factory=dict)  # start -> {"rev", "parts"}

    def add_partial(self, partial: dict[str, Any]) -> list[dict[str, Any]]:
        start, partition = int(partial["window_start"]), int(partial["partition"])
        done = self.finalized.get(start)
        if done is not None:
            if done["parts"].get(str(partition)) == partial:
                return []  # a replay of what was already counted
            done["parts"][str(partition)] = partial
            done["rev"] += 1
            return self._records(start, partial["window_end"], list(done["parts"].values()), done["rev"])
        self.pending[start][partition] = partial
        return self._finalize_due()

    def update_watermark(self, partition: int, watermark: float) -> list[dict[str, Any]]:
        self.watermarks[partition] = max(self.watermarks.get(partition, -math.inf), watermark)
        return self._finalize_due()

    def _finalize_due(self) -> list[dict[str, Any]]:
        if len(self.watermarks) < self.partitions:
            return []  # a partition never heard from could still hold events of any window
        low = min(self.watermarks.values())
        out: list[dict[str, Any]] = []
        for start in sorted(self.pending):
            parts = self.pending[start]
            end = next(iter(parts.values()))["window_end"]
            if end > low:
                break
            del self.pending[start]
            self.finalized[start] = {"rev": 0, "parts": {str(p): v for p, v in parts.items()}}
            out += self._records(start, end, list(parts.values()), 0)
        for old in sorted(self.finalized)[:-KEEP_FINALIZED]:
            del self.finalized[old]
        return out

    def _records(self, start: int, end: int, parts: list[dict[str, Any]], rev: int) -> list[dict[str, Any]]:
        tools: dict[str, list[Any]] = {}
        models: dict[str, dict[str, float]] = {}
        kinds: dict[str, int] = defaultdict(int)
        for part in parts:
            for name, t in part["tools"].items():
                acc = tools.setdefault(name, [0, 0, LogSketch()])
                acc[0] += t["calls"]
                acc[1] += t["errors"]
                acc[2] = acc[2].merge(LogSketch.from_json(t["sketch"]))
            for name, m in part["models"].items():
                acc_m = models.setdefault(name, {"outputs": 0, "tokens": 0, "cost": 0.0})
                for k in acc_m:
                    acc_m[k] += m[k]
            for kind, n in part["kinds"].items():
                kinds[kind] += n
        base = {"window_start": _iso(start), "window_end": _iso(end), "revision": rev}
        records = [{**base, "type": "tool", "metric_id": metric_id("tool", name, start), "tool": name,
                    "calls": calls, "errors": errors, "error_rate": errors / calls if calls else 0.0,
                    "latency_ms": sketch.summarize()}
                   for name, (calls, errors, sketch) in sorted(tools.items())]
        records += [{**base, "type": "model", "metric_id": metric_id("model", name, start), "model": name,
                     **values} for name, values in sorted(models.items())]
        records.append({**base, "type": "volume", "metric_id": metric_id("volume", "all", start),
                        "kinds": dict(kinds), "events": sum(kinds.values())})
        return records

    def to_json(self) -> dict[str, Any]:
        return {"partitions": self.partitions,
                "watermarks": {str(p): w for p, w in self.watermarks.items()},
                "pending": {str(s): {str(p): v for p, v in parts.items()}
                            for s, parts in self.pending.items()},
                "finalized": {str(s): v for s, v in self.finalized.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartialMerger:
        merger = cls(int(data["partitions"]), {int(p): float(w) for p, w in data["watermarks"].items()})
        for s, parts in data["pending"].items():
            merger.pending[int(s)] = {int(p): v for p, v in parts.items()}
        merger.finalized = {int(s): v for s, v in data["finalized"].items()}
        return merger


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
