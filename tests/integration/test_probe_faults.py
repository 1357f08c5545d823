"""Fault probes: whoever can publish to Kafka writes straight to the topics after the stream.

test_poison_inputs.py covers the raw topic. Here malformed records go to ``agent.events`` (not
JSON, not an object, no id, nested 5,000 deep, garbage under valid headers) and to the checkpoints
topic (garbage, and an unsigned checkpoint under valid headers). The rule: the sink neither
crashes nor stalls (events published afterwards are stored), no malformed record is indexed, and
a session whose partition got a forged checkpoint still verifies with the public key.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import checkpoints_alias, events_alias
from agent_audit.stack.namespace import drop_namespace
from agent_audit.stack.workers import running_workers
from agent_audit.stream.topics import create_topics
from tests.factories import event
from tests.integration.waiting import signed, wait_for_count, wait_for_verdicts

SESSION = "f-ok"
Headers = list[tuple[str, str | bytes | None]]
TODAY = datetime.now(UTC).strftime("%Y.%m.%d")


def _bad_events() -> list[tuple[bytes, Headers]]:
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    return [(b"\xff\xfe not json", []), (b"[1,2,3]", []), (b'{"no":"id"}', []), (nested, []),
            (b"not json either", [("event_id", b"forged-id"), ("day", TODAY.encode())])]


def _forged_checkpoint(s: Settings) -> tuple[bytes, Headers]:
    part = partition_for(SESSION, s.raw_partitions)
    cp_id = f"{s.topics.raw}/{part}/999"
    record = {"type": "checkpoint", "checkpoint_id": cp_id, "log": s.topics.raw, "partition": part,
              "number": 999, "closed_at": datetime.now(UTC).isoformat(), "prev": "00" * 32,
              "root": "00" * 32, "tree_size": 1,
              "sessions": [{"session_id": SESSION, "seq": 0, "hash": "00"}],
              "key_id": "mallory", "signature": "AAAA"}
    return orjson.dumps(record), [("checkpoint_id", cp_id.encode()), ("day", TODAY.encode())]


@pytest.fixture(scope="module")
def after_faults(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[Settings, Elasticsearch, dict[str, str]]]:
    """The malformed records, then valid events, through the real workers; the session's verdict."""
    s = signed(_namespace(stack_env))
    es = Elasticsearch(stack_env["ES_URL"], request_timeout=30)
    producer = Producer({"bootstrap.servers": s.kafka_bootstrap})
    for value, headers in _bad_events():
        for p in range(s.events_partitions):
            producer.produce(s.topics.events, value=value, headers=headers, partition=p)
    for value, headers in ((b"garbage", []), _forged_checkpoint(s)):
        producer.produce(s.topics.checkpoints, value=value, headers=headers)
    valid = [event("input", i, session=SESSION, at=datetime.now(UTC)) for i in range(5)]
    raw_part = partition_for(SESSION, s.raw_partitions)
    producer.produce(s.topics.raw, value=join_envelope([orjson.dumps(e) for e in valid]), partition=raw_part)
    assert producer.flush(30) == 0
    with running_workers(s.to_env(), tmp_path_factory.mktemp("workers")) as workers:
        stored = wait_for_count(es, events_alias(s.index_prefix), len(valid), workers, timeout=120)
        assert stored >= len(valid)
        verdicts = wait_for_verdicts(es, s, [SESSION], workers, timeout=60)
        workers.check_alive()
    es.indices.refresh(index=f"{s.index_prefix}-*")
    yield s, es, {"ids": orjson.dumps(sorted(e["event_id"] for e in valid)).decode(), **verdicts}
    es.close()
    drop_namespace(s)


def _namespace(stack_env: dict[str, str]) -> Settings:
    """A namespace of this module's own, as the conftest makes one per test; topics created."""
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, **stack_env, "AUDIT_MODE": "development", "AUDIT_TOPIC_PREFIX": f"t{tag}.",
           "AUDIT_INDEX_PREFIX": f"t{tag}-agent", "AUDIT_STREAM_APP_ID": f"t{tag}-stream",
           "AUDIT_SINK_GROUP": f"t{tag}-sink", "AUDIT_RAW_PARTITIONS": "3", "AUDIT_EVENTS_PARTITIONS": "3"}
    s = Settings.from_env(env)
    create_topics(s)
    return s


@pytest.mark.timeout(300)
def test_malformed_records_on_the_events_topic_neither_stop_the_sink_nor_get_indexed(
        after_faults: tuple[Settings, Elasticsearch, dict[str, str]]) -> None:
    """Garbage, a JSON array, an object without id, JSON nested 5,000 deep and garbage under valid
    headers on ``agent.events``: the sink stays alive, stores the valid events published after
    them, and indexes none of the bad records."""
    s, es, seen = after_faults
    stored = es.search(index=events_alias(s.index_prefix), size=100, query={"match_all": {}})["hits"]["hits"]
    assert orjson.dumps(sorted(h["_id"] for h in stored)).decode() == seen["ids"]


@pytest.mark.timeout(300)
def test_an_unsigned_checkpoint_published_to_kafka_is_not_indexed_and_breaks_no_verdict(
        after_faults: tuple[Settings, Elasticsearch, dict[str, str]]) -> None:
    """Anyone who can publish writes a checkpoint without a valid signature for a live partition:
    it is not indexed, and the sessions of that partition still verify intact."""
    s, es, seen = after_faults
    forged = es.search(index=checkpoints_alias(s.index_prefix), query={"term": {"number": 999}})
    assert forged["hits"]["hits"] == [], "an unsigned checkpoint was indexed"
    assert seen[SESSION].startswith("intact"), seen
