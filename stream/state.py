"""The stream's durable state: a compacted topic, co-partitioned with the raw topic.

Why not a Faust table: with a non-empty changelog, faust-streaming 0.15 resumes fetching before it
seeks the source partitions to their committed offsets, and an envelope was skipped (seen here:
committed, never processed). Our state records go out through the same producer as the outputs
and are flushed before the envelope is acknowledged, so state is never behind what was emitted.
A partition's state is read back, key by key, the first time an envelope of it arrives; a record
that is not ours (undecodable, written by someone else) is logged and skipped, never a crash loop.
Records are JSON, except a session's chain state: packed bytes (``core.chain_state``, v3), kept in
memory as read, decoded only when an event of that session arrives. Chain records of earlier
streams (v1, v2 JSON) are read as they are and replaced when their session next moves.

Bounded: a session's record (``chain:<session>``) carries the wall time it last moved (``at``);
``retire`` drops the records idle for longer than ``AUDIT_SESSION_IDLE_S`` and returns their
tombstones, so the compacted topic forgets them too. Activity is kept in touch order (a dict
re-inserted on each touch), so a sweep costs the records it retires, not the records it keeps.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from agent_audit.core.chain_state import VERSION as CHAIN_VERSION
from agent_audit.core.chain_state import record_at
from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["SESSION_PREFIX", "PartitionState", "Tombstone"]

SESSION_PREFIX = "chain:"
_CHAIN_TAG = bytes((CHAIN_VERSION,))  # a JSON record starts with "{"
Tombstone = tuple[bytes, None, int]

log = logging.getLogger(__name__)


class PartitionState:
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topics.state
        self.client_config = kafka_client_config(settings, "stream")
        self.partitions: dict[int, dict[str, Any]] = {}
        # Per partition, session keys in the order they last moved, with that wall time.
        self.activity: dict[int, dict[str, float]] = {}

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
                    _apply(values, msg.key(), msg.value())
                    position = (msg.offset() or 0) + 1
        finally:
            consumer.close()
        self.partitions[partition] = values
        self.activity[partition] = _activity(values, time.time())
        log.info("stream.state.loaded partition=%d keys=%d", partition, len(values))
        return values

    def get(self, partition: int, key: str) -> Any:
        return self.partitions.get(partition, {}).get(key)

    def put(self, partition: int, key: str, value: Any) -> tuple[bytes, bytes, int]:
        """Remember ``value`` and return the record to publish with the envelope's outputs.
        Bytes (a packed chain state) are kept and published as they are; anything else as JSON."""
        self.partitions.setdefault(partition, {})[key] = value
        return key.encode(), value if isinstance(value, bytes) else orjson.dumps(value), partition

    def touch(self, partition: int, key: str, at: float) -> None:
        """``key`` moved at wall time ``at``: it goes to the young end of the partition's activity."""
        active = self.activity.setdefault(partition, {})
        active.pop(key, None)
        active[key] = at

    def retire(self, partition: int, before: float, limit: int = 10_000) -> list[Tombstone]:
        """Forget up to ``limit`` keys that last moved before ``before``; their tombstones to publish."""
        active, values = self.activity.get(partition, {}), self.partitions.get(partition, {})
        out: list[Tombstone] = []
        for key, at in active.items():
            if at >= before or len(out) >= limit:
                break
            out.append((key.encode(), None, partition))
        for key_bytes, _, _ in out:
            key = key_bytes.decode()
            del active[key]
            values.pop(key, None)
        return out

    def forget(self) -> None:
        """After a rebalance another worker may own these partitions: reload when they return."""
        self.partitions.clear()
        self.activity.clear()


def _apply(values: dict[str, Any], key: bytes | None, value: bytes | None) -> None:
    name = (key or b"").decode("utf-8", errors="replace")
    if value is None:
        values.pop(name, None)  # a tombstone
        return
    if value[:1] == _CHAIN_TAG and name.startswith(SESSION_PREFIX):
        try:
            record_at(value)  # the header is whole
        except ValueError:
            log.error("stream.state.skipped key_bytes=%d: a truncated chain record", len(key or b""))
            return
        values[name] = value  # a packed chain state: decoded when its session's next event comes
        return
    try:
        values[name] = orjson.loads(value)
    except orjson.JSONDecodeError:
        log.error("stream.state.skipped key_bytes=%d: not a JSON state record", len(key or b""))


def _activity(values: dict[str, Any], now: float) -> dict[str, float]:
    """Session keys oldest first; a record without ``at`` (an older stream) counts as moved now."""
    seen = sorted((_at(v, now), k) for k, v in values.items() if k.startswith(SESSION_PREFIX))
    return {k: at for at, k in seen}


def _at(value: Any, now: float) -> float:
    try:
        if isinstance(value, bytes):
            return record_at(value)
        return float(value.get("at", now))
    except (AttributeError, TypeError, ValueError):
        return now
