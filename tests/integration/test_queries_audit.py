"""Queries against the real Elasticsearch, through the CLI, each one leaving an access-log entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from agent_audit.sinks.access_log import AccessLog, resolve_actor
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.compliance.testing import store_events
from agent_audit.sinks.queries import scan, seq_completeness, session_seqs, session_timeline
from tests.factories import BASE_TIME, event


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUDIT_ACTOR", raising=False)
    return settings


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]


def _session(session: str, user: str, n: int, day_offset: int = 0) -> list[dict[str, Any]]:
    kinds = ["input", "reasoning", "tool_call", "output", "error"]
    at = BASE_TIME - timedelta(days=day_offset)
    return [event(kinds[i % 5], i, session=session, user=user, at=at + timedelta(seconds=i))
            for i in range(n)]


def test_timeline_pages_past_one_page_in_seq_order(settings: Settings, es: Elasticsearch) -> None:
    """The timeline is complete and in seq order even when it spans many PIT pages."""
    events = _session("s-long", "u-1", 45)
    store_events(es, settings.index_prefix, reversed(events))
    hits = list(scan(es, f"{settings.index_prefix}-events", {"term": {"session_id": "s-long"}},
                     [{"seq": "asc"}], page=10))
    assert [h["_source"]["seq"] for h in hits] == list(range(45))
    assert [e["seq"] for e in session_timeline(es, settings.index_prefix, "s-long")] == list(range(45))
    assert seq_completeness(session_seqs(es, settings.index_prefix, "s-long")).complete


def test_every_query_is_answered_and_access_logged_with_its_actor(
        cli_env: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """timeline, user, tools, errors-per-day, search and gaps answer, and each leaves who/what/when/count."""
    prefix = cli_env.index_prefix
    holed = [e for e in _session("s-2", "u-2", 10) if e["seq"] not in (3, 4, 7)]
    store_events(es, prefix, _session("s-1", "u-1", 10) + _session("s-0", "u-1", 5, day_offset=1) + holed)

    code, rows = _run(capsys, "query", "timeline", "s-1", "--actor", "auditor-a")
    assert code == 0 and [r["seq"] for r in rows] == list(range(10))

    code, rows = _run(capsys, "query", "user", "u-1", "--since", "2026-11-25T00:00:00Z",
                      "--actor", "auditor-a")
    assert code == 0 and {r["session_id"] for r in rows} == {"s-1"} and len(rows) == 10

    monkeypatch.setenv("AUDIT_ACTOR", "auditor-env")
    code, rows = _run(capsys, "query", "tools")
    assert code == 0 and rows[0]["tool"] == "search_kb" and rows[0]["calls"] == 2 + 1 + 1
    assert rows[0]["avg_ms"] == pytest.approx(42.0) and rows[0]["p95_ms"] == pytest.approx(42.0)

    code, rows = _run(capsys, "query", "errors-per-day")
    assert code == 0 and [(r["day"], r["events"], r["errors"]) for r in rows] == [
        ("2026-11-24", 5, 1), ("2026-11-25", 17, 3)]

    code, rows = _run(capsys, "query", "search", "timed out", "--actor", "auditor-b")
    assert code == 0 and len(rows) == 4 and all(r["kind"] == "error" for r in rows)

    code, rows = _run(capsys, "query", "gaps", "s-2")
    assert code == 1 and rows[0]["gaps"] == [[3, 4], [7, 7]] and rows[0]["missing"] == 3

    entries = AccessLog(es, prefix, redactor_for(cli_env)).entries()
    assert [(e["query"], e["actor"], e["results"]) for e in entries] == [
        ("timeline", "auditor-a", 10), ("user", "auditor-a", 10), ("tools", "auditor-env", 1),
        ("errors-per-day", "auditor-env", 2), ("search", "auditor-b", 4), ("gaps", "auditor-env", 1)]
    assert entries[0]["params"] == {"session_id": "s-1"} and entries[0]["timestamp"]


def test_the_access_log_keeps_parameters_redacted(cli_env: Settings, es: Elasticsearch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A search for someone's email or card number leaves the redacted form in the log, never the raw one."""
    store_events(es, cli_env.index_prefix, _session("s-1", "u-1", 3))
    code, _ = _run(capsys, "query", "search", "bob@example.com card 4111 1111 1111 1111", "--actor", "x")
    assert code == 0
    code, _ = _run(capsys, "query", "user", "bob@example.com", "--actor", "x")
    assert code == 0
    raw = orjson.dumps(AccessLog(es, cli_env.index_prefix, redactor_for(cli_env)).entries()).decode()
    assert "bob@example.com" not in raw and "4111" not in raw and "[EMAIL] card [CARD]" in raw
    mapping = es.indices.get_mapping(index=f"{cli_env.index_prefix}-access-log")
    assert next(iter(mapping.values()))["mappings"]["dynamic"] == "strict"


def test_queries_on_a_deployment_with_no_events_yet_answer_empty(
        cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Before the sink stored anything, a query is an empty answer (exit 0), not a 404."""
    for query in (["tools"], ["errors-per-day"], ["search", "x"], ["timeline", "s-1"], ["user", "u-1"]):
        assert _run(capsys, "query", *query, "--actor", "a") == (0, [])
    assert _run(capsys, "query", "gaps", "s-1", "--actor", "a")[1][0]["events"] == 0


def test_the_actor_defaults_to_the_environment_then_the_os_user() -> None:
    """--actor beats AUDIT_ACTOR, which beats the operating-system user."""
    assert resolve_actor("cli", {"AUDIT_ACTOR": "env"}) == "cli"
    assert resolve_actor(None, {"AUDIT_ACTOR": "env"}) == "env"
    assert resolve_actor(None, {})
