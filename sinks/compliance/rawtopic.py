"""The raw topic after a forget: what the stream has already processed is deleted at once.

Raw envelopes are unredacted and cannot be rewritten, but once the stream has committed past them
they are no longer needed (the sealed, redacted copy on ``agent.events`` is the record, and DLQ
replay re-publishes the dead letter itself). So forget deletes every raw record below the stream's
committed offsets (Kafka ``DeleteRecords``: the log start moves, the data is unreadable at once and
removed from disk with its segment). Records not processed yet (consumer lag) stay until their
retention; the stream shreds the user's among them when it gets to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from agent_audit.core.errors import TransientError
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["RawTruncation", "truncate_processed_raw"]


@dataclass(frozen=True)
class RawTruncation:
    deleted: int  # records deleted (below the stream's committed offsets)
    unprocessed: int  # records the stream has not committed yet: they expire with the retention


def truncate_processed_raw(settings: Settings, timeout: float = 30.0) -> RawTruncation:
    admin = AdminClient(kafka_client_config(settings, "admin"))
    topic = settings.topics.raw
    try:
        request = [ConsumerGroupTopicPartitions(settings.stream_app_id)]
        group = admin.list_consumer_group_offsets(request)[settings.stream_app_id].result(timeout)
        committed = {tp.partition: tp.offset for tp in group.topic_partitions if tp.topic == topic}
        meta = admin.list_topics(topic, timeout=timeout).topics[topic]
        partitions = sorted(meta.partitions)
        low_high = _watermarks(settings, topic, partitions, timeout)
        cut = [TopicPartition(topic, p, min(committed[p], low_high[p][1])) for p in partitions
               if committed.get(p, -1) > low_high[p][0]]
        if cut:
            for future in admin.delete_records(cut, request_timeout=timeout).values():
                future.result(timeout)
    except KafkaException as exc:
        raise TransientError(f"truncating the raw topic failed: {exc}") from exc
    deleted = sum(tp.offset - low_high[tp.partition][0] for tp in cut)
    unprocessed = sum(high - max(low, committed.get(p, low)) for p, (low, high) in low_high.items())
    return RawTruncation(deleted, max(0, unprocessed))


def _watermarks(settings: Settings, topic: str, partitions: list[int],
                timeout: float) -> dict[int, tuple[int, int]]:
    from confluent_kafka import Consumer  # noqa: PLC0415 - only this lookup needs a consumer

    consumer = Consumer({**kafka_client_config(settings, "admin"), "group.id": "agent-audit-forget",
                         "enable.auto.commit": False})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in partitions}
    finally:
        consumer.close()
