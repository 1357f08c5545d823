"""Create the pipeline's topics with explicit partitions and configs (idempotent)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["create_topics", "topic_specs"]


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
