"""The client agents import: ``AuditTrail`` records events, a transport carries them to Kafka."""

from producers.trail import AuditTrail, ToolCall
from producers.transport import Counters, KafkaTransport, MemoryTransport, Transport

__all__ = ["AuditTrail", "Counters", "KafkaTransport", "MemoryTransport", "ToolCall", "Transport"]
