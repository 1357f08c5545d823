"""Tamper probes beyond test_evidence.py: sessions through the real stream and sink, then an insider
with write access to Elasticsearch edits them; ``agent-audit verify`` (public key only) must give
each a non-zero verdict that names the problem, while an untouched session stays intact.

One pipeline run per module (``trail``); each test judges the sessions one attack touched. The
attacks that change a checkpoint or a receipt run last, in their own tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.core.wire import new_event_id
from agent_audit.sinks.compliance.receipts import Receipt, store_receipt
from agent_audit.sinks.compliance.signed_erasures import erasure_events
from agent_audit.sinks.compliance.store import receipts_index
from agent_audit.sinks.indices import checkpoints_alias, event_index, events_alias
from agent_audit.stack.namespace import drop_namespace
from agent_audit.stack.workers import running_workers
from agent_audit.stream.topics import create_topics
from tests.factories import BASE_TIME, event
from tests.integration.test_evidence import _cli, _docs, _env, _publish, _tombstone, _wait_checkpointed
from tests.integration.waiting import wait_for_count

SESSIONS = ("p-intact", "p-swap", "p-stamp", "p-who", "p-dup", "p-moved", "p-receipt-gone",
            "p-forged-tomb", "p-cp-edit")
N = 5
# Two genuine erasures, each stored and signed through the pipeline: the first lists seq 2 of
# p-receipt-gone, the second an event of another user (never of p-forged-tomb).
GONE, OTHER = uuid.uuid4().hex, uuid.uuid4().hex


@pytest.fixture(scope="module")
def probe_settings(stack_env: dict[str, str]) -> Iterator[Settings]:
    """The conftest's per-test namespace, held for the whole module (one pipeline run)."""
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, **stack_env, "AUDIT_MODE": "development",
           "AUDIT_MAX_EVENT_AGE_S": str(int((datetime.now(UTC) - BASE_TIME).total_seconds()) + 30 * 86_400),
           "AUDIT_TOPIC_PREFIX": f"t{tag}.", "AUDIT_INDEX_PREFIX": f"t{tag}-agent",
           "AUDIT_STREAM_APP_ID": f"t{tag}-stream", "AUDIT_SINK_GROUP": f"t{tag}-sink",
           "AUDIT_RAW_PARTITIONS": "3", "AUDIT_EVENTS_PARTITIONS": "3"}
    s = Settings.from_env(env)
    create_topics(s)
    yield s
    drop_namespace(s)


@pytest.fixture(scope="module")
def trail(probe_settings: Settings, stack_env: dict[str, str],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Elasticsearch]]:
    """Every session stored by the real workers and named by a signed checkpoint; workers stopped."""
    s = probe_settings
    es = Elasticsearch(stack_env["ES_URL"], request_timeout=30)
    events = [event("input", i, session=p) for p in SESSIONS for i in range(N)]
    gone = next(e for e in events if (e["session_id"], e["seq"]) == ("p-receipt-gone", 2))
    signing = [*erasure_events(GONE, "dpo", [gone["event_id"]]),
               *erasure_events(OTHER, "dpo", [new_event_id()])]
    for receipt in (GONE, OTHER):
        stored = Receipt("erasure", "dpo", "2026-12-03T00:00:00Z", "2026-12-03T00:00:01Z", ["events"], 1,
                         [], [], receipt_id=receipt)
        store_receipt(es, s.index_prefix, stored)
    signing = [{**e, "timestamp": gone["timestamp"]} for e in signing]  # one daily index for all
    _publish(s, [*events, *signing])
    with running_workers(_env(s), tmp_path_factory.mktemp("workers")) as workers:
        total = len(events) + len(signing)
        assert wait_for_count(es, events_alias(s.index_prefix), total, workers) == total
        _wait_checkpointed(es, s, {*SESSIONS, *(e["session_id"] for e in signing)}, workers)
    yield s, es
    es.close()


def _verdict(s: Settings, session: str, *extra: str) -> tuple[int, str]:
    got = _cli(s, "verify", session, *extra, "--actor", "prober")
    return got.returncode, got.stdout + got.stderr


def _rewrite(es: Elasticsearch, hit: dict[str, Any], **changes: Any) -> None:
    es.index(index=hit["_index"], id=hit["_id"], document={**hit["_source"], **changes}, refresh=True)


@pytest.mark.timeout(300)
def test_field_edits_that_keep_the_content_are_still_modifications(
        trail: tuple[Settings, Elasticsearch]) -> None:
    """Swapping two events' seq, changing only a timestamp, or only the user_id of one event: each
    is ``modified`` (exit 1) and names a seq of the session; an untouched session stays intact."""
    s, es = trail
    a, b = _docs(es, s, "p-swap")[1:3]
    _rewrite(es, a, seq=b["_source"]["seq"])
    _rewrite(es, b, seq=a["_source"]["seq"])
    _rewrite(es, _docs(es, s, "p-stamp")[2], timestamp="2026-11-25T09:31:00Z")
    _rewrite(es, _docs(es, s, "p-who")[3], user_id="mallory")
    assert _verdict(s, "p-intact")[0] == 0
    for session, seq in (("p-swap", 1), ("p-stamp", 2), ("p-who", 3)):
        code, out = _verdict(s, session)
        assert (code, f"modified at seq {seq}" in out) == (1, True), (session, out)


