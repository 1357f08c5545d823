"""The client agents import: ``AuditTrail`` records events, a transport carries them to Kafka.

    trail = AuditTrail(session_id="s-1", user_id="u-7", agent="support-bot", agent_version="1.2")
    trail.input("text", content="...")
    with trail.tool_call("search_kb", parameters={"q": "..."}) as call:   # also `async with`
        call.result = {...}
    trail.flush(timeout=5.0)

Modules: ``trail`` (the API), ``tool_call`` (with / async with / decorator), ``event_line`` (ids,
time and the line, finished on the transport's thread), ``payloads`` (pure payload builders),
``queue`` (bounded in-memory queue), ``batching`` (envelopes per partition),
``transport`` (background thread, spool detour), ``replay``, ``spool`` (disk), ``publisher`` (the
broker port and its confluent-kafka adapter), ``kafka_transport``, ``memory`` (in-memory stand-ins
for tests), ``options`` (environment variables), bridges: ``logging_bridge``, ``structlog_bridge``,
``otel_bridge``.
"""

from agent_audit.producers.kafka_transport import KafkaTransport, default_transport
from agent_audit.producers.memory import MemoryPublisher, MemoryTransport
from agent_audit.producers.options import ClientOptions
from agent_audit.producers.tool_call import ToolCall
from agent_audit.producers.trail import LEVELS, AuditTrail
from agent_audit.producers.transport import BatchTransport, Counters, Transport

__all__ = [
    "LEVELS",
    "AuditTrail",
    "BatchTransport",
    "ClientOptions",
    "Counters",
    "KafkaTransport",
    "MemoryPublisher",
    "MemoryTransport",
    "ToolCall",
    "Transport",
    "default_transport",
]
