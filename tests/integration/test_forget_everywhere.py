"""Forget against the real Kafka, Elasticsearch and workers: one user spread over every store, then gone.

The user's data is in several daily indices (one sealed, one closed, some written under an older
redaction key), on ``agent.events``, the DLQ and the raw topic, in the access log and a released
hold. After ``agent-audit forget``, every topic read from the beginning and every index hold
nothing of their content; the receipt lists each store truthfully; a late event of theirs is
indexed only as its tombstone; a DLQ replay skips their letter.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from elasticsearch import Elasticsearch, NotFoundError

from agent_audit.cli.commands import main
from agent_audit.core.redaction import Redactor
from agent_audit.core.sealing import open_event
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.access_log import AccessLog
from agent_audit.sinks.compliance.holds import HoldStore
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.compliance.testing import store_events
from agent_audit.sinks.compliance.verification import verify_session
from agent_audit.sinks.dlq import replay
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.keystore import build_data_keys
from agent_audit.stack.workers import Workers, running_workers
from tests.factories import BASE_TIME, event
from tests.integration.waiting import read_topic, signed, wait_for_count, wait_for_verdicts

JANE = "jane@example.com"
SECRET = "the moon cactus plan"


@pytest.fixture
def rotated(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A redaction key rotated from v1 to v2, a one-second key cache, signed checkpoints; exported
    for the CLI."""
    s = dataclasses.replace(signed(settings), redaction_key="key-two", redaction_key_version="v2",
                            redaction_old_keys="v1=key-one", key_cache_s=1)
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    return s


def _jane(seq: int, day: int, session: str = "s-jane", user: str = JANE) -> dict[str, Any]:
    at = BASE_TIME + timedelta(days=day, minutes=seq)
    return event("input", seq, session=session, user=user, at=at,
                 payload={"type": "text", "content": f"{SECRET}, write to {JANE}"})


def _publish(settings: Settings, lines: list[tuple[str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for session, line in lines:
        partition = partition_for(session, settings.raw_partitions)
        producer.produce(settings.topics.raw, value=join_envelope([line]), partition=partition)
    assert producer.flush(30) == 0


def _old_key_documents(s: Settings, es: Elasticsearch) -> tuple[str, str, str]:
    """Jane's events stored under redaction key v1, in a sealed index and a closed one."""
    old_token = Redactor(key=b"key-one").redact_text(JANE)[0]
    sealed_day, closed_day = BASE_TIME - timedelta(days=10), BASE_TIME - timedelta(days=12)
    store_events(es, s.index_prefix, [
        *(dict(_jane(i, -10, "s-jane-old", old_token), payload={"type": "text", "content": SECRET})
          for i in range(2)),
        *(dict(_jane(i, -12, "s-jane-older", old_token), payload={"type": "text", "content": SECRET})
          for i in range(2))])
    sealed, closed = (f"{s.index_prefix}-events-{d:%Y.%m.%d}" for d in (sealed_day, closed_day))
    es.indices.put_settings(index=sealed, settings={"index.blocks.write": True})
    return old_token, sealed, closed  # closed by the test once the pipeline has filled the alias


def _records_and_holds(s: Settings, es: Elasticsearch) -> None:
    """An access-log entry naming Jane as stored (the old way) and a released hold on her."""
    AccessLog(es, s.index_prefix, redactor_for(s)).record("auditor", "user", {"user_id": JANE}, 3)
    holds = HoldStore(es, s.index_prefix, redactor_for(s))
    holds.release(holds.add("user", JANE, "case 12", "legal").hold_id, "legal")


def _all_topic_bytes(s: Settings) -> list[tuple[str, bytes]]:
    """Every record of every topic, from the beginning: keys, values and header values."""
    consumer = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": f"audit-{time.time()}",
                         "enable.auto.commit": False})
    out: list[tuple[str, bytes]] = []
    for topic in s.topics.all():
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, p, low)])
            got = 0
            while got < high - low:
                msg = consumer.poll(5)
                assert msg is not None, f"{topic}/{p}: fewer records than its watermarks say"
                if msg.error() is not None:
                    continue
                got += 1
                parts = [msg.key() or b"", msg.value() or b"", *(v or b"" for _, v in msg.headers() or [])]
                out.append((topic, b"\n".join(parts)))
    consumer.close()
    return out


def _all_documents(es: Elasticsearch, prefix: str, closed: str) -> dict[str, bytes]:
    es.indices.open(index=closed, wait_for_active_shards="1")
    es.indices.refresh(index=f"{prefix}-*")
    out = {}
    for name in es.indices.get(index=f"{prefix}-*"):
        hits = es.search(index=name, size=1000, query={"match_all": {}})["hits"]["hits"]
        out[name] = orjson.dumps([h["_source"] for h in hits])
    return out


def _wait_for_document(es: Elasticsearch, pattern: str, doc_id: str, workers: Workers) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        workers.check_alive()
        es.indices.refresh(index=pattern)  # a pattern skips closed indices, an alias refuses them
        hits = es.search(index=pattern, query={"ids": {"values": [doc_id]}})["hits"]["hits"]
        if hits:
            return dict(hits[0]["_source"])
        time.sleep(0.5)
    raise AssertionError(f"{doc_id} never reached {pattern}")


