"""What the stream does to one raw envelope, as a pure function: split, validate, redact, encode.

The guarantee: ``EnvelopeProcessor.process`` never raises, and every non-blank line of an envelope
ends as exactly one output event or exactly one dead letter, whatever the bytes hold. A failure
while handling one line (parsing, validation, admission, redaction, the chain, encoding) makes that
line a dead letter with a short reason that never quotes the payload; the other lines go on.

The Faust agent only moves bytes in and out; every decision is made here, so it is tested without
a broker. Dead letters carry the record redacted (the dead-letter topic must not become a store of
raw PII): a line that is JSON is redacted *as parsed JSON*, so escapes such as ``\\u0040`` cannot
hide an address; only a line that is not JSON is redacted as text, with its ``\\uXXXX`` escapes
decoded first.

Beyond the schema (``core.contract``), ``Admission`` rules need the time of arrival or the session:
- a timestamp more than ``max_age_s`` before arrival or ``max_skew_s`` after it is refused
  (``timestamp: ...``), so one bad clock cannot open an index per day or close windows early;
- a ``seq`` more than ``max_seq_gap`` past the session's last one is refused (``seq: ...``): one
  event cannot move a session's chain head out of reach (``seq: 2**63 - 1``) for good.
``redaction`` and ``integrity`` are the stream's alone: a producer's are dropped before validation.

A session the chain does not know, met at a ``seq`` above 0, may be one the stream retired for
idleness: ``recover_head`` (the stream's lookup of the stored events) gives its head back. If the
lookup fails, the event is a dead letter (``chain: ...``), to replay once the store answers: it is
never linked to a guessed head. If nothing is stored, the chain starts at that event.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from agent_audit.core.contract import validate_event
from agent_audit.core.contract_structs import checked_event, checked_line
from agent_audit.core.errors import InvalidEvent
from agent_audit.core.integrity import ChainState, SessionChains
from agent_audit.core.settings import Settings
from agent_audit.core.stages import StageTimes
from agent_audit.core.wire import decode_exact, split_envelope

__all__ = ["Admission", "DeadLetter", "EnvelopeProcessor", "ProcessedEnvelope", "RedactedEvent",
           "TextRedactor"]

# A line longer than this is rejected before parsing: bounded work per record.
MAX_LINE_BYTES = 1024 * 1024
# Set by the stream only: whatever a producer puts there is dropped, never merged.
STREAM_FIELDS = ("redaction", "integrity")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


class TextRedactor(Protocol):
    """The part of ``core.redaction.Redactor`` the processor relies on."""

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]: ...

    def redact_value(self, value: Any, depth: int = 0) -> tuple[Any, dict[str, int]]: ...

    def redact_event(self, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]: ...


@dataclass(frozen=True)
class RedactedEvent:
    key: bytes  # session_id (redacted form), so a session stays on one partition downstream
    value: bytes  # the redacted event, one JSON document; b"" when the output seals ``event`` (encode=False)
    event: dict[str, Any]  # the same, decoded, for metrics and hash chains


@dataclass(frozen=True)
class DeadLetter:
    value: bytes  # the record, redacted (as parsed JSON when it is JSON, else as text)
    reason: str


@dataclass
class ProcessedEnvelope:
    events: list[RedactedEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Admission:
    """Rules that need the time of arrival or the session's chain (see the module docstring)."""

    max_age_s: float = 30 * 86_400
    max_skew_s: float = 300.0
    max_seq_gap: int = 10_000
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        return cls(max_age_s=settings.max_event_age_s, max_skew_s=settings.max_clock_skew_s,
                   max_seq_gap=settings.max_seq_gap)

    def check_time(self, event_time: float, now: float) -> None:
        if event_time < now - self.max_age_s:
            raise InvalidEvent(f"timestamp: more than {self.max_age_s:.0f} s before arrival")
        if event_time > now + self.max_skew_s:
            raise InvalidEvent(f"timestamp: more than {self.max_skew_s:.0f} s after arrival")

    def check_seq(self, seq: int, last_seq: int | None) -> None:
        head = -1 if last_seq is None else last_seq
        if seq > head + self.max_seq_gap:
            raise InvalidEvent(f"seq: more than {self.max_seq_gap} past the session's last seq")


