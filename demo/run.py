"""Orchestrate the demo: stack, topics, workers, simulated agents, then read back from Elasticsearch."""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from agent_audit.core.settings import Settings
from agent_audit.demo.scenario import DEMO_AGENTS as AGENTS
from agent_audit.demo.scenario import simulate_session
from agent_audit.demo.stream_view import print_alerts, print_tool_windows, wait_for_alerts, wait_for_window
from agent_audit.producers import AuditTrail
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable, counts_by_kind, session_timeline, tool_usage
from agent_audit.sinks.worker import build_es
from agent_audit.stack.workers import running_workers
from agent_audit.stream.topics import create_topics

__all__ = ["run_demo"]


def _ensure_stack() -> dict[str, str]:
    if os.environ.get("KAFKA_BOOTSTRAP") and os.environ.get("ES_URL"):
        return {}
    from agent_audit.stack import LocalStack  # noqa: PLC0415 - only when no external services were given

    local = LocalStack.from_env()
    for service, state in local.up().items():
        print(f"  {service:14} {state}")
    return local.env()


def run_demo(sessions: int = 2000, seed: int = 7) -> int:
    print("1/5 local stack")
    os.environ.update(_ensure_stack())
    settings = _demo_windows(Settings.from_env())
    create_topics(settings)
    run = uuid.uuid4().hex[:6]
    log_dir = Path(os.environ.get("AUDIT_DEMO_LOGS") or tempfile.mkdtemp(prefix=f"agent-audit-demo-{run}-"))
    es = build_es(settings)
    alias = events_alias(settings.index_prefix)
    if not (os.environ.get("AUDIT_ARCHIVE_BUCKET") or os.environ.get("AUDIT_ARCHIVE_DIR")):
        os.environ["AUDIT_ARCHIVE_DIR"] = str(log_dir / "archive")  # no S3 given: beside the demo's logs

    print(f"2/5 starting stream and sink workers (logs in {log_dir})")
    # The archive worker too (cold tier); a short linger so its objects are written within the demo.
    linger = os.environ.get("AUDIT_ARCHIVE_LINGER_S", "2")
    worker_env = {**settings.to_env(), "AUDIT_ARCHIVE_LINGER_S": linger}
    with running_workers(worker_env, log_dir, names=("stream", "sink", "archive")) as workers:
        print(f"3/5 simulating {sessions} sessions of {len(AGENTS)} agents (run {run})")
        rng = random.Random(seed)
        started, started_wall = time.monotonic(), time.time()
        recorded = 0
        for i in range(sessions):
            agent = AGENTS[i % len(AGENTS)]
            trail = AuditTrail(session_id=f"demo-{run}-{i:04d}", user_id=f"user-{rng.randint(1, 60):03d}",
                               agent=agent.name, agent_version=agent.version)
            recorded += simulate_session(trail, agent, rng)
        _publish_malformed(settings)
        AuditTrail.flush_all(timeout=30)
        mine = {"prefix": {"session_id": f"demo-{run}-"}}
        print(f"4/5 waiting until all {recorded} events are searchable")
        searchable = _wait_searchable(es, alias, mine, recorded, workers)
        elapsed = time.monotonic() - started
        archived = _wait_archived(f"demo-{run}-", recorded, workers)
        since = started_wall // settings.window_s * settings.window_s
        print(f"   and until the stream's {settings.window_s} s windows of the run have closed")
        wait_for_window(es, settings.index_prefix, time.time(), settings.window_s)
        alerts = wait_for_alerts(es, settings.index_prefix, since)
    if searchable < recorded:
        print(f"only {searchable} of {recorded} events arrived; see the worker logs in {log_dir}")
        return 1
    print(f"5/5 read back from Elasticsearch: {recorded} events in {elapsed:.1f}s "
          f"({recorded / elapsed:,.0f} events/s, record to searchable)\n")
    _report(es, settings.index_prefix, f"demo-{run}-0001", mine)
    _report_archive(f"demo-{run}-", archived)
    print_tool_windows(es, settings.index_prefix, since)
    print_alerts(settings.index_prefix, alerts)
    _next_steps(settings.index_prefix, f"demo-{run}-0001")
    return 0


def _demo_windows(settings: Settings) -> Settings:
    # Short windows unless AUDIT_WINDOW_S is set, so the demo shows closed windows within seconds.
    if os.environ.get("AUDIT_WINDOW_S"):
        return settings
    return dataclasses.replace(settings, window_s=15, window_grace_s=2)


