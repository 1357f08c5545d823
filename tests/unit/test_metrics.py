"""Windows + merge end to end: records equal an exact computation on generated data, through restarts."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from agent_audit.core.metrics import PartialMerger, WindowAggregator
from tests.factories import event

W0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()
PARTITIONS = 3


def _generate(rng: random.Random, n: int) -> list[tuple[int, float, dict[str, Any]]]:
    """n events over ~5 minutes as (partition, arrival wall time, event), each partition's events
    arriving up to 3 s out of order; tool calls with log-normal latencies, 0 ms ones, outputs."""
    out = []
    for i in range(n):
        at = W0 + i * 300 / n
        kind = rng.choices(["tool_call", "output", "reasoning"], [8, 2, 1])[0]
        ev = event(kind, i, at=datetime.fromtimestamp(at, UTC), session=f"s-{i % 7}")
        if kind == "tool_call":
            ms = 0.0 if rng.random() < 0.05 else rng.lognormvariate(3, 1.3)
            ev["payload"] = {"tool_name": rng.choice(["search", "fetch", "pay"]), "duration_ms": ms,
                             "status": "error" if rng.random() < 0.1 else "success"}
        elif kind == "output":
            ev["payload"]["metadata"] = {"model": rng.choice(["m1", "m2"]),
                                         "tokens_used": rng.randint(1, 500), "cost": rng.random() / 100}
        out.append((rng.randrange(PARTITIONS), at + rng.uniform(0, 3), ev))
    return sorted(out, key=lambda e: e[1])


def _truth(events: list[tuple[int, float, dict[str, Any]]]) -> dict[str, Any]:
    tools: dict[tuple[str, int], list[tuple[float, bool]]] = defaultdict(list)
    models: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    kinds: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, _, ev in events:
        start = int(datetime.fromisoformat(ev["timestamp"]).timestamp()) // 60 * 60
        kinds[start][ev["kind"]] += 1
        p = ev["payload"]
        if ev["kind"] == "tool_call":
            tools[(p["tool_name"], start)].append((p["duration_ms"], p["status"] == "error"))
        elif ev["kind"] == "output":
            m = models[(p["metadata"]["model"], start)]
            m[0], m[1], m[2] = m[0] + 1, m[1] + p["metadata"]["tokens_used"], m[2] + p["metadata"]["cost"]
    return {"tools": tools, "models": models, "kinds": kinds}


def _run(events: list[tuple[int, float, dict[str, Any]]], restart_at: int) -> list[dict[str, Any]]:
    """The two stages as the stream runs them, with every state snapshotted through JSON and
    restored after event ``restart_at`` (a kill -9 and restart), then idle ticks at the end."""
    aggs = [WindowAggregator(partition=p, size_s=60, grace_s=5) for p in range(PARTITIONS)]
    merger = PartialMerger(partitions=PARTITIONS)
    records: list[dict[str, Any]] = []

    def emit(agg: WindowAggregator, partials: list[dict[str, Any]], wall: float | None) -> None:
        for partial in partials:
            records.extend(merger.add_partial(json.loads(json.dumps(partial))))
        records.extend(merger.update_watermark(agg.partition, agg.watermark(wall)))

    for i, (partition, wall, ev) in enumerate(events):
        if i == restart_at:
            aggs = [WindowAggregator.from_json(json.loads(json.dumps(a.to_json()))) for a in aggs]
            merger = PartialMerger.from_json(json.loads(json.dumps(merger.to_json())))
        agg = aggs[partition]
        assert agg.observe(ev, wall_now=wall)
        emit(agg, agg.close_due(), None)
    for tick in range(1, 40):  # the idle timer, every 5 s after the last event
        for agg in aggs:
            emit(agg, agg.close_due(events[-1][1] + 5 * tick), events[-1][1] + 5 * tick)
    return records


@pytest.mark.parametrize("restart_at", [-1, 1234, 2999])
def test_records_equal_an_exact_computation_and_come_once_per_window(restart_at: int) -> None:
    """3 partitions, 3000 events, 5 windows, disorder within grace, a restart mid-window:
    calls, errors, tokens, cost, kinds exact; min/max exact; p50..p99 within 1%; one record each."""
    events = _generate(random.Random(7), 3000)
    truth = _truth(events)
    records = _run(events, restart_at)
    assert len({r["metric_id"] for r in records}) == len(records)  # once each, no revisions
    assert {r["revision"] for r in records} == {0}
    tools = {(r["tool"], _start(r)): r for r in records if r["type"] == "tool"}
    assert tools.keys() == truth["tools"].keys()
    for key, seen in truth["tools"].items():
        r, exact = tools[key], sorted(ms for ms, _ in seen)
        assert (r["calls"], r["errors"]) == (len(seen), sum(e for _, e in seen))
        lat = r["latency_ms"]
        assert (lat["min"], lat["max"]) == (exact[0], exact[-1])
        assert lat["mean"] == pytest.approx(sum(exact) / len(exact))
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
            want = exact[math.floor(q * (len(exact) - 1))]
            assert abs(lat[name] - want) <= 0.01 * want + 1e-9, (key, name)
    models = {(r["model"], _start(r)): r for r in records if r["type"] == "model"}
    assert models.keys() == truth["models"].keys()
    for key, (outputs, tokens, cost) in truth["models"].items():
        assert (models[key]["outputs"], models[key]["tokens"]) == (outputs, tokens)
        assert models[key]["cost"] == pytest.approx(cost)
    volume = {_start(r): r["kinds"] for r in records if r["type"] == "volume"}
    assert volume == {start: dict(k) for start, k in truth["kinds"].items()}


def _start(record: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(record["window_start"]).timestamp())