class EnvelopeProcessor:
    def __init__(self, redactor: TextRedactor, chains: SessionChains | None = None,
                 admission: Admission | None = None,
                 recover_head: Callable[[str], ChainState | None] | None = None,
                 times: StageTimes | None = None, encode: bool = True) -> None:
        self.redactor = redactor
        # False when the output seals events (from ``event``): their JSON here would go unused.
        self.encode = encode
        self.times = times or StageTimes()
        self.chains = chains
        self.admission = admission or Admission()
        self.recover_head = recover_head

    def process(self, envelope: bytes | None) -> ProcessedEnvelope:
        """Stage by stage over the envelope's lines (each stage one loop, timed once): a line
        that fails a stage leaves the later ones; events and dead letters keep the lines' order."""
        out = ProcessedEnvelope()
        if not isinstance(envelope, bytes):  # a null (tombstone) message holds no line
            return out
        times = self.times
        mark = times.now()
        lines = list(split_envelope(envelope))
        mark = times.lap("split", mark)
        failed: list[tuple[int, str]] = []
        valid = self._validated(lines, failed)
        mark = times.lap("validate", mark)
        redacted = self._redacted_all(valid, failed)
        mark = times.lap("redact", mark)
        self._chained(redacted, out, failed)
        mark = times.lap("chain", mark)
        if failed:
            out.dead = [self._dead_letter(lines[i], reason) for i, reason in sorted(failed)]
            times.lap("dead_letters", mark)
        return out

    def _validated(self, lines: list[bytes], failed: list[tuple[int, str]]
                   ) -> list[tuple[int, dict[str, Any]]]:
        now = self.admission.clock()
        valid = []
        for i, line in enumerate(lines):
            try:
                valid.append((i, self._one(line, now)))
            except Exception as exc:  # one line must never stop its partition
                failed.append((i, _reason(exc)))
        return valid

    def _redacted_all(self, valid: list[tuple[int, dict[str, Any]]], failed: list[tuple[int, str]]
                      ) -> list[tuple[int, dict[str, Any], dict[str, int]]]:
        redact, redacted = self.redactor.redact_event, []
        for i, event in valid:
            try:
                clean, counts = redact(event)
            except Exception as exc:
                failed.append((i, _reason(exc)))
                continue
            redacted.append((i, clean, counts))
        return redacted

    def _chained(self, redacted: list[tuple[int, dict[str, Any], dict[str, int]]], out: ProcessedEnvelope,
                 failed: list[tuple[int, str]]) -> None:
        """Last, it moves state: hash what is stored (the redacted event), in the lines' order."""
        chains, encode, totals = self.chains, self.encode, out.redactions
        for i, clean, counts in redacted:
            try:
                if chains is not None:
                    self._check_seq(clean)
                    event, value = chains.apply_encoded(clean) if encode else (chains.apply(clean), b"")
                else:
                    event, value = clean, orjson.dumps(clean) if encode else b""
            except Exception as exc:
                failed.append((i, _reason(exc)))
                continue
            out.events.append(RedactedEvent(str(event["session_id"]).encode(), value, event))
            for kind, n in counts.items():  # counted once the event goes out, as before
                totals[kind] = totals.get(kind, 0) + n  # Counter.update is a Python loop plus a check

    def _one(self, line: bytes, now: float) -> dict[str, Any]:
        if len(line) > MAX_LINE_BYTES:
            raise InvalidEvent(f"size: event line of {len(line)} bytes exceeds {MAX_LINE_BYTES}")
        # The fast path, straight from the bytes: what it accepts, the reference accepts too.
        checked = checked_line(line) or self._checked_dict(line)
        self.admission.check_time(checked[1].timestamp(), now)
        return checked[0]

    @staticmethod
    def _checked_dict(line: bytes) -> tuple[dict[str, Any], datetime]:
        """A line the fast path left: parsed exactly, the stream's own fields dropped, then the
        Structs again (a producer's ``redaction``, a long integer) or the reference, which decides."""
        try:
            # Not pydantic's own JSON parser: it accepts NaN and integers past 64 bits, which no
            # JSON writer downstream can encode again. decode_exact keeps big integers exactly.
            data = decode_exact(line)
        except ValueError as exc:
            raise InvalidEvent(f"json: {getattr(exc, 'msg', 'not JSON')}") from None
        if not isinstance(data, dict):
            raise InvalidEvent(f"json: expected an object, got {type(data).__name__}")
        for name in STREAM_FIELDS:
            data.pop(name, None)
        checked = checked_event(data)
        if checked is not None:
            return checked
        model = validate_event(data)  # decides, and names the reason of a rejection
        # Dump the validated model, not the input: timestamps normalized, defaults filled in.
        event: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
        return event, model.timestamp

    def _check_seq(self, event: dict[str, Any]) -> None:
        assert self.chains is not None
        session, seq = str(event["session_id"]), int(event["seq"])
        # The head as the chain knows it (loaded from the state topic when not cached).
        state = self.chains.head_state(session)
        if state is None and seq > 0 and self.recover_head is not None:
            state = self._recovered(session)
        self.admission.check_seq(seq, state.last_seq if state else None)

    def _recovered(self, session: str) -> ChainState | None:
        assert self.chains is not None
        try:
            state = self.recover_head(session) if self.recover_head else None
        except Exception as exc:  # any failure of the lookup: never link to a guessed head
            raise InvalidEvent(f"chain: head of an unknown session unavailable ({type(exc).__name__})"
                               ) from None
        if state is not None:
            self.chains.states[session] = state
        return state

    def _dead_letter(self, line: bytes, reason: str) -> DeadLetter:
        """Never raises: when even redaction fails, the record is withheld, the reason kept."""
        try:
            return DeadLetter(self._redacted_copy(line), reason)
        except Exception as exc:  # a dead letter must always come out
            return DeadLetter(b"", f"{reason} (record withheld: redaction failed, {type(exc).__name__})")

    def _redacted_copy(self, line: bytes) -> bytes:
        try:
            data = decode_exact(line)
        except ValueError:
            data = _NOT_JSON
        if data is not _NOT_JSON:
            try:
                clean, _ = self.redactor.redact_value(data)
                return orjson.dumps(clean)
            except (TypeError, ValueError, RecursionError):
                pass  # not encodable again: redact it as text below
        text = line.decode("utf-8", errors="replace")
        clean_text, _ = self.redactor.redact_text(_ESCAPE.sub(_unescape, text))
        return clean_text.encode("utf-8", errors="replace")


_NOT_JSON = object()


def _reason(exc: Exception) -> str:
    """A dead letter's reason: the contract's own for an invalid event, else the error's type only."""
    return exc.reason if isinstance(exc, InvalidEvent) else f"internal: {type(exc).__name__}"


def _unescape(match: re.Match[str]) -> str:
    code = int(match[1], 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate cannot be encoded
