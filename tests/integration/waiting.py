"""Waiting for the pipeline to deliver, in tests: bounded polls, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer
from elasticsearch import Elasticsearch

from agent_audit.core.evidence.signing import SigningKey
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.verification import verify_session
from agent_audit.sinks.queries import count_searchable
from agent_audit.stack.workers import Workers

__all__ = ["read_topic", "signed", "wait_for_count", "wait_for_verdicts"]


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


SIGNING_KEY = SigningKey.generate()  # one per test run, as the stream's would be per deployment


def signed(settings: Settings) -> Settings:
    """The settings with a signing key: the stream checkpoints every second, verify has the public
    key, so a session's verdict can be ``intact`` (without a key it stays not yet checkpointed)."""
    return Settings.from_env({**settings.to_env(), "AUDIT_SIGNING_KEY": SIGNING_KEY.private_pem(),
                              "AUDIT_CHECKPOINT_INTERVAL_S": "1"})


def wait_for_verdicts(es: Elasticsearch, settings: Settings, sessions: Iterable[str], workers: Workers,
                      timeout: float = 90.0) -> dict[str, str]:
    """Each session's verdict, once all are intact or the time is up (the last events of a session
    are verifiable once the idle timer has closed their checkpoint)."""
    deadline = time.monotonic() + timeout
    verdicts: dict[str, str] = {}
    while time.monotonic() < deadline:
        workers.check_alive()
        verdicts = {s: str(verify_session(es, settings, s)) for s in sessions}
        if all(v.startswith("intact") for v in verdicts.values()):
            break
        time.sleep(2.0)
    return verdicts
