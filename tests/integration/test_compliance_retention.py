"""Retention, legal holds and sealing through the CLI against the real Elasticsearch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from elasticsearch import ApiError, Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.families import sealed_indices
from agent_audit.sinks.compliance.testing import store_events
from tests.factories import event


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main([*argv, "--actor", "records-officer"]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


def _actions(out: list[dict[str, Any]]) -> dict[str, tuple[str, int, int]]:
    return {a["index"]: (a["action"], a["documents_removed"], a["documents_held"]) for a in out[0]["actions"]}


def test_retention_drops_expired_indices_prunes_held_ones_and_seals_old_days(
        settings: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Expired indices go whole unless they hold a held session: then only the rest goes, until the hold
    is released. Per-family limits apply; seal blocks writes on days older than the grace only."""
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    prefix = settings.index_prefix
    now = datetime.now(UTC)

    def day(days_ago: int, family: str = "events") -> str:
        return f"{prefix}-{family}-{now - timedelta(days=days_ago):%Y.%m.%d}"

    store_events(es, prefix, [event("input", i, session="s-held", user="u-1", at=now - timedelta(days=100))
                              for i in range(2)]
                 + [event("input", i, session="s-old", user="u-2", at=now - timedelta(days=100))
                    for i in range(3)]
                 + [event("input", i, session="s-40", user="u-2", at=now - timedelta(days=40))
                    for i in range(2)]
                 + [event("input", i, session="s-now", user="u-2", at=now) for i in range(2)])
    es.index(index=day(40, "metrics"), document={"type": "tool", "tool": "x", "calls": 1}, refresh=True)

    hold = _cli(capsys, "hold", "add", "--session", "s-held", "--reason", "case 12")[0]
    assert [h["hold_id"] for h in _cli(capsys, "hold", "list")] == [hold["hold_id"]]

    sealed = _cli(capsys, "retention", "seal")[0]["sealed"]
    assert sorted(sealed) == sorted([day(100), day(40), day(40, "metrics")])
    assert sealed_indices(es, prefix) == set(sealed)
    with pytest.raises(ApiError) as refused:
        es.index(index=day(40), document=event("input", 9, session="s-40", user="u-2"))
    assert refused.value.meta.status == 403

    planned = _cli(capsys, "retention", "apply", "--family", "metrics=30", "--dry-run")
    assert _actions(planned) == {day(100): ("would prune", 3, 2), day(40, "metrics"): ("would delete", 1, 0)}
    assert es.indices.exists(index=day(40, "metrics"))

    done = _cli(capsys, "retention", "apply", "--family", "metrics=30")
    assert _actions(done) == {day(100): ("pruned", 3, 2), day(40, "metrics"): ("deleted", 1, 0)}
    assert not es.indices.exists(index=day(40, "metrics"))
    assert {h["_source"]["session_id"] for h in es.search(index=day(100))["hits"]["hits"]} == {"s-held"}
    assert day(100) in sealed_indices(es, prefix), "pruning must leave a sealed index sealed"
    receipt = es.get(index=f"{prefix}-erasure-receipts", id=done[0]["receipt_id"])["_source"]
    assert (receipt["action"], receipt["indices_deleted"], receipt["total_removed"]) == (
        "retention", [day(40, "metrics")], 4)

    again = _cli(capsys, "retention", "apply", "--family", "metrics=30")
    assert _actions(again) == {day(100): ("pruned", 0, 2)}

    released = _cli(capsys, "hold", "release", hold["hold_id"])[0]
    assert (released["status"], released["released_by"]) == ("released", "records-officer")
    assert _cli(capsys, "hold", "list") == []
    assert len(_cli(capsys, "hold", "list", "--all")) == 1

    last = _cli(capsys, "retention", "apply", "--family", "metrics=30")
    assert _actions(last) == {day(100): ("deleted", 2, 0)}
    assert not es.indices.exists(index=day(100))
    assert es.indices.exists(index=day(40)) and es.indices.exists(index=day(0))
    assert day(0) not in sealed_indices(es, prefix)