def _publish_malformed(settings: Settings) -> None:
    # One broken record, to show the dead-letter path (and that the PII in it is redacted there).
    p = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    p.produce(settings.topics.raw, value=b'{"kind": "input", "note": "mail me at eve@example.org"}')
    p.flush(10)


def _wait_searchable(es: Any, alias: str, query: dict[str, Any], expected: int, workers: Any,
                     timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        workers.check_alive()
        count = count_searchable(es, alias, query)
        if count >= expected:
            break
        time.sleep(0.25)
    return count


def _report(es: Any, prefix: str, session_id: str, mine: dict[str, Any]) -> None:
    es.indices.refresh(index=events_alias(prefix))
    print(f"Session timeline of {session_id} (seq order, as stored: redacted)")
    for ev in session_timeline(es, prefix, session_id):
        print(f"  {ev['seq']:>3}  {ev['timestamp'][11:23]}  {ev['kind']:<9}  {_summary(ev)[:90]}")
    kinds = sorted(counts_by_kind(es, prefix, mine).items())
    print("\nEvents by kind:  " + ", ".join(f"{k}={v}" for k, v in kinds))
    print("\nTool usage                calls  errors   avg ms    p95 ms")
    for row in sorted(tool_usage(es, prefix, mine), key=lambda r: -r["calls"]):
        print(f"  {row['tool']:<22} {row['calls']:>6} {row['errors']:>7} "
              f"{row['avg_ms']:>8.1f} {row['p95_ms']:>9.1f}")


def _next_steps(prefix: str, session_id: str) -> None:
    print(f"""
Where to look next:
  curl -s '{os.environ.get("ES_URL", "http://127.0.0.1:9200")}/{prefix}-events/_search?q=session_id:{session_id}&pretty'
  agent-audit stack status      # the local Kafka + Elasticsearch keep running
  agent-audit stack down        # stop them
  docker-compose up -d          # the same pipeline with Kibana, where Docker is available
""")


def _archive_sql(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    from agent_audit.sinks.archive.config import ArchiveSettings  # noqa: PLC0415
    from agent_audit.sinks.archive.reader import open_archive  # noqa: PLC0415
    from agent_audit.sinks.archive.store import build_store  # noqa: PLC0415

    con = open_archive(build_store(ArchiveSettings.from_env()))
    return con.execute(sql, params).fetchall()


def _wait_archived(session_prefix: str, expected: int, workers: Any, timeout: float = 60.0) -> int:
    deadline, count = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        workers.check_alive()
        sql = "SELECT count(*) FROM events WHERE starts_with(session_id, ?)"
        count = _archive_sql(sql, [session_prefix])[0][0]
        if count >= expected:
            break
        time.sleep(1.0)
    return int(count)


ARCHIVE_QUERY = ("SELECT agent_name, count(*) AS events, count(*) FILTER (WHERE kind = 'error') AS errors, "
                 "round(avg(duration_ms), 1) AS avg_tool_ms FROM events WHERE starts_with(session_id, ?) "
                 "GROUP BY agent_name ORDER BY agent_name")


def _report_archive(session_prefix: str, archived: int) -> None:
    from agent_audit.sinks.archive.config import ArchiveSettings  # noqa: PLC0415

    print(f"Archive: {archived} events as Parquet at {ArchiveSettings.from_env().location}; one SQL query:")
    print(f"  agent-audit archive query \"{ARCHIVE_QUERY.replace('?', repr(session_prefix))}\"")
    print("  agent                  events  errors  avg tool ms")
    for agent, events, errors, avg_ms in _archive_sql(ARCHIVE_QUERY, [session_prefix]):
        print(f"  {agent:<22} {events:>6} {errors:>7} {avg_ms:>12}")


def _summary(ev: dict[str, Any]) -> str:
    p = ev["payload"]
    kind = ev["kind"]
    if kind == "tool_call":
        return f"{p['tool_name']} {p['status']} {p['duration_ms']:.0f} ms params={p.get('parameters')}"
    if kind == "error":
        return f"{p['type']}: {p['message']}"
    if kind == "reasoning":
        return str(p["thought"])
    if kind == "output":
        meta = p.get("metadata", {})
        return f"{p['content']} [{meta.get('model')}, {meta.get('tokens_used')} tokens]"
    return str(p.get("content", ""))


if __name__ == "__main__":
    sys.exit(run_demo())
