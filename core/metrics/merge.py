"""Merge per-partition partials into metric records, final once every partition's watermark agrees.

A window is finalized when a watermark has been heard from every partition ``0..partitions-1``
and the lowest of them (any extra partitions included) is at or past the window's end: then each
of its records goes out once, with ``revision`` 0. Partials are keyed by (window, partition), so a
replayed partial (at-least-once delivery) replaces itself instead of counting twice; an identical
one after finalization changes nothing. A *different* partial for a finalized window (a late
partition, or a replay that saw more) revises it: only the records whose content changed go out
again, same ``metric_id``, ``revision`` + 1 (the sink keeps the highest revision).

Finalized windows are remembered for revisions while they are among the last ``keep_windows``;
a partial for a window older than that is dropped and counted in ``counts["dropped"]`` — it can no
longer be merged with its siblings, and re-emitting it alone would overwrite a correct record.
Parts are merged in partition order, so float sums do not move and cause spurious revisions.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from agent_audit.core.metrics.records import window_records
from agent_audit.core.metrics.tally import WindowTally

__all__ = ["PartialMerger"]

SNAPSHOT_VERSION = 2
_COUNTERS = ("partials", "replayed", "revisions", "dropped", "records")


@dataclass
class _Window:
    end: int
    parts: dict[int, dict[str, Any]] = field(default_factory=dict)  # partition -> tally JSON
    emitted: dict[str, list[Any]] = field(default_factory=dict)  # metric_id -> [revision, digest]


@dataclass
class PartialMerger:
    partitions: int
    keep_windows: int = 30
    watermarks: dict[int, float] = field(default_factory=dict)
    pending: dict[int, _Window] = field(default_factory=dict)
    finalized: dict[int, _Window] = field(default_factory=dict)
    forgotten_until: float = -math.inf  # windows ending at or before this are beyond revision
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))

    def add_partial(self, partial: dict[str, Any]) -> list[dict[str, Any]]:
        """Take one partial (as ``WindowAggregator.close_due`` made it); return records now due."""
        start, end, partition = int(partial["window_start"]), int(partial["window_end"]), \
            int(partial["partition"])
        tally = WindowTally.from_json(partial).to_json()  # canonical: foreign keys dropped
        self.counts["partials"] += 1
        if end <= self.forgotten_until:
            self.counts["dropped"] += 1
            return []
        done = self.finalized.get(start)
        if done is not None:
            if done.parts.get(partition) == tally:
                self.counts["replayed"] += 1
                return []
            done.parts[partition] = tally
            return self._emit(start, done)
        if self.pending.setdefault(start, _Window(end)).parts.get(partition) == tally:
            self.counts["replayed"] += 1
        self.pending[start].parts[partition] = tally
        return self._finalize_due()

    def update_watermark(self, partition: int, watermark: float | None) -> list[dict[str, Any]]:
        """Record a partition's watermark (it never goes back); return records now due."""
        if watermark is None or not math.isfinite(watermark):
            return []  # a partition that knows nothing yet promises nothing
        self.watermarks[partition] = max(self.watermarks.get(partition, -math.inf), watermark)
        return self._finalize_due()

    def low_watermark(self) -> float:
        """Every window ending at or before this is final; -inf until all partitions spoke."""
        if not self.watermarks or any(p not in self.watermarks for p in range(self.partitions)):
            return -math.inf
        return min(self.watermarks.values())

    def _finalize_due(self) -> list[dict[str, Any]]:
        low = self.low_watermark()
        out: list[dict[str, Any]] = []
        for start in sorted(s for s, w in self.pending.items() if w.end <= low):
            window = self.finalized[start] = self.pending.pop(start)
            out += self._emit(start, window)
        while len(self.finalized) > self.keep_windows:
            oldest = min(self.finalized)
            self.forgotten_until = max(self.forgotten_until, self.finalized.pop(oldest).end)
        return out

    def _emit(self, start: int, window: _Window) -> list[dict[str, Any]]:
        merged = WindowTally()
        for partition in sorted(window.parts):
            merged = merged.merge(WindowTally.from_json(window.parts[partition]))
        out = []
        for record in window_records(start, window.end, merged):
            digest = _digest(record)
            previous = window.emitted.get(record["metric_id"])
            if previous is not None and previous[1] == digest:
                continue
            revision = 0 if previous is None else int(previous[0]) + 1
            window.emitted[record["metric_id"]] = [revision, digest]
            self.counts["revisions"] += revision > 0
            out.append({**record, "revision": revision})
        self.counts["records"] += len(out)
        return out

    def to_json(self) -> dict[str, Any]:
        def window(w: _Window) -> dict[str, Any]:
            return {"end": w.end, "parts": {str(p): t for p, t in sorted(w.parts.items())},
                    "emitted": w.emitted}

        return {"v": SNAPSHOT_VERSION, "partitions": self.partitions, "keep_windows": self.keep_windows,
                "watermarks": {str(p): w for p, w in sorted(self.watermarks.items())},
                "pending": {str(s): window(w) for s, w in sorted(self.pending.items())},
                "finalized": {str(s): window(w) for s, w in sorted(self.finalized.items())},
                "forgotten_until": None if math.isinf(self.forgotten_until) else self.forgotten_until,
                "counts": dict(self.counts)}

    @classmethod
    def from_json(cls, data: dict[str, Any], partitions: int | None = None) -> PartialMerger:
        """Restore; ``partitions`` overrides the saved count (the raw topic may have grown)."""
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"merger snapshot version {data.get('v')!r}, expected {SNAPSHOT_VERSION}")

        def window(d: dict[str, Any]) -> _Window:
            return _Window(int(d["end"]), {int(p): t for p, t in d["parts"].items()},
                           {k: list(v) for k, v in d["emitted"].items()})

        forgotten = data["forgotten_until"]
        return cls(
            partitions=int(data["partitions"]) if partitions is None else partitions,
            keep_windows=int(data["keep_windows"]),
            watermarks={int(p): float(w) for p, w in data["watermarks"].items()},
            pending={int(s): window(w) for s, w in data["pending"].items()},
            finalized={int(s): window(w) for s, w in data["finalized"].items()},
            forgotten_until=-math.inf if forgotten is None else float(forgotten),
            counts={**dict.fromkeys(_COUNTERS, 0), **{k: int(n) for k, n in data["counts"].items()}},
        )


def _digest(record: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != "revision"}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
