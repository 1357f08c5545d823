"""The stream's output order: an envelope's state records go out only after its outputs are acknowledged."""

from __future__ import annotations

from typing import Any

import orjson

from agent_audit.core.processing import DeadLetter, ProcessedEnvelope, RedactedEvent
from agent_audit.core.settings import Settings
from agent_audit.stream.output import OutputProducer, OutRecord
from tests.factories import event

SETTINGS = Settings(mode="development", seal_events=False)


class RecordingProducer:
    """Stands in for the Kafka producer: every produce and flush, in call order; all acknowledged."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                **_kw: Any) -> None:
        self.calls.append(topic)

    def flush(self, _timeout: float | None = None) -> int:
        self.calls.append("<flush>")
        return 0

    def poll(self, _timeout: float | None = None) -> int:
        return 0


def _envelope() -> ProcessedEnvelope:
    events = [event("input", i) for i in range(3)]
    return ProcessedEnvelope(
        events=[RedactedEvent(b"s-1", orjson.dumps(e), e) for e in events],
        dead=[DeadLetter(b"not json", "json: unexpected character")])


def test_state_records_follow_a_flush_of_every_output() -> None:
    """Events, dead letters and extra records are flushed before the first state record is produced:
    the windows record that lets a restart skip the envelope never lands without its events."""
    output = OutputProducer(SETTINGS)
    recorder = RecordingProducer()
    output.producer = recorder  # type: ignore[assignment]
    checkpoint = OutRecord(SETTINGS.topics.checkpoints, b"{}", b"0")
    output.send(_envelope(), ("raw", 0, 7), [(b"chain:s-1", b"{}", 0), (b"windows", b"{}", 0)], [checkpoint])
    state = SETTINGS.topics.state
    first_state = recorder.calls.index(state)
    outputs = [i for i, c in enumerate(recorder.calls) if c not in (state, "<flush>")]
    assert len(outputs) == 5  # three events, one dead letter, one checkpoint record
    assert "<flush>" in recorder.calls[max(outputs):first_state]
    assert recorder.calls[-1] == "<flush>"


def test_a_send_without_state_flushes_once() -> None:
    """The idle timer's outputs alone: one flush, no state step."""
    output = OutputProducer(SETTINGS)
    recorder = RecordingProducer()
    output.producer = recorder  # type: ignore[assignment]
    output.send(ProcessedEnvelope(), None, (), [OutRecord(SETTINGS.topics.metrics, b"{}")])
    assert recorder.calls == [SETTINGS.topics.metrics, "<flush>"]
