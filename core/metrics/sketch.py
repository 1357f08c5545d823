"""A mergeable log-bucket sketch of latencies (DDSketch-style): quantiles within 1% relative error.

A value x falls in bucket k = ceil(log_gamma(x)) with gamma = (1 + a) / (1 - a), a = 0.01, so the
bucket is (gamma^(k-1), gamma^k]; its representative 2 gamma^k / (gamma + 1) is within ``a`` of
every value in it, hence any quantile is too. Durations at or below ``ZERO_MS`` (1 µs) count in a
zero bucket — 0 ms is common for cached tools and has no logarithm — so the guarantee is 1% or
1 µs, whichever is larger. Buckets of two sketches add up, which makes ``merge`` exact,
associative and commutative, with ``empty()`` as identity. Exact count, sum, min and max travel
beside the buckets (the sum is a float: merge order can move its last bits, nothing else).

Buckets live in one dense list from the lowest to the highest key seen: ``observe`` is an index
increment, ``to_json`` a list copy (it runs on every state snapshot), quantiles need no sort.
Values above ``MAX_MS`` (115 days: a broken clock or unit) are refused, which bounds the list to
~1,500 entries whatever a producer sends.

Serialized form, kept small because it rides in Kafka messages and state snapshots::

    {"n": count, "s": sum, "lo": min, "hi": max, "z": zeros, "o": first key, "c": [counts...]}

or, when fewer than half of the keys in range are used, ``"b": [k0, c0, dk1, c1, ...]`` in place of
``o`` and ``c``: each used key as its distance from the previous one, then its count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_MS", "RELATIVE_ACCURACY", "ZERO_MS", "LogSketch"]

RELATIVE_ACCURACY = 0.01
ZERO_MS = 1e-3
MAX_MS = 1e10
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_INV_LOG_GAMMA = 1.0 / math.log(_GAMMA)
_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))


@dataclass(eq=True)
class LogSketch:
    offset: int = 0  # the key of counts[0]
    counts: list[int] = field(default_factory=list)  # first and last entries are never 0
    zeros: int = 0
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    @classmethod
    def empty(cls) -> LogSketch:
        return cls()

    def observe(self, value: float) -> None:
        """Add one duration (ms). Raises ValueError for negative, NaN or absurdly large values."""
        if ZERO_MS < value <= MAX_MS:
            i = math.ceil(math.log(value) * _INV_LOG_GAMMA) - self.offset
            counts = self.counts
            if 0 <= i < len(counts):
                counts[i] += 1
            else:
                self._widen(i + self.offset)
        elif 0.0 <= value <= ZERO_MS:
            self.zeros += 1
        else:
            raise ValueError(f"not a duration: {value!r}")
        self.count += 1
        self.total += value
        if value < self.low:  # noqa: PLR1730 - min() costs ~80 ns more per event here
            self.low = value
        if value > self.high:  # noqa: PLR1730 - same for max()
            self.high = value

    def _widen(self, key: int) -> None:
        if not self.counts:
            self.offset, self.counts = key, [1]
        elif key < self.offset:
            self.counts[:0] = [1] + [0] * (self.offset - key - 1)
            self.offset = key
        else:
            self.counts += [0] * (key - self.offset - len(self.counts)) + [1]

    def merge(self, other: LogSketch) -> LogSketch:
        """A new sketch holding both (neither input changes)."""
        if not other.counts or not self.counts:
            offset, counts = (self.offset, list(self.counts)) if self.counts else \
                (other.offset, list(other.counts))
        else:
            offset = min(self.offset, other.offset)
            end = max(self.offset + len(self.counts), other.offset + len(other.counts))
            counts = [0] * (end - offset)
            for source in (self, other):
                base = source.offset - offset
                for j, n in enumerate(source.counts):
                    counts[base + j] += n
        return LogSketch(offset, counts, self.zeros + other.zeros, self.count + other.count,
                         self.total + other.total, min(self.low, other.low), max(self.high, other.high))

    def quantile(self, q: float) -> float | None:
        """The value at sorted index floor(q * (count - 1)), within 1%; None when empty."""
        return self._quantiles([q])[0] if self.count else None

    def _quantiles(self, qs: list[float]) -> list[float]:
        # One pass over the buckets for all ranks (qs ascending).
        ranks = [math.floor(q * (self.count - 1)) for q in qs]
        out: list[float] = []
        seen = self.zeros
        while len(out) < len(ranks) and ranks[len(out)] < seen:
            out.append(0.0)
        for j, n in enumerate(self.counts):
            seen += n
            while len(out) < len(ranks) and ranks[len(out)] < seen:
                estimate = 2 * _GAMMA ** (self.offset + j) / (_GAMMA + 1)
                out.append(min(max(estimate, self.low), self.high))  # never outside what was seen
        return out + [self.high] * (len(ranks) - len(out))

    def summarize(self) -> dict[str, float | int | None]:
        """count, min, mean, max, p50, p90, p95, p99 (ms); all but count are None when empty."""
        if self.count == 0:
            return {"count": 0, "min": None, "mean": None, "max": None,
                    **dict.fromkeys(name for name, _ in _QUANTILES)}
        values = self._quantiles([q for _, q in _QUANTILES])
        return {"count": self.count, "min": self.low, "mean": self.total / self.count, "max": self.high,
                **{name: v for (name, _), v in zip(_QUANTILES, values, strict=True)}}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.count, "s": self.total, "lo": self.low if self.count else None,
                               "hi": self.high if self.count else None, "z": self.zeros}
        span = len(self.counts)
        if 2 * (span - self.counts.count(0)) >= span:
            out["o"], out["c"] = self.offset, list(self.counts)
            return out
        flat: list[int] = []
        previous = 0
        for j, n in enumerate(self.counts):
            if n:
                flat += (self.offset + j - previous if flat else self.offset + j, n)
                previous = self.offset + j
        out["b"] = flat
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogSketch:
        n = int(data["n"])
        sketch = cls(0, [], int(data["z"]), n, float(data["s"]),
                     float(data["lo"]) if n else math.inf, float(data["hi"]) if n else -math.inf)
        if "c" in data:
            sketch.offset, sketch.counts = int(data["o"]), [int(c) for c in data["c"]]
            return sketch
        flat, key = data["b"], 0
        for i in range(0, len(flat), 2):
            key = int(flat[i]) if i == 0 else key + int(flat[i])
            sketch._widen(key)
            sketch.counts[key - sketch.offset] = int(flat[i + 1])
        return sketch
