"""Create the pipeline's topics with explicit partitions and configs (idempotent); wait for them.

A worker started before its broker (or before ``agent-audit topics create``) waits, saying why,
instead of exiting: ``wait_for_topics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import Role, kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["create_topics", "topic_specs", "wait_for_topics"]

log = logging.getLogger(__name__)


def topic_specs(settings: Settings) -> list[NewTopic]:
    t = settings.topics
    rf = settings.replication

    def spec(name: str, partitions: int, config: dict[str, str]) -> NewTopic:
        return NewTopic(name, num_partitions=partitions, replication_factor=rf, config=config)

    return [
        # Raw envelopes are transient: the redacted copy is the record. Short retention limits
        # how long unredacted data sits on the broker.
        spec(t.raw, settings.raw_partitions, {"retention.ms": str(settings.raw_retention_ms),
                                              "max.message.bytes": str(2 * 1024 * 1024),
                                              # segments roll often, so retention bounds a record's life
                                              "segment.ms": str(settings.raw_segment_ms)}),
        spec(t.events, settings.events_partitions, {"retention.ms": str(settings.events_retention_ms)}),
        # Dead letters hold whole rejected lines (up to the raw topic's message size), redacted.
        spec(t.dlq, 3, {"retention.ms": str(settings.dlq_retention_ms),
                        "max.message.bytes": str(3 * 1024 * 1024)}),
        spec(t.metrics, 3, {"retention.ms": str(settings.events_retention_ms)}),
        spec(t.alerts, 1, {"retention.ms": str(settings.dlq_retention_ms)}),
        spec(t.partials, 1, {"retention.ms": str(settings.events_retention_ms)}),
        # The stream's state: one record per key (compacted), partition p holds raw partition p's.
        spec(t.state, settings.raw_partitions, {"cleanup.policy": "compact",
                                                "min.compaction.lag.ms": "60000"}),
        # Signed checkpoints are evidence: kept until someone decides otherwise (and exported).
        spec(t.checkpoints, 1, {"retention.ms": "-1"}),
    ]


def create_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created now (existing ones are left as they are)."""
    admin = AdminClient(kafka_client_config(settings, "admin"))
    futures = admin.create_topics(topic_specs(settings), request_timeout=timeout)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransientError(f"creating topic {name} failed: {exc.args[0].str()}") from exc
    return created


def wait_for_topics(settings: Settings, names: Sequence[str], role: Role, component: str) -> None:
    """Return once the broker answers and every topic in ``names`` exists; until then log
    ``<component>.kafka.waiting`` with the reason (broker unreachable, or the missing topics by
    name) and try again with backoff."""
    admin = AdminClient(kafka_client_config(settings, role))
    backoff = 1.0
    while True:
        try:
            present = admin.list_topics(timeout=10).topics
        except KafkaException as exc:
            reason = f"broker unreachable ({exc.args[0].name()})"
        else:
            missing = [name for name in names if name not in present]
            if not missing:
                return
            reason = f"missing topics {','.join(missing)} (agent-audit topics create makes them)"
        log.warning("%s.kafka.waiting %s backoff_s=%.0f", component, reason, backoff)
        time.sleep(backoff)
        backoff = min(backoff * 2, 15.0)