@pytest.mark.timeout(300)
def test_a_copy_of_a_stored_event_under_a_new_id_is_an_insertion(
        trail: tuple[Settings, Elasticsearch]) -> None:
    """The same event stored a second time under another ``_id``: the trail now shows it twice
    (counts, timelines), which the signed chain does not account for: a non-zero verdict naming
    the duplicated seq: ``inserted`` (exit 5)."""
    s, es = trail
    hit = _docs(es, s, "p-dup")[2]
    es.index(index=hit["_index"], id=uuid.uuid4().hex, document=hit["_source"], refresh=True)
    code, out = _verdict(s, "p-dup")
    assert (code, "inserted at seq 2" in out, "stored more than once" in out) == (5, True, True), out


@pytest.mark.timeout(300)
def test_an_event_moved_to_another_daily_index_is_found(trail: tuple[Settings, Elasticsearch]) -> None:
    """An event re-filed under an earlier day's index (where retention deletes it early, or an
    erasure of that range misses it) is not where the sink puts it (its own day, or later when
    late): ``modified`` (exit 1) at its seq, saying it was moved."""
    s, es = trail
    hit = _docs(es, s, "p-moved")[1]
    other = event_index(s.index_prefix, "2026.01.01")
    es.index(index=other, id=hit["_id"], document=hit["_source"], refresh=True)
    es.delete(index=hit["_index"], id=hit["_id"], refresh=True)
    es.indices.refresh(index=events_alias(s.index_prefix))
    code, out = _verdict(s, "p-moved")
    assert (code, "modified at seq 1" in out, "moved between daily indices" in out) == (1, True, True), out


@pytest.mark.timeout(300)
def test_an_erased_event_whose_receipt_is_deleted_is_no_longer_intact(
        trail: tuple[Settings, Elasticsearch]) -> None:
    """A tombstone is intact only under a receipt that exists: delete the receipt and the session
    is ``modified`` (exit 1), saying the erasure has no known receipt."""
    s, es = trail
    _tombstone(es, _docs(es, s, "p-receipt-gone")[2], GONE)
    assert _verdict(s, "p-receipt-gone")[0] == 0
    es.delete(index=receipts_index(s.index_prefix), id=GONE, refresh=True)
    code, out = _verdict(s, "p-receipt-gone")
    assert (code, "erased without a known receipt" in out) == (1, True), out


@pytest.mark.timeout(300)
def test_a_tombstone_forged_under_a_real_receipt_for_an_event_never_forgotten_is_found(
        trail: tuple[Settings, Elasticsearch]) -> None:
    """An insider blanks an event nobody asked to forget and names a genuine, signed erasure
    receipt (of another user): ``modified`` (exit 1) at its seq, as no signed erasure lists it."""
    s, es = trail
    _tombstone(es, _docs(es, s, "p-forged-tomb")[3], OTHER)
    code, out = _verdict(s, "p-forged-tomb")
    assert (code, "modified at seq 3" in out, "no signed erasure of it lists" in out) == (1, True, True), out


@pytest.mark.timeout(300)
def test_an_edited_checkpoint_in_the_index_fails_verification(
        trail: tuple[Settings, Elasticsearch], tmp_path: Path) -> None:
    """A checkpoint document edited in Elasticsearch (a session head moved) breaks its signature:
    ``verify`` of a session it names is ``modified`` (exit 1); with the stream's own topic as the
    trusted copy the session verifies again, and the sweep flags the checkpoint chain."""
    s, es = trail
    alias = checkpoints_alias(s.index_prefix)
    es.indices.refresh(index=alias)
    naming = {"term": {"sessions.session_id": "p-cp-edit"}}
    hits = es.search(index=alias, size=100, query=naming)["hits"]["hits"]
    assert hits
    hit = hits[0]
    doc = hit["_source"]
    doc["sessions"] = [{**e, "seq": int(e["seq"]) + 1} if e["session_id"] == "p-cp-edit"
                       else e for e in doc["sessions"]]
    es.index(index=hit["_index"], id=hit["_id"], document=doc, refresh=True)
    code, out = _verdict(s, "p-cp-edit")
    assert (code, "not signed by a known key" in out) == (1, True), out
    kafka = _verdict(s, "p-cp-edit", "--checkpoints", "kafka")
    assert kafka[0] == 0, kafka[1]
    sweep = _cli(s, "verify", "--since", "2000-01-01", "--actor", "prober")
    assert sweep.returncode != 0 and "PROBLEMS" in sweep.stdout, sweep.stdout
