"""The v1 event contract: one frozen pydantic model per kind, sharing one set of envelope fields.

Every hop (client, stream, sink, queries) speaks this contract. ``AuditEvent`` is the tagged union
over ``kind``; ``validate_event`` is the one way in from untrusted bytes or dicts. The published JSON
Schema (``schema/audit-event.v1.json``) is generated from these models by ``json_schema()``.

Validation is strict, as the published schema says: no string, boolean or float is coerced into an
integer, no string or boolean into a float, no number into a timestamp (which must be RFC 3339 text
with a zone). Every number has bounds (``BOUNDS``): ``seq`` up to 2**53 - 1, ``tokens_used`` up to
10**9, ``duration_ms`` up to 10**10 (115 days, the latency sketch's limit), ``cost`` up to 10**6,
``confidence`` in [0, 1]; no NaN or infinity anywhere. A timestamp that cannot be moved to UTC
(year 1 or 9999 with an offset) is a clean rejection. ``redaction`` and ``integrity`` are the
stream's own: the stream drops any a producer sends before validating (``core.processing``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from agent_audit.core.errors import InvalidEvent

__all__ = [
    "BOUNDS",
    "KINDS",
    "LEVELS",
    "SCHEMA_VERSION",
    "AgentInfo",
    "AuditEvent",
    "EndEvent",
    "EndPayload",
    "ErrorEvent",
    "ErrorPayload",
    "InputEvent",
    "InputPayload",
    "Integrity",
    "OutputEvent",
    "OutputMetadata",
    "OutputPayload",
    "ReasoningEvent",
    "ReasoningPayload",
    "RedactionInfo",
    "ToolCallEvent",
    "ToolCallPayload",
    "json_schema",
    "validate_event",
]

SCHEMA_VERSION = 1
Kind = Literal["input", "reasoning", "tool_call", "output", "error", "end"]
Level = Literal["trace", "debug", "info", "warning", "error"]
KINDS: tuple[str, ...] = ("input", "reasoning", "tool_call", "output", "error", "end")
LEVELS: tuple[str, ...] = ("trace", "debug", "info", "warning", "error")

# Identifiers are bounded so a hostile producer cannot blow up keys, indices or dashboards.
Ident = Annotated[str, Field(min_length=1, max_length=200)]
OtelId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}([0-9a-f]{16})?$")]
# A UUID in its canonical text form (v7 from our client): an id is no free-form string to squat on.
EventId = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")]

# The bounds of every number of the contract: (minimum, maximum), both inclusive.
BOUNDS: dict[str, tuple[float, float]] = {
    "seq": (0, 2**53 - 1),  # what every JSON reader (JavaScript, Kibana) holds exactly
    "tokens_used": (0, 10**9),
    "duration_ms": (0.0, 1e10),  # core.metrics.sketch.MAX_MS: 115 days
    "cost": (0.0, 1e6),
    "confidence": (0.0, 1.0),
}


def _bounded(name: str) -> Any:
    low, high = BOUNDS[name]
    return Field(ge=low, le=high)


Seq = Annotated[int, _bounded("seq")]
Tokens = Annotated[int, _bounded("tokens_used")]
DurationMs = Annotated[float, _bounded("duration_ms")]
Cost = Annotated[float, _bounded("cost")]
Confidence = Annotated[float, _bounded("confidence")]

# RFC 3339 date-time with a zone, as JSON Schema's "date-time" format says; no epoch numbers.
RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339)


def _utc(value: Any) -> datetime:
    # One zone everywhere: daily indices and windows are cut on UTC days and minutes.
    if isinstance(value, datetime):  # a model built in Python (the client, tests)
        parsed = value
    elif isinstance(value, str) and _RFC3339.match(value):
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    else:
        raise ValueError("an RFC 3339 date-time text with a zone")
    if parsed.tzinfo is None:
        raise ValueError("a date-time with a zone")
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 pushed out of range by the offset
        raise ValueError("a date-time that exists in UTC") from None


Timestamp = Annotated[datetime, BeforeValidator(_utc),
                      Field(json_schema_extra={"type": "string", "format": "date-time",
                                               "pattern": RFC3339})]


class _Frozen(BaseModel):
    # strict: no coercion (the published schema has none); allow_inf_nan: no number JSON cannot carry
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class AgentInfo(_Frozen):
    name: Ident
    version: Annotated[str, Field(max_length=100)] = "0"


class RedactionInfo(_Frozen):
    """What the stream removed from this event: set by the stream, never by a producer."""

    policy_version: str
    key_version: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class Integrity(_Frozen):
    """Per-session hash chain over redacted events, set by the stream (tamper evidence)."""

    hash: str
    prev_hash: str | None = None
    # v2 (core/integrity.py): salted digest and the event's place in a signed checkpoint
    v: int | None = None
    salt: str | None = None
    digest: str | None = None
    partition: int | None = None
    checkpoint: int | None = None
    leaf: int | None = None


class _Envelope(_Frozen):
    schema_version: Literal[1] = 1
    event_id: EventId
    level: Level = "info"
    timestamp: Timestamp
    session_id: Ident
    user_id: Ident
    agent: AgentInfo
    seq: Seq
    trace_id: OtelId | None = None
    span_id: OtelId | None = None
    parent_span_id: OtelId | None = None
    redaction: RedactionInfo | None = None
    integrity: Integrity | None = None


# Shapes are chosen so every field maps to one Elasticsearch type: free text is a string, and
# structured values (parameters, results, metadata) are objects. A client wraps a scalar or list
# tool result as {"value": ...}.


class InputPayload(_Frozen):
    type: str = "text"
    content: str = ""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class ReasoningPayload(_Frozen):
    thought: str
    plan: list[str] = Field(default_factory=list)
    confidence: Confidence | None = None


class ToolCallPayload(_Frozen):
    tool_name: Ident
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    result: dict[str, JsonValue] | None = None
    status: Literal["success", "error"] = "success"
    duration_ms: DurationMs
    call_id: Ident | None = None  # the id the model gave the call (gen_ai.tool.call.id), if any


class OutputMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", strict=True, allow_inf_nan=False)

    tokens_used: Tokens | None = None
    model: str | None = None
    cost: Cost | None = None


class OutputPayload(_Frozen):
    type: str = "text"
    content: str = ""
    metadata: OutputMetadata = Field(default_factory=OutputMetadata)


class ErrorPayload(_Frozen):
    type: str
    message: str
    tool_name: str | None = None
    stack_trace: str | None = None
    recovery_action: str | None = None


class InputEvent(_Envelope):
    kind: Literal["input"] = "input"
    payload: InputPayload


class ReasoningEvent(_Envelope):
    kind: Literal["reasoning"] = "reasoning"
    payload: ReasoningPayload


class ToolCallEvent(_Envelope):
    kind: Literal["tool_call"] = "tool_call"
    payload: ToolCallPayload


class OutputEvent(_Envelope):
    kind: Literal["output"] = "output"
    payload: OutputPayload


class ErrorEvent(_Envelope):
    kind: Literal["error"] = "error"
    payload: ErrorPayload


class EndPayload(_Frozen):
    """The session is closed: it holds seqs 0..final_seq, this event being the last."""

    final_seq: Annotated[int, Field(ge=0, le=2**53)]


class EndEvent(_Envelope):
    kind: Literal["end"] = "end"
    payload: EndPayload

    @model_validator(mode="after")
    def _final_is_own_seq(self) -> EndEvent:
        if self.payload.final_seq != self.seq:
            raise ValueError("final_seq must equal the end event's own seq")
        return self


AuditEvent = Annotated[
    InputEvent | ReasoningEvent | ToolCallEvent | OutputEvent | ErrorEvent | EndEvent,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[AuditEvent] = TypeAdapter(AuditEvent)


def validate_event(data: bytes | str | dict[str, Any]) -> AuditEvent:
    """Parse and validate one event; raise ``InvalidEvent`` with a short, PII-free reason."""
    try:
        if isinstance(data, dict):
            return _ADAPTER.validate_python(data)
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise InvalidEvent(_reason(exc)) from None


def _field_names() -> frozenset[str]:
    models: tuple[type[BaseModel], ...] = (
        AgentInfo, RedactionInfo, Integrity, InputPayload, ReasoningPayload, ToolCallPayload,
        OutputMetadata, OutputPayload, ErrorPayload, InputEvent, ReasoningEvent, ToolCallEvent,
        OutputEvent, ErrorEvent)
    return frozenset(KINDS).union(*(m.model_fields for m in models))


_FIELD_NAMES = _field_names()


def _reason(exc: ValidationError) -> str:
    # Only locations and error types: the message of a pydantic error may echo the input (PII),
    # and so may a location (an unexpected key, a key of a free-form object): only the contract's
    # own field names and list positions are named, any other key is "<key>".
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        loc = ".".join(p if p in _FIELD_NAMES else "<key>" if isinstance(p, str) else str(p)
                       for p in err["loc"])
        if err["type"].startswith("union_tag"):  # the discriminator itself is missing or unknown
            loc = "kind"
        loc = loc or "<root>"
        parts.append(f"{loc}: {err['type']}")
    return "schema: " + "; ".join(parts)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the v1 contract, as published in ``schema/``."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "AgentAuditEvent v1"
    return schema
