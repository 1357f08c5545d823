"""Waiting for the pipeline to deliver, in tests: bounded polls, never a bare sleep."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.workers import Workers

__all__ = ["read_topic", "wait_for_count"]


def wait_for_count(es: Elasticsearch, index: str, expected: int, workers: Workers,
                   timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        workers.check_alive()
        count = count_searchable(es, index)
        if count >= expected:
            return count
        time.sleep(0.5)
    return count


def read_topic(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"reader-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg)
    consumer.close()
    return got
