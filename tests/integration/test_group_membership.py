"""Workers that lose their consumer-group membership rejoin and carry on: nothing lost, nothing doubled.

A worker is frozen with SIGSTOP for longer than its session timeout (what a long pause, a stalled VM
or a network partition looks like to the group): the group gives its partitions away, and when it
wakes up its commits are refused ("Unknown member") and its partitions are gone. It must rejoin and
go on, and the pipeline's count must be exact.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.workers import running_workers
from tests.integration.test_es_outage import SESSIONS, SteadyLoad
from tests.integration.test_sink import _publish_redacted
from tests.integration.waiting import read_topic, signed, wait_for_count, wait_for_verdicts


def group_members(settings: Settings, group: str) -> list[str]:
    """The member ids of a consumer group, as the broker sees them now."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    described = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    return sorted(member.member_id for member in described.members)


def _exact(es: Elasticsearch, alias: str) -> int:
    es.indices.refresh(index=alias)
    return count_searchable(es, alias)


@pytest.mark.timeout(300)
def test_a_sink_frozen_past_its_session_timeout_rejoins_and_stores_every_event_once(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Frozen 15 s with a 6 s session: it loses the group, wakes up, rejoins; the count is exact."""
    n = 150_000  # enough that the freeze lands mid-stream even when the sink runs at full speed
    ids = _publish_redacted(settings, n)
    short = dataclasses.replace(settings, sink_batch=300, sink_max_poll_ms=6000)
    alias = events_alias(settings.index_prefix)
    with running_workers(short.to_env(), tmp_path, names=("sink",)) as workers:
        deadline = time.monotonic() + 60
        while count_searchable(es, alias) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        before = group_members(settings, settings.sink_group)
        workers.pause("sink")
        time.sleep(15)
        assert group_members(settings, settings.sink_group) == [], "the group must have dropped it"
        workers.resume("sink")
        assert count_searchable(es, alias) < n, "the freeze must land in the middle of the stream"
        more = _publish_redacted(settings, 5_000)
        assert wait_for_count(es, alias, n + 5_000, workers, timeout=180) == n + 5_000
        time.sleep(3)  # a replayed duplicate would have landed by now
        assert _exact(es, alias) == len(ids | more)
        after = group_members(settings, settings.sink_group)
        workers.check_alive()
    assert len(before) == len(after) == 1 and before != after  # a new membership, same process
    assert read_topic(settings, settings.topics.dlq, expected=1, timeout=3) == []


@pytest.mark.timeout(400)
def test_a_stream_worker_frozen_past_its_session_timeout_rejoins_and_every_chain_holds(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """The stream frozen 25 s (its session is 10 s) under steady load: it rejoins; every event is
    stored once and every session's hash chain is intact and checkpointed."""
    settings = signed(settings)
    alias = events_alias(settings.index_prefix)
    with running_workers(settings.to_env(), tmp_path / "logs") as workers, SteadyLoad(settings) as load:
        assert wait_for_count(es, alias, 500, workers) >= 500
        workers.pause("stream")
        time.sleep(25)
        workers.resume("stream")
        time.sleep(5)  # load keeps coming after it wakes up
        load.stop.set()
        load.thread.join(60)
        assert load.error is None, load.error
        sent = set(load.sent)
        assert wait_for_count(es, alias, len(sent), workers, timeout=180) == len(sent)
        time.sleep(3)
        assert _exact(es, alias) == len(sent)
        verdicts = wait_for_verdicts(es, settings, [f"outage-{s}" for s in range(SESSIONS)], workers)
        assert all(v.startswith("intact") for v in verdicts.values()), verdicts
    assert os.path.exists(tmp_path / "logs" / "stream.log")
