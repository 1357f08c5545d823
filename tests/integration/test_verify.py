"""`agent-audit verify`: a session's hash chain as stored in Elasticsearch — intact, broken, missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import events_alias
from agent_audit.stack.workers import running_workers
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from tests.factories import event
from tests.integration.waiting import wait_for_count

ROOT = Path(__file__).parents[2]


def _verify(settings: Settings, session: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_audit.cli.main", "verify", session],
                          env={**os.environ, **settings.to_env()}, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.timeout(240)
def test_verify_reports_intact_then_the_seq_of_an_edit_and_of_a_deletion(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Stored by the pipeline: intact; a document edited in place: broken at its seq; one deleted: missing."""
    session = "verify-me"
    lines = [orjson.dumps(event("input", i, session=session)) for i in range(12)]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.topics.raw, value=join_envelope(lines),
                     partition=partition_for(session, settings.raw_partitions))
    assert producer.flush(30) == 0
    alias = events_alias(settings.index_prefix)
    with running_workers(settings.to_env(), tmp_path) as workers:
        assert wait_for_count(es, alias, 12, workers) == 12

    ok = _verify(settings, session)
    assert ok.returncode == 0
    assert "intact (12 events)" in ok.stdout

    hit = es.search(index=alias, query={"term": {"seq": 7}})["hits"]["hits"][0]
    edited = {**hit["_source"], "payload": {**hit["_source"]["payload"], "content": "rewritten"}}
    es.index(index=hit["_index"], id=hit["_id"], document=edited, refresh=True)
    broken = _verify(settings, session)
    assert broken.returncode == 1
    assert "broken at seq 7" in broken.stdout

    gone = es.search(index=alias, query={"term": {"seq": 3}})["hits"]["hits"][0]
    es.delete(index=gone["_index"], id=gone["_id"], refresh=True)
    assert "missing at seq 3" in _verify(settings, session).stdout
