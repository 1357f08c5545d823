"""A test's or benchmark's namespace is dropped whole when it ends, and nothing else with it."""

from __future__ import annotations

import dataclasses

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.indices import install_templates
from agent_audit.stack.namespace import drop_namespace
from agent_audit.stream.topics import create_topics


@pytest.mark.timeout(120)
def test_drop_namespace_removes_its_topics_indices_and_templates_only(
        settings: Settings, es: Elasticsearch) -> None:
    other = dataclasses.replace(settings, topic_prefix=f"o{settings.topic_prefix}",
                                index_prefix=f"o{settings.index_prefix}",
                                stream_app_id=f"o{settings.stream_app_id}")
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for s in (settings, other):
        create_topics(s)
        install_templates(es, s.index_prefix)
        es.index(index=f"{s.index_prefix}-events-2026.11.25", document={"event_id": "e1"}, refresh=True)
    internal = f"{settings.stream_app_id}-__assignor-__leader"  # one of the stream's own topics
    admin.create_topics([NewTopic(internal, num_partitions=1, replication_factor=1)])[internal].result(30)

    try:
        drop_namespace(settings)

        left = set(admin.list_topics(timeout=10).topics)
        assert not set(settings.topics.all()) & left and internal not in left
        assert set(other.topics.all()) <= left
        assert es.indices.get(index=f"{settings.index_prefix}*", allow_no_indices=True) == {}
        assert not es.indices.exists_index_template(name=f"{settings.index_prefix}-events")
        assert es.indices.exists(index=f"{other.index_prefix}-events-2026.11.25")
        assert es.indices.exists_index_template(name=f"{other.index_prefix}-events")
        drop_namespace(settings)  # twice: nothing left to drop is no error
    finally:
        drop_namespace(other)


def test_the_unprefixed_namespace_is_never_dropped() -> None:
    with pytest.raises(ValueError, match="unprefixed"):
        drop_namespace(Settings())
    with pytest.raises(ValueError, match="unprefixed"):
        drop_namespace(dataclasses.replace(Settings(), topic_prefix="t1."))
