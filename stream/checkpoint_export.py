"""Read every signed checkpoint back from the checkpoints topic (start to end, all partitions)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["read_checkpoints"]


def read_checkpoints(settings: Settings, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every record now on the topic, ordered by (log, partition, number)."""
    topic = settings.topics.checkpoints
    consumer = Consumer({**kafka_client_config(settings, "admin"), "enable.auto.commit": False,
                         "group.id": f"checkpoint-export-{uuid.uuid4().hex[:8]}"})
    out: list[dict[str, Any]] = []
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if meta.error is not None:
            raise ValueError(f"topic {topic}: {meta.error.str()}")
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            position = low
            while position < high:
                msg = consumer.poll(timeout)
                if msg is None:
                    raise TimeoutError(f"{topic}[{partition}] unread past offset {position}")
                if msg.error() is None and msg.value():
                    out.append(orjson.loads(msg.value() or b"{}"))
                position = (msg.offset() or 0) + 1
    finally:
        consumer.close()
    return sorted(out, key=lambda r: (str(r.get("log")), int(r.get("partition", 0)), int(r.get("number", 0))))
