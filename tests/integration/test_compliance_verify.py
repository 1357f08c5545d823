"""``agent-audit verify`` against the real Elasticsearch: intact, broken at seq N, missing at seq N."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from agent_audit.sinks.access_log import AccessLog
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.compliance.testing import store_events
from elasticsearch import Elasticsearch

from tests.factories import event

KEY = "chain-key"


def _verify(capsys: pytest.CaptureFixture[str], session: str) -> tuple[int, str]:
    code = main(["verify", session, "--actor", "auditor"])
    return code, capsys.readouterr().out.strip()


def _doc(es: Elasticsearch, prefix: str, session: str, seq: int) -> dict[str, Any]:
    query = {"bool": {"filter": [{"term": {"session_id": session}}, {"term": {"seq": seq}}]}}
    return dict(es.search(index=f"{prefix}-events", query=query)["hits"]["hits"][0])


def test_verify_answers_intact_broken_or_missing_at_the_first_bad_seq(
        settings: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An untouched chain is intact (exit 0); an edited event breaks it at its seq, a deleted one is
    missing at its seq (exit 1); a wrong key breaks it at once; every check is access-logged."""
    keyed = dataclasses.replace(settings, integrity_key=KEY)
    for name, value in keyed.to_env().items():
        monkeypatch.setenv(name, value)
    prefix = keyed.index_prefix
    kinds = ["input", "reasoning", "tool_call", "output"]
    store_events(es, prefix, [event(kinds[i % 4], i, session=s) for s in ("s-a", "s-b", "s-c")
                              for i in range(8)], integrity_key=KEY.encode())

    assert _verify(capsys, "s-a") == (0, "intact (8 events)")

    edited = _doc(es, prefix, "s-b", 3)
    es.update(index=edited["_index"], id=edited["_id"], doc={"payload": {"confidence": 0.99}}, refresh=True)
    assert _verify(capsys, "s-b") == (1, "broken at seq 3")

    gone = _doc(es, prefix, "s-c", 5)
    es.delete(index=gone["_index"], id=gone["_id"], refresh=True)
    assert _verify(capsys, "s-c") == (1, "missing at seq 5")

    assert _verify(capsys, "s-none") == (1, "empty: no events stored for this session")

    monkeypatch.setenv("AUDIT_INTEGRITY_KEY", "not-the-key")
    assert _verify(capsys, "s-a") == (1, "broken at seq 0")

    entries = AccessLog(es, prefix, redactor_for(keyed)).entries()
    assert [(e["query"], e["actor"], e["params"]["session_id"], e["params"]["verdict"]) for e in entries] == [
        ("verify", "auditor", "s-a", "intact"), ("verify", "auditor", "s-b", "broken"),
        ("verify", "auditor", "s-c", "missing"), ("verify", "auditor", "s-none", "empty"),
        ("verify", "auditor", "s-a", "broken")]
