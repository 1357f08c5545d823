"""What the sinks' Kafka consumers make of an outage: which commit refusals to wait out, which mean
"no longer yours", and one log line that says the worker waits for its broker.

A broker stopped or restarting shows as commit answers of ``COORDINATOR_AWAY``; librdkafka itself
reconnects, so a worker never exits on them. ``NOT_OWNER``: the group gave the partition to someone
else (or is taking it back), whose replay from the last commit the worker's idempotence absorbs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import KafkaError

__all__ = ["COORDINATOR_AWAY", "NOT_OWNER", "kafka_error_logger"]

COORDINATOR_AWAY = frozenset({
    KafkaError._WAIT_COORD, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT, KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS})

NOT_OWNER = frozenset({KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION,
                       KafkaError.REBALANCE_IN_PROGRESS, KafkaError._ASSIGNMENT_LOST,
                       KafkaError.FENCED_INSTANCE_ID})


def kafka_error_logger(component: str, log: logging.Logger) -> Callable[[KafkaError], None]:
    """An ``error_cb`` for a consumer: ``<component>.kafka.waiting`` once no broker answers (a
    broker down at start or restarting), other errors by code. Each failed connection attempt is
    left to librdkafka's own log: it comes every few hundred milliseconds."""

    def on_error(err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning("%s.kafka.waiting: no broker answers; consuming resumes when one does", component)
        elif err.code() != KafkaError._TRANSPORT:
            log.warning("%s.kafka.error code=%s", component, err.name())

    return on_error
