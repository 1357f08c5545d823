"""A mergeable log-bucket sketch of latencies (DDSketch-style): quantiles within 1% relative error.

A value x > 0 falls in bucket ceil(log_gamma(x)) with gamma = (1 + a) / (1 - a); every value of a
bucket is within ``a`` of the bucket's representative, so any quantile is too. Buckets of two
sketches add up, which makes ``merge`` exact, associative and commutative, with ``empty`` as
identity. Exact count, sum, min and max travel beside the buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LogSketch"]

ALPHA = 0.01
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
_TINY = 1e-9  # at or below this a duration counts as zero


@dataclass
class LogSketch:
    buckets: dict[int, int] = field(default_factory=dict)
    zeros: int = 0
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        if value <= _TINY:
            self.zeros += 1
        else:
            key = math.ceil(math.log(value) / _LOG_GAMMA)
            self.buckets[key] = self.buckets.get(key, 0) + 1

    def merge(self, other: LogSketch) -> LogSketch:
        """A new sketch holding both (neither input changes)."""
        buckets = dict(self.buckets)
        for k, n in other.buckets.items():
            buckets[k] = buckets.get(k, 0) + n
        return LogSketch(buckets, self.zeros + other.zeros, self.count + other.count,
                         self.total + other.total, min(self.low, other.low), max(self.high, other.high))

    def quantile(self, q: float) -> float | None:
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        if rank < self.zeros:
            return 0.0
        seen = self.zeros
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen > rank:
                estimate = 2 * _GAMMA**key / (_GAMMA + 1)
                return min(max(estimate, self.low), self.high)  # never outside what was seen
        return self.high

    def summarize(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "min": self.low if self.count else None,
            "mean": self.total / self.count if self.count else None,
            "max": self.high if self.count else None,
            **{f"p{int(q * 100)}": self.quantile(q) for q in (0.5, 0.9, 0.95, 0.99)},
        }

    def to_json(self) -> dict[str, Any]:
        return {"b": [[k, n] for k, n in sorted(self.buckets.items())], "z": self.zeros,
                "n": self.count, "s": self.total, "lo": self.low if self.count else None,
                "hi": self.high if self.count else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogSketch:
        n = int(data["n"])
        return cls({int(k): int(c) for k, c in data["b"]}, int(data["z"]), n, float(data["s"]),
                   float(data["lo"]) if n else math.inf, float(data["hi"]) if n else -math.inf)
