"""``agent-audit forget`` against the real Elasticsearch: gone everywhere, receipt stored, idempotent."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.families import sealed_indices
from agent_audit.sinks.compliance.holds import HoldStore
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.compliance.testing import store_events
from tests.factories import BASE_TIME, event


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with a redaction key, exported for the CLI."""
    s = dataclasses.replace(settings, redaction_key="test-redaction-key", key_cache_s=0)
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    return s


def _forget(capsys: pytest.CaptureFixture[str], user: str) -> dict[str, Any]:
    assert main(["forget", user, "--actor", "dpo@corp"]) == 0
    return dict(orjson.loads(capsys.readouterr().out))


def _count(es: Elasticsearch, prefix: str, user_ids: list[str]) -> int:
    es.indices.refresh(index=f"{prefix}-*")
    either = [{"terms": {"user_id": user_ids}}, {"terms": {"user_id.keyword": user_ids}}]
    return int(es.count(index=f"{prefix}-*", query={"bool": {"should": either}})["count"])


def test_forget_removes_the_user_from_every_family_and_leaves_a_receipt(
        keyed: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]) -> None:
    """Events of every day (a sealed one too) and any family with user_id lose the user's documents;
    others stay; the receipt says where; a second run removes 0 and says so."""
    prefix = keyed.index_prefix
    email = "carol@example.com"
    token = redactor_for(keyed).redact_text(email)[0]  # how the stream stores this user id
    old = BASE_TIME - timedelta(days=10)
    store_events(es, prefix, [event("input", i, session="s-c", user=token) for i in range(3)]
                 + [event("input", i, session="s-c-old", user=token, at=old) for i in range(2)]
                 + [event("input", i, session="s-d", user="u-dave") for i in range(4)])
    old_index = f"{prefix}-events-{old:%Y.%m.%d}"
    es.indices.put_settings(index=old_index, settings={"index.blocks.write": True})
    # Another family with user ids (mapped dynamically), and one without (metrics).
    es.index(index=f"{prefix}-sessions-2026.11.25", document={"user_id": token, "turns": 3}, refresh=True)
    es.index(index=f"{prefix}-metrics-2026.11.25", document={"type": "tool", "tool": "x", "calls": 1},
             refresh=True)

    receipt = _forget(capsys, email)

    assert _count(es, prefix, [email, token]) == 0
    assert _count(es, prefix, ["u-dave"]) == 4
    # complete: nothing unprocessed on the raw topic, no hold; every store is listed
    assert receipt["total_removed"] == 6 and receipt["status"] == "complete"
    stores = {s["store"]: s["status"] for s in receipt["stores"]}
    assert stores[keyed.topics.events] == "shredded" and stores[keyed.topics.raw] == "erased"
    assert stores[old_index] == "erased" and stores[f"{prefix}-access-log"] == "pseudonymized"
    assert {r["index"]: r["documents"] for r in receipt["removed"]} == {
        f"{prefix}-events-2026.11.25": 3, old_index: 2, f"{prefix}-sessions-2026.11.25": 1}
    assert receipt["families_checked"] == ["events", "metrics", "sessions"]
    assert receipt["requested_by"] == "dpo@corp" and receipt["subject_stored_form"] == token
    assert old_index in sealed_indices(es, prefix), "erasure must leave a sealed index sealed"

    stored = es.get(index=f"{prefix}-erasure-receipts", id=receipt["receipt_id"])["_source"]
    assert stored == receipt and email not in orjson.dumps(stored).decode()

    again = _forget(capsys, email)
    assert again["total_removed"] == 0 and again["removed"] == []
    assert again["subject_digest"] == receipt["subject_digest"]
    es.indices.refresh(index=f"{prefix}-erasure-receipts")
    assert es.count(index=f"{prefix}-erasure-receipts")["count"] == 2


def test_forget_keeps_what_a_legal_hold_covers_and_says_so(
        keyed: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]) -> None:
    """A held session of the user survives erasure; the receipt is partial and counts what was kept."""
    prefix = keyed.index_prefix
    store_events(es, prefix, [event("input", i, session="s-held", user="u-1") for i in range(2)]
                 + [event("input", i, session="s-free", user="u-1") for i in range(3)])
    HoldStore(es, prefix, redactor_for(keyed)).add("session", "s-held", "case 7", "legal")

    receipt = _forget(capsys, "u-1")

    assert receipt["status"] == "pending"
    assert any(s["status"] == "held" for s in receipt["stores"])
    assert (receipt["total_removed"], receipt["total_kept_under_hold"]) == (3, 2)
    assert _count(es, prefix, ["u-1"]) == 2


def test_without_a_redaction_key_a_shared_placeholder_is_never_erased(
        settings: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyless redaction stores every email id as [EMAIL]: forgetting one email must not erase them all."""
    for name, value in dataclasses.replace(settings, key_cache_s=0).to_env().items():
        monkeypatch.setenv(name, value)
    placeholder_events = [event("input", i, session="s-e", user="[EMAIL]") for i in range(2)]
    store_events(es, settings.index_prefix, placeholder_events)

    receipt = _forget(capsys, "erin@example.com")

    assert receipt["total_removed"] == 0 and "shared placeholder [EMAIL]" in receipt["notes"][0]
    assert _count(es, settings.index_prefix, ["[EMAIL]"]) == 2


def test_a_dry_run_lists_what_would_go_and_changes_nothing(
        keyed: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run counts per index and touches no document, key or receipt."""
    prefix = keyed.index_prefix
    store_events(es, prefix, [event("input", i, session="s-f", user="u-frank") for i in range(3)])
    assert main(["forget", "u-frank", "--dry-run", "--actor", "dpo@corp"]) == 0
    plan = orjson.loads(capsys.readouterr().out)
    assert plan["dry_run"] is True and plan["would_erase"] == [
        {"index": f"{prefix}-events-2026.11.25", "documents": 3}]
    assert _count(es, prefix, ["u-frank"]) == 3
    assert not es.indices.exists(index=f"{prefix}-erasure-receipts")


def test_a_crashed_forget_resumes_under_its_receipt(
        keyed: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]) -> None:
    """A run that stopped after storing its running receipt is finished by the next run, under the
    same receipt id (its tombstones already name it); no second receipt is left."""
    from agent_audit.sinks.compliance.identifiers import subject_digest  # noqa: PLC0415
    from agent_audit.sinks.compliance.receipts import Receipt, store_receipt  # noqa: PLC0415

    prefix = keyed.index_prefix
    store_events(es, prefix, [event("input", i, session="s-g", user="u-gina") for i in range(3)])
    crashed = Receipt("erasure", "dpo@corp", "2026-12-01T00:00:00.000Z", "2026-12-01T00:00:01.000Z", [], 0,
                      [], [], subject_digest=subject_digest("u-gina", keyed), running=True)
    store_receipt(es, prefix, crashed)

    receipt = _forget(capsys, "u-gina")

    assert receipt["receipt_id"] == crashed.receipt_id and receipt["status"] == "complete"
    assert receipt["started_at"] == crashed.started_at and receipt["total_removed"] == 3
    es.indices.refresh(index=f"{prefix}-erasure-receipts")
    assert es.count(index=f"{prefix}-erasure-receipts")["count"] == 1
