"""Dropping a throwaway namespace: the topics, indices and templates that one test or benchmark made.

Tests and benchmarks give each run a topic and index prefix of its own, so that runs never see each
other's data. On a stack that stays up (``AUDIT_KEEP_STACK=1``, ``make stack-up``) those namespaces
piled up, hundreds of indices and thousands of topics on a one-node stack, and every later run
(and every benchmark figure) got slower; each is now dropped when its run ends.
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch, NotFoundError

from agent_audit.core.es_security import elasticsearch_options
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["drop_namespace"]

_BATCH = 50  # index names per delete request: explicit names (wildcard deletes are refused), short URLs


def drop_namespace(settings: Settings, timeout: float = 30.0) -> None:
    """Delete the indices and index templates under ``settings.index_prefix`` and the topics under
    ``settings.topic_prefix`` (the stream's internal topics under its app id too). Refuses the
    unprefixed namespace, where real audit trails live."""
    if not settings.topic_prefix or settings.index_prefix == Settings().index_prefix:
        raise ValueError("refusing to drop the unprefixed namespace: it holds the real audit trails")
    es = Elasticsearch(**elasticsearch_options(settings), request_timeout=timeout)
    try:
        pattern = f"{settings.index_prefix}*"
        names = sorted(es.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True))
        for i in range(0, len(names), _BATCH):
            es.indices.delete(index=",".join(names[i:i + _BATCH]), ignore_unavailable=True)
        try:
            templates = es.indices.get_index_template(name=pattern)["index_templates"]
        except NotFoundError:
            templates = []
        for template in templates:
            es.indices.delete_index_template(name=template["name"])
    finally:
        es.close()
    admin = AdminClient(kafka_client_config(settings, "admin"))
    owned = (settings.topic_prefix, f"{settings.stream_app_id}-")
    topics = [t for t in admin.list_topics(timeout=timeout).topics if t.startswith(owned)]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=timeout).values():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:  # already gone: what we wanted
                if "UNKNOWN_TOPIC" not in exc.args[0].name():
                    raise
