"""``agent-audit verify`` against the real Elasticsearch, on events stored with a signed checkpoint."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.evidence.signing import SigningKey
from agent_audit.core.settings import Settings
from agent_audit.sinks.access_log import AccessLog
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.compliance.signed_testing import store_signed_events
from tests.factories import event

KEY = SigningKey.generate()


def _verify(capsys: pytest.CaptureFixture[str], session: str) -> tuple[int, str]:
    code = main(["verify", session, "--actor", "auditor"])
    return code, capsys.readouterr().out.strip()


def _doc(es: Elasticsearch, prefix: str, session: str, seq: int) -> dict[str, Any]:
    query = {"bool": {"filter": [{"term": {"session_id": session}}, {"term": {"seq": seq}}]}}
    return dict(es.search(index=f"{prefix}-events", query=query)["hits"]["hits"][0])


def _public(key: SigningKey) -> str:
    return base64.b64encode(key.public.public_bytes_raw()).decode()


def test_verify_answers_with_the_public_key_and_every_check_is_access_logged(
        settings: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Untouched: intact (0); an edited event: modified at its seq (1); a deleted one: deleted at its
    seq (4); a session nobody wrote: unknown (7); another public key: modified (1); all logged."""
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUDIT_PUBLIC_KEYS", _public(KEY))
    prefix = settings.index_prefix
    kinds = ["input", "reasoning", "tool_call", "output"]
    store_signed_events(es, prefix, [event(kinds[i % 4], i, session=s) for s in ("s-a", "s-b", "s-c")
                                     for i in range(8)], KEY, settings.topic_prefix)

    assert _verify(capsys, "s-a") == (0, "intact (8 events, open)")

    edited = _doc(es, prefix, "s-b", 3)
    es.update(index=edited["_index"], id=edited["_id"], doc={"payload": {"confidence": 0.99}}, refresh=True)
    assert _verify(capsys, "s-b") == (1, "modified at seq 3; content does not match its digest")

    gone = _doc(es, prefix, "s-c", 5)
    es.delete(index=gone["_index"], id=gone["_id"], refresh=True)
    assert _verify(capsys, "s-c") == (4, "deleted at seq 5")

    assert _verify(capsys, "s-none") == (7, "unknown: no events and no checkpoint name this session")

    monkeypatch.setenv("AUDIT_PUBLIC_KEYS", _public(SigningKey.generate()))
    code, text = _verify(capsys, "s-a")
    assert code == 1 and "not signed by a known key" in text

    entries = AccessLog(es, prefix, redactor_for(settings)).entries()
    assert [(e["query"], e["actor"], e["params"]["session_id"], e["params"]["verdict"]) for e in entries] == [
        ("verify", "auditor", "s-a", "intact"), ("verify", "auditor", "s-b", "modified"),
        ("verify", "auditor", "s-c", "deleted"), ("verify", "auditor", "s-none", "unknown"),
        ("verify", "auditor", "s-a", "modified")]
