"""Kafka away: no worker gives up, and once the broker is back every event is stored and archived once.

Each test runs a Kafka broker of its own (``KafkaNode`` on a free port pair, its own state folder),
so stopping it cannot disturb the shared broker or the other tests; Elasticsearch and S3 are the
shared ones, under this test's prefixes. The broker is restarted on the same port and data folder,
as an operator or an orchestrator restarts one. Events flow the whole way: raw envelopes -> stream
-> agent.events -> the Elasticsearch sink and the archive worker. The load's producer buffers while
the broker is away (librdkafka keeps a message for ``message.timeout.ms``, five minutes).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.store import build_store
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.kafka import KafkaNode
from agent_audit.stack.namespace import drop_namespace
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import port_open
from agent_audit.stack.workers import Workers, running_workers
from agent_audit.stream.topics import create_topics
from tests.factories import BASE_TIME, event
from tests.integration.test_archive import _archived_rows, _wait_archived
from tests.integration.test_es_outage import SESSIONS, SteadyLoad
from tests.integration.waiting import wait_for_count

OUTAGE_S = 20.0
WORKERS = ("stream", "sink", "archive")


class BufferedLoad(SteadyLoad):
    """``SteadyLoad`` through a producer configured as the agent client's (``producers.publisher``):
    idempotent, so the batches it buffered while the broker was away land in order when it returns
    (a plain producer may reorder them on retry, and the stream dead-letters a session out of
    order), and every delivery is checked (a failed one is an error of the load, not a loss)."""

    def _run(self) -> None:
        failed: list[str] = []
        try:
            producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "linger.ms": 5,
                                 "enable.idempotence": True})
            seqs = [0] * SESSIONS
            while not self.stop.is_set():
                by_partition: dict[int, list[bytes]] = {}
                for s in range(SESSIONS):
                    ev = event("tool_call" if seqs[s] % 2 else "input", seqs[s], session=f"outage-{s}")
                    seqs[s] += 1
                    self.sent.append(ev["event_id"])
                    by_partition.setdefault(partition_for(ev["session_id"], self.settings.raw_partitions),
                                            []).append(orjson.dumps(ev))
                for p, lines in by_partition.items():
                    producer.produce(self.settings.topics.raw, value=join_envelope(lines), partition=p,
                                     on_delivery=lambda err, _msg: failed.append(str(err)) if err else None)
                producer.poll(0)
                self.stop.wait(self.tick_s)
            assert producer.flush(60) == 0
            assert not failed, f"{len(failed)} envelopes not delivered, first: {failed[0]}"
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            self.error = exc


def _free_port_pair() -> int:
    # The broker listens on the port, its controller on the next one.
    for port in range(29100, 29300, 2):
        if not port_open("127.0.0.1", port) and not port_open("127.0.0.1", port + 1):
            return port
    raise RuntimeError("no free port pair for a Kafka broker of this test's own")


@pytest.fixture
def own_kafka() -> Iterator[KafkaNode]:
    # Not under pytest's basetemp: concurrent pytest sessions of the same user prune each other's.
    state = Path(tempfile.mkdtemp(prefix="agent-audit-kafka-outage-"))
    node = KafkaNode(StackPaths(cache=StackPaths.from_env().cache, state=state), port=_free_port_pair(),
                     heap="384m")
    try:
        node.up(timeout=180)
        yield node
    finally:
        node.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def outage_env(own_kafka: KafkaNode, stack_env: dict[str, str], s3_env: dict[str, str]
               ) -> Iterator[dict[str, str]]:
    """The workers' environment: this test's broker, the shared Elasticsearch and S3 under prefixes
    of this test's own (indices and objects dropped after), topics created on the broker."""
    tag = uuid.uuid4().hex[:8]
    env = {
        **stack_env, **s3_env,
        "KAFKA_BOOTSTRAP": own_kafka.bootstrap,
        "AUDIT_MODE": "development",
        # The load's events carry a fixed BASE_TIME: keep it inside the stream's arrival window.
        "AUDIT_MAX_EVENT_AGE_S": str(int((datetime.now(UTC) - BASE_TIME).total_seconds()) + 30 * 86_400),
        "AUDIT_TOPIC_PREFIX": f"k{tag}.", "AUDIT_INDEX_PREFIX": f"k{tag}-agent",
        "AUDIT_STREAM_APP_ID": f"k{tag}-stream", "AUDIT_SINK_GROUP": f"k{tag}-sink",
        "AUDIT_ARCHIVE_PREFIX": f"k{tag}-archive", "AUDIT_ARCHIVE_GROUP": f"k{tag}-archive",
        "AUDIT_ARCHIVE_LINGER_S": "0.5",
        "AUDIT_RAW_PARTITIONS": "3", "AUDIT_EVENTS_PARTITIONS": "3",
    }
    settings = Settings.from_env(env)
    create_topics(settings)
    yield {**settings.to_env(), **env}
    store = build_store(ArchiveSettings.from_env(env))
    for key in store.list(""):
        store.delete(key)
    if own_kafka.running():
        drop_namespace(settings)  # the broker goes with its folder; the indices must go too


