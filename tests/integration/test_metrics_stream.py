"""Windowed tool metrics through the real stream: one record per (tool, window), equal to exact values."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import metrics_alias
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import read_topic, wait_for_count


def _generate(settings: Settings, n: int) -> tuple[dict[tuple[str, str], list[tuple[float, bool]]],
                                                  list[tuple[int, bytes]]]:
    """n tool calls 0.12 s apart from a minute boundary 10 minutes ago: the truth and envelopes."""
    rng = random.Random(5)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    truth: dict[tuple[str, str], list[tuple[float, bool]]] = {}
    envelopes: list[tuple[int, bytes]] = []
    seqs: dict[str, int] = {}
    for i in range(n):
        session = f"m-{i % 9}"
        at = t0 + timedelta(seconds=i * 0.12)
        tool, ms, err = rng.choice(["search", "fetch"]), rng.lognormvariate(4, 0.8), rng.random() < 0.1
        seq = seqs.get(session, 0)
        seqs[session] = seq + 1
        ev = event("tool_call", seq, session=session, at=at)
        ev["payload"] = {"tool_name": tool, "duration_ms": ms, "status": "error" if err else "success"}
        window = at.replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")
        truth.setdefault((tool, window), []).append((ms, err))
        envelopes.append((partition_for(session, settings.raw_partitions), orjson.dumps(ev)))
    return truth, envelopes


def _publish(settings: Settings, lines: list[tuple[int, bytes]]) -> None:
    by_partition: dict[int, list[bytes]] = {}
    for p, line in lines:
        by_partition.setdefault(p, []).append(line)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for p, ls in by_partition.items():
        for k in range(0, len(ls), 50):
            producer.produce(settings.topics.raw, value=join_envelope(ls[k:k + 50]), partition=p)
    assert producer.flush(30) == 0


def _check(records: list[dict], truth: dict[tuple[str, str], list[tuple[float, bool]]]) -> None:  # type: ignore[type-arg]
    tools = [r for r in records if r["type"] == "tool"]
    assert sorted((r["tool"], r["window_start"]) for r in tools) == sorted(truth)  # one per key
    for r in tools:
        seen = truth[(r["tool"], r["window_start"])]
        exact = sorted(ms for ms, _ in seen)
        assert r["calls"] == len(seen)
        assert r["errors"] == sum(e for _, e in seen)
        assert r["latency_ms"]["p95"] == pytest.approx(exact[int(0.95 * (len(exact) - 1))], rel=0.0101)
        assert r["latency_ms"]["max"] == pytest.approx(exact[-1])


@pytest.mark.timeout(300)
def test_a_kill_9_mid_window_and_a_restart_still_give_one_correct_record_per_window(
        settings: Settings, tmp_path: Path) -> None:
    """SIGKILL of the stream after half the events; restart; the rest: records exact, none twice."""
    fast = dataclasses.replace(settings, window_s=60, window_grace_s=2)
    truth, lines = _generate(fast, 1500)
    _publish(fast, lines[:700])
    with running_workers(fast.to_env(), tmp_path, names=("stream",)) as workers:
        read_topic(fast, fast.topics.events, expected=700, timeout=60)
        workers.kill("stream")
        _publish(fast, lines[700:])
        workers.start("stream", {**os.environ, **fast.to_env()})
        read_topic(fast, fast.topics.metrics, expected=len(truth) + 3, timeout=90)
        time.sleep(4)
        records = [orjson.loads(m.value()) for m in read_topic(fast, fast.topics.metrics, 10_000, timeout=5)]
    by_id: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for r in records:
        by_id.setdefault(r["metric_id"], []).append(r)
    # A record may be re-sent after the kill (at-least-once), but every copy is the same record.
    assert all(len({orjson.dumps(c) for c in copies}) == 1 for copies in by_id.values())
    _check([copies[0] for copies in by_id.values()], truth)


@pytest.mark.timeout(300)
def test_metric_records_equal_an_exact_computation(settings: Settings, es: Elasticsearch,
                                                   tmp_path: Path) -> None:
    """Tool calls over 3 windows on 3 partitions -> per (tool, window): calls, errors exact; p95 ~1%.

    The sink indexes each record once into the metrics indices (id = metric_id).
    """
    fast = dataclasses.replace(settings, window_s=60, window_grace_s=2)
    truth, lines = _generate(fast, 1500)
    _publish(fast, lines)

    volume_records = 3  # one per window: 1500 events, 0.12 s apart, from a minute boundary
    with running_workers(fast.to_env(), tmp_path) as workers:
        read_topic(fast, fast.topics.metrics, expected=len(truth) + volume_records, timeout=90)
        time.sleep(4)  # a duplicate or a revision would have arrived by now
        records = read_topic(fast, fast.topics.metrics, expected=10_000, timeout=5)
        stored = wait_for_count(es, metrics_alias(fast.index_prefix), len(records), workers)
    assert len(records) == len(truth) + volume_records
    assert stored == len(records)
    _check([orjson.loads(m.value()) for m in records], truth)


@pytest.mark.timeout(300)
def test_a_failing_tool_fires_one_alert_that_is_published_indexed_and_posted(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Half the calls of one tool fail in a window: one firing alert on agent.alerts, in ES, and
    POSTed to the webhook (a local receiver that fails its first request, to exercise the retry)."""
    received: list[dict] = []  # type: ignore[type-arg]
    calls = {"n": 0}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls["n"] += 1
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if calls["n"] == 1:
                self.send_response(503)
            else:
                received.append(orjson.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rules = tmp_path / "alerts.toml"
    rules.write_text('[[rule]]\nname = "err"\nkind = "error_rate"\nthreshold = 0.2\nmin_calls = 20\n')
    fast = dataclasses.replace(settings, window_s=60, window_grace_s=2, alert_rules_path=str(rules),
                               alert_webhook=f"http://127.0.0.1:{server.server_port}/hook")
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    lines = []
    for i in range(60):
        ev = event("tool_call", i, session="alerting", at=t0 + timedelta(seconds=i))
        ev["payload"] = {"tool_name": "pay", "duration_ms": 10.0, "status": "error" if i % 2 else "success"}
        lines.append((partition_for("alerting", fast.raw_partitions), orjson.dumps(ev)))
    _publish(fast, lines)
    with running_workers(fast.to_env(), tmp_path) as workers:
        alerts = [orjson.loads(m.value()) for m in read_topic(fast, fast.topics.alerts, 1, timeout=90)]
        stored = wait_for_count(es, f"{fast.index_prefix}-alerts", 1, workers)
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
    server.shutdown()
    assert [(a["rule"], a["subject"], a["status"]) for a in alerts] == [("err", "pay", "firing")]
    assert alerts[0]["value"] == pytest.approx(0.5)
    assert stored == 1
    assert received == alerts
    assert calls["n"] == 2
