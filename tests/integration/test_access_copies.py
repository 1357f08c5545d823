"""Forget erases every signed copy of the access-log entries naming the user, however many.

The copies are events in the daily event indices (the stream signed them); forget finds them by id.
Those ids are searched in slices (``ID_SLICE``) and the indices holding them found by aggregation,
so a user named by more entries than one search returns (10,000 hits) still has every copy erased.
Here the slice is made smaller than the entries, and the copies are spread over two days.
"""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.sinks.access_log import AccessLog, as_event
from agent_audit.sinks.compliance import pseudonyms
from agent_audit.sinks.compliance.pseudonyms import erase_access_copies


def _copy_index(settings: Settings, day: str) -> str:
    return f"{settings.index_prefix}-events-{day}"


def _stored(es: Elasticsearch, indices: str, event_id: str) -> dict[str, Any]:
    hits = es.search(index=indices, query={"ids": {"values": [event_id]}})["hits"]["hits"]
    assert len(hits) == 1
    source: dict[str, Any] = hits[0]["_source"]
    return source


def test_every_signed_copy_is_erased_across_slices_and_days(settings: Settings, es: Elasticsearch,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven entries name the user (slices of 3), two do not; each entry's copy sits in one of two
    daily indices: all seven copies become tombstones under the receipt, the other two stay."""
    log = AccessLog(es, settings.index_prefix, Redactor())
    named = [log.record("auditor", "trail", {"user": "jane-77", "n": i}, 1) for i in range(7)]
    other = [log.record("auditor", "trail", {"user": "bob-12", "n": i}, 1) for i in range(2)]
    days = ("2026.12.01", "2026.12.02")
    for i, entry in enumerate(named + other):
        copy: dict[str, Any] = as_event(entry)
        es.index(index=_copy_index(settings, days[i % 2]), id=copy["event_id"], document=copy)
    monkeypatch.setattr(pseudonyms, "ID_SLICE", 3)

    erased = erase_access_copies(es, settings.index_prefix, ["jane-77"], "receipt-1", "2026-12-03T00:00:00Z")

    assert erased == 7
    copies = f"{settings.index_prefix}-events-*"
    es.indices.refresh(index=copies)
    for entry in named:
        doc = _stored(es, copies, entry["event_id"])
        assert doc["erased"] == {"receipt": "receipt-1", "at": "2026-12-03T00:00:00Z"}
        assert "payload" not in doc
    for entry in other:
        doc = _stored(es, copies, entry["event_id"])
        assert "erased" not in doc


def test_more_entries_than_one_search_returns_are_all_erased(settings: Settings, es: Elasticsearch) -> None:
    """10,001 entries name the user, past Elasticsearch's 10,000 hits per search (the limit a single
    search by id ran into): every copy is tombstoned, with the slices as shipped."""
    log = AccessLog(es, settings.index_prefix, Redactor())
    log.ensure()
    template = log.record("auditor", "trail", {"user": "jane-77"}, 1)
    stem = str(template["event_id"])[:-6]
    entries = [{**template, "event_id": f"{stem}{i:06d}", "seq": i} for i in range(10_001)]
    bulk(es, ({"_index": log.index, "_id": e["event_id"], "_source": e} for e in entries), chunk_size=2_000)
    copies = _copy_index(settings, "2026.12.01")
    bulk(es, ({"_index": copies, "_id": e["event_id"], "_source": as_event(e)} for e in entries),
         chunk_size=2_000)
    es.indices.refresh(index=log.index)

    erased = erase_access_copies(es, settings.index_prefix, ["jane-77"], "receipt-2", "2026-12-03T00:00:00Z")

    assert erased == 10_001
    es.indices.refresh(index=copies)
    assert es.count(index=copies, query={"exists": {"field": "erased"}})["count"] == 10_001
