"""What the stream does to one raw envelope, as a pure function: split, validate, redact, encode.

The Faust agent only moves bytes in and out; every decision is made here, so it is tested without
a broker. Dead letters carry the record redacted *as text* (the dead-letter topic must not become a
store of raw PII) and a short reason that never quotes the payload.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from agent_audit.core.contract import validate_event
from agent_audit.core.errors import InvalidEvent
from agent_audit.core.integrity import SessionChains
from agent_audit.core.wire import split_envelope

__all__ = ["DeadLetter", "EnvelopeProcessor", "ProcessedEnvelope", "RedactedEvent", "TextRedactor"]

# A line longer than this is rejected before parsing: bounded work per record.
MAX_LINE_BYTES = 1024 * 1024


class TextRedactor(Protocol):
    """The part of ``core.redaction.Redactor`` the processor relies on."""

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]: ...

    def redact_event(self, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]: ...


@dataclass(frozen=True)
class RedactedEvent:
    key: bytes  # session_id (redacted form), so a session stays on one partition downstream
    value: bytes  # the redacted event, one JSON document
    event: dict[str, Any]  # the same, decoded, for metrics and hash chains


@dataclass(frozen=True)
class DeadLetter:
    value: bytes  # the record, redacted as text
    reason: str


@dataclass
class ProcessedEnvelope:
    events: list[RedactedEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)


class EnvelopeProcessor:
    def __init__(self, redactor: TextRedactor, chains: SessionChains | None = None) -> None:
        self.redactor = redactor
        self.chains = chains

    def process(self, envelope: bytes) -> ProcessedEnvelope:
        out = ProcessedEnvelope()
        for line in split_envelope(envelope):
            try:
                event = self._one(line)
            except InvalidEvent as exc:
                out.dead.append(self._dead_letter(line, exc.reason))
                continue
            redacted, counts = self.redactor.redact_event(event)
            if self.chains is not None:  # hash what is stored: the redacted event
                redacted, value = self.chains.apply_encoded(redacted)
            else:
                value = orjson.dumps(redacted)
            if counts:
                out.redactions.update(counts)
            out.events.append(RedactedEvent(str(redacted["session_id"]).encode(), value, redacted))
        return out

    def _one(self, line: bytes) -> dict[str, Any]:
        if len(line) > MAX_LINE_BYTES:
            raise InvalidEvent(f"size: event line of {len(line)} bytes exceeds {MAX_LINE_BYTES}")
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"json: {exc.msg}") from None
        if not isinstance(data, dict):
            raise InvalidEvent(f"json: expected an object, got {type(data).__name__}")
        # orjson first, not pydantic's own JSON parser: that one accepts NaN and integers past
        # 64 bits, which no JSON writer downstream can encode again.
        model = validate_event(data)
        # Dump the validated model, not the input: timestamps normalized, defaults filled in.
        event: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
        return event

    def _dead_letter(self, line: bytes, reason: str) -> DeadLetter:
        text = line.decode("utf-8", errors="replace")
        clean, _ = self.redactor.redact_text(text)
        return DeadLetter(value=clean.encode(), reason=reason)
