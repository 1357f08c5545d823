"""`agent-audit forget <user>`: the user's documents are gone from every index; a receipt says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
from elasticsearch import Elasticsearch

from core.settings import Settings
from sinks.bulk import BulkItem, build_body
from sinks.indices import event_index, events_alias, install_templates
from tests.factories import event

ROOT = Path(__file__).parents[2]


def _forget(settings: Settings, user: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-m", "cli.main", "forget", user, "--actor", "dpo@test"],
                          env={**os.environ, **settings.to_env()}, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return dict(json.loads(done.stdout))


def test_forget_removes_the_user_everywhere_keeps_others_and_is_idempotent(
        settings: Settings, es: Elasticsearch) -> None:
    """Two daily indices, three users: the target (stored redacted) disappears; a rerun removes 0."""
    install_templates(es, settings.index_prefix)
    items = []
    for day in ("2026.11.24", "2026.11.25"):
        for user in ("[EMAIL]", "user-2", "user-3"):  # an email user id is stored as the stream left it
            for seq in range(5):
                ev = event("input", seq, session=f"{user}-{day}", user=user)
                index = event_index(settings.index_prefix, day)
                items.append(BulkItem(ev["event_id"], index, orjson.dumps(ev)))
    assert not es.bulk(operations=build_body(items), refresh=True)["errors"]  # type: ignore[arg-type]

    receipt = _forget(settings, "jane@example.com")
    assert receipt["total"] == 10
    assert set(receipt["removed"].values()) == {5}
    assert receipt["actor"] == "dpo@test"
    assert "jane" not in json.dumps(receipt)
    alias = events_alias(settings.index_prefix)
    assert es.count(index=alias, query={"term": {"user_id": "[EMAIL]"}})["count"] == 0
    assert es.count(index=alias)["count"] == 20

    assert _forget(settings, "jane@example.com")["total"] == 0
    receipts = es.search(index=f"{settings.index_prefix}-erasure-receipts")["hits"]["hits"]
    assert sorted(r["_source"]["total"] for r in receipts) == [0, 10]
