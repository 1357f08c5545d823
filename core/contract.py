"""The v1 event contract: one frozen pydantic model per kind, sharing one set of envelope fields.

Every hop (client, stream, sink, queries) speaks this contract. ``AuditEvent`` is the tagged union
over ``kind``; ``validate_event`` is the one way in from untrusted bytes or dicts. The published JSON
Schema (``schema/audit-event.v1.json``) is generated from these models by ``json_schema()``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from agent_audit.core.errors import InvalidEvent
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    field_validator,
)

__all__ = [
    "KINDS",
    "LEVELS",
    "SCHEMA_VERSION",
    "AgentInfo",
    "AuditEvent",
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
Kind = Literal["input", "reasoning", "tool_call", "output", "error"]
Level = Literal["trace", "debug", "info", "warning", "error"]
KINDS: tuple[str, ...] = ("input", "reasoning", "tool_call", "output", "error")
LEVELS: tuple[str, ...] = ("trace", "debug", "info", "warning", "error")

# Identifiers are bounded so a hostile producer cannot blow up keys, indices or dashboards.
Ident = Annotated[str, Field(min_length=1, max_length=200)]
OtelId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}([0-9a-f]{16})?$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class _Envelope(_Frozen):
    schema_version: Literal[1] = 1
    event_id: Ident
    level: Level = "info"
    timestamp: AwareDatetime
    session_id: Ident
    user_id: Ident
    agent: AgentInfo
    seq: Annotated[int, Field(ge=0)]
    trace_id: OtelId | None = None
    span_id: OtelId | None = None
    parent_span_id: OtelId | None = None
    redaction: RedactionInfo | None = None
    integrity: Integrity | None = None

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        # One zone everywhere: daily indices and windows are cut on UTC days and minutes.
        return value.astimezone(UTC)


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
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class ToolCallPayload(_Frozen):
    tool_name: Ident
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    result: dict[str, JsonValue] | None = None
    status: Literal["success", "error"] = "success"
    duration_ms: Annotated[float, Field(ge=0.0)]
    call_id: Ident | None = None  # the id the model gave the call (gen_ai.tool.call.id), if any


class OutputMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    tokens_used: Annotated[int, Field(ge=0)] | None = None
    model: str | None = None
    cost: Annotated[float, Field(ge=0.0)] | None = None


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


AuditEvent = Annotated[
    InputEvent | ReasoningEvent | ToolCallEvent | OutputEvent | ErrorEvent,
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


def _reason(exc: ValidationError) -> str:
    # Only locations and error types: the message of a pydantic error may echo the input (PII).
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"])
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
