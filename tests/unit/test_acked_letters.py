"""The sink commits a batch only once the broker acknowledged its dead letters and alerts."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from agent_audit.sinks.acked_letters import AckedLetters, LettersNotAcknowledged


class Broker:
    """A producer stand-in: ``answers`` says what each flush does with the queued records:
    "queued" (still waiting), "fail" (delivery failed) or "ok" (acknowledged)."""

    def __init__(self, answers: list[str], full_once: bool = False) -> None:
        self.answers = answers
        self.full_once = full_once
        self.queue: list[tuple[bytes, Any]] = []
        self.produced: list[bytes] = []
        self.delivered: list[bytes] = []

    def produce(self, topic: str, value: bytes, headers: Any, on_delivery: Any) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("local queue full")
        self.produced.append(value)
        self.queue.append((value, on_delivery))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "queued":
            return len(self.queue)
        for value, report in self.queue:
            if answer == "ok":
                self.delivered.append(value)
            report(KafkaError(KafkaError._MSG_TIMED_OUT) if answer == "fail" else None, None)
        self.queue = []
        return 0


def test_a_record_still_queued_is_waited_for_and_never_produced_twice() -> None:
    """flush returns with the record queued twice: settle waits; one produce, one delivery."""
    broker = Broker(["queued", "queued", "ok"])
    letters = AckedLetters(broker, lambda: False)
    letters.produce("dlq", b"letter", [("reason", b"x")])
    letters.settle()
    assert (broker.produced, broker.delivered) == ([b"letter"], [b"letter"])


def test_a_failed_delivery_is_produced_again_until_acknowledged() -> None:
    """The broker was away past message.timeout.ms: the record is produced again, then delivered."""
    broker = Broker(["fail", "ok"], full_once=True)
    letters = AckedLetters(broker, lambda: False)
    letters.produce("dlq", b"letter", [])
    letters.settle()
    assert (broker.produced, broker.delivered) == ([b"letter", b"letter"], [b"letter"])


def test_asked_to_stop_before_the_acknowledgement_the_batch_stays_uncommitted() -> None:
    """Stopping with a record unacknowledged raises, so the caller does not commit the batch."""
    broker = Broker(["queued"] * 5)
    letters = AckedLetters(broker, lambda: True)
    letters.produce("dlq", b"letter", [])
    with pytest.raises(LettersNotAcknowledged):
        letters.settle()