@pytest.mark.timeout(420)
def test_forget_reaches_every_store_and_the_receipt_says_so(
        rotated: Settings, es: Elasticsearch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After forget nothing of the user's content is readable in any topic or index, the receipt
    lists every store with its real status, and a late event of theirs lands only as a tombstone."""
    s, prefix, alias = rotated, rotated.index_prefix, events_alias(rotated.index_prefix)
    old_token, sealed, closed = _old_key_documents(s, es)
    _records_and_holds(s, es)
    new_token = redactor_for(s).redact_text(JANE)[0]
    jane = [_jane(seq, day) for seq, day in enumerate((-2, -2, -1, -1, 0, 0))]
    bob = [event("input", i, session="s-bob", user="bob-1") for i in range(4)]
    bad = {**_jane(99, 0, "s-jane-bad"), "kind": "tool_call"}  # a tool call without its fields: DLQ
    lines = [(e["session_id"], orjson.dumps(e)) for e in [*jane, *bob, bad]]

    with running_workers(s.to_env(), tmp_path) as workers:
        _publish(s, lines)
        assert wait_for_count(es, alias, len(jane) + len(bob) + 4, workers) >= len(jane) + len(bob) + 4
        assert len(read_topic(s, s.topics.dlq, expected=1)) == 1
        es.indices.close(index=closed)
        time.sleep(3)  # the stream commits its offsets every second
        assert main(["forget", JANE, "--actor", "dpo@corp"]) == 0
        receipt = orjson.loads(capsys.readouterr().out)

        everything = _all_topic_bytes(s)
        late = _jane(6, 0)
        _publish(s, [("s-jane", orjson.dumps(late))])
        # Her session still verifies with the public key: its events erased under the receipt.
        verdicts = wait_for_verdicts(es, s, ["s-jane"], workers)
        assert verdicts["s-jane"].startswith("intact"), verdicts
        assert f"erased under receipt {receipt['receipt_id']}" in verdicts["s-jane"], verdicts
        tombstone = _wait_for_document(es, f"{prefix}-events-*", late["event_id"], workers)
        # The late copy's tombstone came after forget signed its list, so no signed erasure lists it
        # (an insider's blank looks the same); forget again signs it under the first receipt.
        assert verify_session(es, s, "s-jane").status == "modified"
        assert main(["forget", JANE, "--actor", "dpo@corp"]) == 0
        assert "published 1 erased event id(s)" in capsys.readouterr().err
        verdicts = wait_for_verdicts(es, s, ["s-jane"], workers)
        assert verdicts["s-jane"].startswith("intact"), verdicts

    # The receipt: every store, each with its status.
    stores = {st["store"]: st for st in receipt["stores"]}
    erased_days = {f"{prefix}-events-{(BASE_TIME + timedelta(days=d)):%Y.%m.%d}" for d in (-2, -1, 0)}
    for name in [*erased_days, sealed, closed]:
        assert stores[name]["status"] == "erased" and stores[name]["documents"] >= 2, name
    assert stores[s.topics.events]["status"] == stores[s.topics.dlq]["status"] == "shredded"
    assert stores[s.topics.raw]["status"] in ("erased", "expiring")
    assert stores[f"{prefix}-access-log"]["status"] == "pseudonymized"
    assert stores[f"{prefix}-access-log"]["documents"] == 1
    assert stores[f"{prefix}-legal-holds"]["status"] == "pseudonymized"
    assert stores[s.topics.state]["status"] == "no user data"
    assert any(st["kind"] == "agent" and st["status"] == "operator action" for st in receipt["stores"])
    if stores[s.topics.raw]["status"] == "erased":
        assert receipt["status"] == "complete" and receipt["pending_until"] is None
    else:
        assert receipt["status"] == "pending" and receipt["pending_until"] == stores[s.topics.raw]["until"]
    assert receipt["subject_digest"].startswith("s1:") and JANE not in orjson.dumps(receipt).decode()

    # Kafka, every topic from the beginning: no clear content; Jane's sealed events do not open.
    keys = build_data_keys(s, es)
    for topic, data in everything:
        for value in (JANE, SECRET, old_token, new_token):
            assert value.encode() not in data, f"{value!r} readable on {topic}"
    jane_events = [d for t, d in everything if t == s.topics.events and b"s-jane" in d.split(b"\n")[0]]
    assert len(jane_events) >= len(jane)
    for data in jane_events:
        assert open_event(data.split(b"\n")[1], keys).shredded

    # Elasticsearch, every index: nothing of Jane; her events are tombstones under the receipt.
    for name, data in _all_documents(es, prefix, closed).items():
        for value in (JANE, SECRET, *((old_token, new_token) if not name.endswith("receipts") else ())):
            assert value.encode() not in data, f"{value!r} readable in {name}"
    erased = es.search(index=f"{prefix}-events-*", size=100, query={"exists": {"field": "erased"}})
    assert {h["_source"]["erased"]["receipt"] for h in erased["hits"]["hits"]} == {receipt["receipt_id"]}
    assert len(erased["hits"]["hits"]) == len(jane) + 4 + 1  # + the late one
    assert es.count(index=alias, query={"term": {"user_id": "bob-1"}})["count"] == len(bob)

    # The late event: indexed as its tombstone only; a DLQ replay skips Jane's letter.
    assert tombstone["erased"]["receipt"] == receipt["receipt_id"]
    assert "payload" not in tombstone and "user_id" not in tombstone
    assert replay(s).shredded == 1
    with pytest.raises(NotFoundError):
        es.get(index=f"{prefix}-access-log", id="none")
