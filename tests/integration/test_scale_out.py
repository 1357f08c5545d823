"""Two stream and two sink workers in the same groups, crashed and restarted under load: exact result.

What scaling out relies on: partitions spread over the workers of a group, a crash hands its
partitions to the survivor (rebalance mid-batch), a restart takes some back. Twice, one worker of
each stage is killed with SIGKILL and restarted while events keep coming. At the end every event is
stored exactly once and every session's hash chain is intact.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.workers import running_workers
from tests.integration.test_es_outage import SESSIONS, SteadyLoad
from tests.integration.test_group_membership import group_members
from tests.integration.waiting import read_topic, signed, wait_for_count, wait_for_verdicts


def _env(settings: Settings, name: str, tmp_path: Path) -> dict[str, str]:
    # Each stream worker keeps its local data apart, as separate deployments would.
    data = tmp_path / "data" / name
    data.mkdir(parents=True, exist_ok=True)
    return {**os.environ, **settings.to_env(), "AUDIT_STREAM_DATA_DIR": str(data)}


@pytest.mark.timeout(900)
def test_two_workers_per_stage_killed_and_restarted_twice_under_load_store_every_event_once(
        settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """kill -9 of one stream and one sink worker, restart, twice, under load: exact count, no
    duplicate, every chain intact and checkpointed, both groups back to two members."""
    settings = signed(settings)
    names = ("stream-1", "stream-2", "sink-1", "sink-2")
    alias = events_alias(settings.index_prefix)
    with running_workers(settings.to_env(), tmp_path / "logs", names=()) as workers, \
            SteadyLoad(settings, per_tick=80) as load:
        for name in names:
            workers.start(name, _env(settings, name, tmp_path))
        reached = wait_for_count(es, alias, 1_000, workers, timeout=120)
        assert reached >= 1_000
        for victim in ("1", "2"):
            time.sleep(5)
            workers.kill(f"stream-{victim}")
            workers.kill(f"sink-{victim}")
            time.sleep(5)  # the survivors take over the partitions, under load
            for stage in ("stream", "sink"):
                workers.start(f"{stage}-{victim}", _env(settings, f"{stage}-{victim}", tmp_path))
            reached = wait_for_count(es, alias, reached + 1_000, workers, timeout=120)
        time.sleep(5)
        load.stop.set()
        load.thread.join(60)
        assert load.error is None, load.error
        sent = set(load.sent)
        assert wait_for_count(es, alias, len(sent), workers, timeout=240) == len(sent)
        time.sleep(3)  # a replayed duplicate would have landed by now
        es.indices.refresh(index=alias)
        assert count_searchable(es, alias) == len(sent)
        assert len(group_members(settings, settings.sink_group)) == 2
        assert len(group_members(settings, settings.stream_app_id)) == 2
        verdicts = wait_for_verdicts(es, settings, [f"outage-{s}" for s in range(SESSIONS)], workers)
        assert all(v.startswith("intact") for v in verdicts.values()), verdicts
    assert read_topic(settings, settings.topics.dlq, expected=1, timeout=3) == []
