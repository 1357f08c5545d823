"""agent-audit: the audit trail of AI agents.

The client is all a plain ``pip install agent-audit`` brings (confluent-kafka and orjson)::

    from agent_audit import AuditTrail

The stream, the sinks and the command line are ``agent-audit[server]``. The repository keeps them
in top-level folders mapped into this namespace by ``pyproject.toml``: ``agent_audit.core`` (pure
logic), ``agent_audit.producers`` (the client), ``agent_audit.stream``, ``agent_audit.sinks``,
``agent_audit.stack``, ``agent_audit.cli``, ``agent_audit.demo``.

The client's names are loaded on first use, so importing ``agent_audit.core`` alone pulls in no
Kafka client (``tests/unit/test_core_purity.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agent_audit.version import __version__

if TYPE_CHECKING:
    from agent_audit.producers import (
        LEVELS,
        AuditTrail,
        BatchTransport,
        ClientOptions,
        Counters,
        KafkaTransport,
        MemoryPublisher,
        MemoryTransport,
        ToolCall,
        Transport,
        default_transport,
    )

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
    "__version__",
    "default_transport",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("agent_audit.producers"), name)
    raise AttributeError(f"module 'agent_audit' has no attribute {name!r}")
