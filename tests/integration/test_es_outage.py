"""Elasticsearch stopped for 30 s under load: the sink waits and retries, nothing is lost or doubled.

The test runs an Elasticsearch node of its own (same distribution, its own port and data folder),
so stopping it cannot disturb the other tests, and it works when the suite uses an outside stack.
Events flow the whole way: raw envelopes -> stream -> agent.events -> sink -> Elasticsearch.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.elasticsearch import ElasticsearchNode
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import port_open
from agent_audit.stack.workers import running_workers
from tests.factories import event
from tests.integration.waiting import read_topic, wait_for_count

OUTAGE_S = 30.0
SESSIONS = 40


def _free_port() -> int:
    # The node also listens on port + 100 for its transport.
    for port in range(19250, 19350):
        if not port_open("127.0.0.1", port) and not port_open("127.0.0.1", port + 100):
            return port
    raise RuntimeError("no free port pair for a second Elasticsearch node")


@pytest.fixture
def own_es(tmp_path: Path) -> Iterator[ElasticsearchNode]:
    paths = StackPaths(cache=StackPaths.from_env().cache, state=tmp_path / "stack")
    node = ElasticsearchNode(paths, port=_free_port(), heap="384m")
    node.up()
    try:
        yield node
    finally:
        node.down()


class SteadyLoad:
    """Publishes envelopes of events on the raw topic at a steady pace until stopped."""

    def __init__(self, settings: Settings, per_tick: int = 40, tick_s: float = 0.1) -> None:
        self.settings = settings
        self.per_tick, self.tick_s = per_tick, tick_s
        self.sent: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "linger.ms": 5})
            seqs = [0] * SESSIONS
            tick = 0
            while not self.stop.is_set():
                by_partition: dict[int, list[bytes]] = {}
                for i in range(self.per_tick):
                    s = (tick * self.per_tick + i) % SESSIONS
                    ev = event("tool_call" if seqs[s] % 2 else "input", seqs[s], session=f"outage-{s}")
                    seqs[s] += 1
                    self.sent.append(ev["event_id"])
                    p = partition_for(ev["session_id"], self.settings.raw_partitions)
                    by_partition.setdefault(p, []).append(orjson.dumps(ev))
                for p, lines in by_partition.items():
                    producer.produce(self.settings.topics.raw, value=join_envelope(lines), partition=p)
                producer.poll(0)
                tick += 1
                self.stop.wait(self.tick_s)
            assert producer.flush(30) == 0
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            self.error = exc

    def __enter__(self) -> SteadyLoad:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(60)


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _metric(scraped: str, name: str) -> float:
    total = 0.0
    for line in scraped.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.split()[-1])
    return total


@pytest.mark.timeout(400)
def test_elasticsearch_stopped_for_30_s_under_load_loses_and_doubles_nothing(
        settings: Settings, own_es: ElasticsearchNode, tmp_path: Path) -> None:
    port = 19700 + os.getpid() % 200
    target = dataclasses.replace(settings, es_url=own_es.url, sink_batch=500)
    es = Elasticsearch(own_es.url, request_timeout=30)
    alias = events_alias(settings.index_prefix)
    with running_workers(target.to_env(), tmp_path / "logs", names=("stream",)) as workers, \
            SteadyLoad(settings) as load:
        # Only the sink serves metrics here: the two workers would want the same port.
        workers.start("sink", {**os.environ, **dataclasses.replace(target, metrics_port=port).to_env()})
        flowing = wait_for_count(es, alias, 500, workers)
        assert flowing >= 500, "the pipeline must be flowing before the outage"

        own_es.down()  # SIGTERM, as an operator or an orchestrator stops a node
        down_at = time.monotonic()
        sent_before_outage = len(load.sent)
        while time.monotonic() - down_at < OUTAGE_S:
            workers.check_alive()  # the sink waits; it must not crash or give up
            time.sleep(1)
        retries_during_outage = _metric(_scrape(port), "audit_sink_bulk_retries_total")
        own_es.up()
        time.sleep(5)  # load keeps coming after the node is back
        load.stop.set()
        load.thread.join(60)
        assert load.error is None, load.error
        sent = set(load.sent)
        assert len(sent) > sent_before_outage + 1000, "events must have kept coming during the outage"

        wait_for_count(es, alias, len(sent), workers, timeout=180)
        time.sleep(3)  # a replayed duplicate would have landed by now
        es.indices.refresh(index=alias)
        assert count_searchable(es, alias) == len(sent)
        scraped = _scrape(port)

    assert retries_during_outage > 0, "the sink must have retried while the node was away"
    assert _metric(scraped, "audit_sink_dead_letters_total") == 0
    assert read_topic(settings, settings.topics.dlq, expected=1, timeout=3) == []
    stored = es.search(index=alias, size=0, aggs={"ids": {"cardinality": {
        "field": "event_id", "precision_threshold": 40_000}}})
    assert stored["aggregations"]["ids"]["value"] == pytest.approx(len(sent), rel=0.001)
    es.close()


@pytest.mark.timeout(300)
def test_the_sink_keeps_its_group_membership_through_an_outage_longer_than_max_poll_interval(
        settings: Settings, own_es: ElasticsearchNode, tmp_path: Path) -> None:
    """max.poll.interval.ms is 6 s, Elasticsearch is away 20 s with a batch in flight: the sink keeps
    polling (paused), stays the same member of its group, and then stores every event once."""
    from tests.integration.test_group_membership import group_members  # noqa: PLC0415
    from tests.integration.test_sink import _publish_redacted  # noqa: PLC0415

    n = 20_000
    ids = _publish_redacted(settings, n)
    target = dataclasses.replace(settings, es_url=own_es.url, sink_batch=300, sink_max_poll_ms=6000)
    es = Elasticsearch(own_es.url, request_timeout=30)
    alias = events_alias(settings.index_prefix)
    with running_workers(target.to_env(), tmp_path, names=("sink",)) as workers:
        assert wait_for_count(es, alias, 1_000, workers) >= 1_000
        member = group_members(settings, settings.sink_group)
        own_es.down()
        down_at = time.monotonic()
        while time.monotonic() - down_at < 20:
            workers.check_alive()
            time.sleep(1)
        assert group_members(settings, settings.sink_group) == member, "it must not have left its group"
        own_es.up()
        assert wait_for_count(es, alias, n, workers, timeout=180) == n
        time.sleep(3)
        es.indices.refresh(index=alias)
        assert count_searchable(es, alias) == len(ids)
        assert group_members(settings, settings.sink_group) == member
    assert "partitions.lost" not in (tmp_path / "sink.log").read_text()
    es.close()


@pytest.mark.timeout(400)
def test_workers_started_while_elasticsearch_is_down_wait_for_it_and_store_every_event_once(
        settings: Settings, own_es: ElasticsearchNode, tmp_path: Path) -> None:
    """The node is down when the stream and the sink start (a cold start in the wrong order): both
    stay up, the sink says it waits, and once the node is up every event is stored exactly once."""
    target = dataclasses.replace(settings, es_url=own_es.url)
    alias = events_alias(settings.index_prefix)
    own_es.down()
    with running_workers(target.to_env(), tmp_path, names=("stream", "sink")) as workers, \
            SteadyLoad(settings) as load:
        down_at = time.monotonic()
        while time.monotonic() - down_at < 15 or "sink.es.retry" not in (tmp_path / "sink.log").read_text():
            workers.check_alive()  # waiting, not dead
            assert time.monotonic() - down_at < 120, "the sink never said it waits for Elasticsearch"
            time.sleep(1)
        own_es.up()
        time.sleep(3)
        load.stop.set()
        load.thread.join(60)
        assert load.error is None, load.error
        es = Elasticsearch(own_es.url, request_timeout=30)
        assert wait_for_count(es, alias, len(load.sent), workers, timeout=180) == len(load.sent)
        time.sleep(3)  # a replayed duplicate would have landed by now
        es.indices.refresh(index=alias)
        assert count_searchable(es, alias) == len(load.sent) == len(set(load.sent))
        es.close()
