"""The latency sketch: an exact merge algebra, 1% quantiles, zeros, a compact JSON round trip."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.metrics import LogSketch

# Latencies as they come: many zeros and sub-millisecond values, a long tail up to hours.
durations = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e7), st.integers(0, 5000))
samples = st.lists(durations.map(float), max_size=80)


def _sketch(xs: list[float]) -> LogSketch:
    s = LogSketch.empty()
    for x in xs:
        s.observe(x)
    return s


def _same(a: LogSketch, b: LogSketch) -> bool:
    """Equal but for the float sum, whose last bits depend on the order of additions."""
    return (a.offset, a.counts, a.zeros, a.count, a.low, a.high) == \
        (b.offset, b.counts, b.zeros, b.count, b.low, b.high) \
        and math.isclose(a.total, b.total, rel_tol=1e-12, abs_tol=1e-9)


def _exact(xs: list[float], q: float) -> float:
    return sorted(xs)[math.floor(q * (len(xs) - 1))]


@settings(max_examples=200, deadline=None)
@given(samples, samples, samples)
def test_merge_is_associative_and_commutative_with_empty_as_identity(
        a: list[float], b: list[float], c: list[float]) -> None:
    """(a+b)+c == a+(b+c), a+b == b+a, a+empty == a, and a+b is the sketch of both samples."""
    sa, sb, sc = _sketch(a), _sketch(b), _sketch(c)
    assert _same(sa.merge(sb).merge(sc), sa.merge(sb.merge(sc)))
    assert sa.merge(sb) == sb.merge(sa)
    assert sa.merge(LogSketch.empty()) == sa == LogSketch.empty().merge(sa)
    assert _same(sa.merge(sb), _sketch(a + b))


@settings(max_examples=300, deadline=None)
@given(samples.filter(bool), st.sampled_from([0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_every_quantile_is_within_one_percent_of_the_exact_one(xs: list[float], q: float) -> None:
    """The value at sorted index floor(q(n-1)) is estimated within 1% or 1 µs (the zero bucket)."""
    estimate = _sketch(xs).quantile(q)
    exact = _exact(xs, q)
    assert estimate is not None
    assert abs(estimate - exact) <= 0.01 * exact + 1e-3


@settings(max_examples=200, deadline=None)
@given(samples)
def test_count_sum_min_max_are_exact_and_json_round_trips(xs: list[float]) -> None:
    """count, sum, min, max are exact; to_json is plain JSON and from_json gives the same sketch."""
    s = _sketch(xs)
    summary = s.summarize()
    assert summary["count"] == len(xs)
    assert summary["min"] == (min(xs) if xs else None)
    assert summary["max"] == (max(xs) if xs else None)
    assert s.total == pytest.approx(math.fsum(xs))
    text = json.dumps(s.to_json(), allow_nan=False)
    assert LogSketch.from_json(json.loads(text)) == s


def test_a_large_log_normal_sample_keeps_every_reported_quantile_within_one_percent() -> None:
    """20k log-normal latencies (a real tail): p50/p90/p95/p99 all within 1% of exact."""
    rng = random.Random(3)
    xs = [rng.lognormvariate(4, 1.5) for _ in range(20_000)]
    summary = _sketch(xs).summarize()
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        assert summary[name] == pytest.approx(_exact(xs, q), rel=0.01)
    assert summary["mean"] == pytest.approx(sum(xs) / len(xs))


def test_zero_durations_have_their_own_bucket() -> None:
    """0 ms calls (cached tools) count, and a quantile that falls on them is exactly 0."""
    s = _sketch([0.0] * 60 + [10.0] * 40)
    assert (s.zeros, s.count, s.quantile(0.5), s.quantile(0.99)) == (60, 100, 0.0, 10.0)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, 1.1e10])
def test_values_that_cannot_be_durations_are_refused(bad: float) -> None:
    """Negative, NaN and infinite values raise ValueError and leave the sketch unchanged."""
    s = _sketch([5.0])
    with pytest.raises(ValueError, match="not a duration"):
        s.observe(bad)
    assert s == _sketch([5.0])


@pytest.mark.parametrize(("sample", "most_bytes"), [
    ([random.Random(i).lognormvariate(4, 1.0) for i in range(10_000)], 1200),  # dense
    ([0.002, 1.0, 1e6, 1e10], 100),  # a few calls far apart: sparse
])
def test_the_serialized_form_is_compact_dense_or_sparse(sample: list[float], most_bytes: int) -> None:
    """Busy tools serialize one count per key in range; sparse ones only the keys they use."""
    s = _sketch(sample)
    text = json.dumps(s.to_json(), separators=(",", ":"))
    assert len(text) < most_bytes
    assert LogSketch.from_json(json.loads(text)) == s
