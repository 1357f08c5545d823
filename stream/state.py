"""The stream's durable state: a compacted topic, co-partitioned with the raw topic.

Why not a Faust table: with a non-empty changelog, faust-streaming 0.15 resumes fetching before it
seeks the source partitions to their committed offsets, and an envelope was skipped (seen here:
committed, never processed). Our state records go out through the same producer as the outputs
and are flushed before the envelope is acknowledged, so state is never behind what was emitted.
A partition's state is read back, key by key, the first time an envelope of it arrives.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

__all__ = ["PartitionState"]

log = logging.getLogger(__name__)


class PartitionState:
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topics.state
        self.client_config = kafka_client_config(settings, "stream")
        self.partitions: dict[int, dict[str, Any]] = {}

    def loaded(self, partition: int) -> bool:
        return partition in self.partitions

    def load(self, partition: int, timeout: float = 60.0) -> dict[str, Any]:
        """Read partition ``partition`` of the state topic from its start to its end (blocking)."""
        consumer = Consumer({**self.client_config, "group.id": "state-reader",
                             "enable.auto.commit": False})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout)
            values: dict[str, Any] = {}
            if high > low:
                consumer.assign([TopicPartition(self.topic, partition, OFFSET_BEGINNING)])
                position = low
                while position < high:
                    msg = consumer.poll(timeout)
                    if msg is None:
                        raise TimeoutError(f"state partition {partition} unread past offset {position}")
                    if msg.error():
                        continue
                    key = (msg.key() or b"").decode()
                    value = msg.value()
                    if value is None:
                        values.pop(key, None)  # a tombstone
                    else:
                        values[key] = orjson.loads(value)
                    position = (msg.offset() or 0) + 1
        finally:
            consumer.close()
        self.partitions[partition] = values
        log.info("stream.state.loaded partition=%d keys=%d", partition, len(values))
        return values

    def get(self, partition: int, key: str) -> Any:
        return self.partitions.get(partition, {}).get(key)

    def put(self, partition: int, key: str, value: Any) -> tuple[bytes, bytes, int]:
        """Remember ``value`` and return the record to publish with the envelope's outputs."""
        self.partitions.setdefault(partition, {})[key] = value
        return key.encode(), orjson.dumps(value), partition

    def forget(self) -> None:
        """After a rebalance another worker may own these partitions: reload when they return."""
        self.partitions.clear()