def _away(workers: Workers, seconds: float) -> None:
    """Let ``seconds`` pass with the broker away, failing at once if a worker gives up."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        workers.check_alive()
        time.sleep(1)


def _records_on(settings: Settings, topic: str) -> int:
    """How many records ``topic`` holds (no compaction, no transactions: offsets count records)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "watermarks"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        total = 0
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            total += high - low
        return total
    finally:
        consumer.close()


def _assert_stored_and_archived_once(env: dict[str, str], es: Elasticsearch, sent: list[str],
                                     workers: Workers) -> None:
    settings = Settings.from_env(env)
    alias = events_alias(settings.index_prefix)
    assert len(set(sent)) == len(sent)
    stored = wait_for_count(es, alias, len(sent), workers, timeout=240)
    assert _records_on(settings, settings.topics.dlq) == 0, "no event may be dead-lettered"
    assert stored == len(sent)
    _wait_archived(ArchiveSettings.from_env(env), len(sent), workers, timeout=240.0)
    time.sleep(5)  # a replayed duplicate would have landed by now
    workers.check_alive()
    es.indices.refresh(index=alias)
    assert count_searchable(es, alias) == len(sent)
    ids = es.search(index=alias, size=0, aggs={"ids": {"cardinality": {
        "field": "event_id", "precision_threshold": 40_000}}})
    assert ids["aggregations"]["ids"]["value"] == pytest.approx(len(sent), rel=0.001)
    rows, archived = _archived_rows(ArchiveSettings.from_env(env))
    assert rows == len(sent), f"{rows} archived rows for {len(sent)} events"
    assert sorted(archived) == sorted(sent)
    # Elasticsearch and the archive absorb copies; none should have been made: the outage put no
    # second copy on agent.events (the stream's producer waits for its records, never sends twice).
    assert _records_on(settings, settings.topics.events) == len(sent)


@pytest.mark.timeout(600)
def test_workers_started_while_kafka_is_down_wait_for_it_and_lose_nothing(
        own_kafka: KafkaNode, outage_env: dict[str, str], es: Elasticsearch, tmp_path: Path) -> None:
    """The broker is down when the stream, the sink and the archive worker start (a cold start in
    the wrong order), and stays down 20 s while the agent side buffers: every worker stays up, and
    once the broker is up every event is stored once in Elasticsearch and archived once."""
    settings = Settings.from_env(outage_env)
    assert own_kafka.down()
    with running_workers(outage_env, tmp_path, names=WORKERS) as workers, BufferedLoad(settings) as load:
        _away(workers, OUTAGE_S)
        for name in WORKERS:  # each one says that it waits
            assert f"{name}.kafka.waiting" in (tmp_path / f"{name}.log").read_text(errors="replace")
        assert own_kafka.up(timeout=180) == "started"
        _away(workers, 10)  # events keep coming once the broker is back
        load.stop.set()
        load.thread.join(90)
        assert load.error is None, load.error
        _assert_stored_and_archived_once(outage_env, es, load.sent, workers)


@pytest.mark.timeout(600)
def test_kafka_restarted_under_load_loses_and_doubles_nothing(
        own_kafka: KafkaNode, outage_env: dict[str, str], es: Elasticsearch, tmp_path: Path) -> None:
    """The broker is stopped for 20 s while events flow through the stream, the sink and the archive
    worker, then started again on the same port and data folder: every worker stays up, and every
    event published is stored once in Elasticsearch and archived once."""
    settings = Settings.from_env(outage_env)
    alias = events_alias(settings.index_prefix)
    with running_workers(outage_env, tmp_path, names=WORKERS) as workers, BufferedLoad(settings) as load:
        assert wait_for_count(es, alias, 500, workers, timeout=180) >= 500, "flowing before the outage"
        assert own_kafka.down()  # SIGTERM, as an operator or an orchestrator stops a broker
        sent_before = len(load.sent)
        _away(workers, OUTAGE_S)
        assert own_kafka.up(timeout=180) == "started"
        _away(workers, 10)
        load.stop.set()
        load.thread.join(90)
        assert load.error is None, load.error
        assert len(load.sent) > sent_before + 1000, "events must have kept coming during the outage"
        _assert_stored_and_archived_once(outage_env, es, load.sent, workers)

