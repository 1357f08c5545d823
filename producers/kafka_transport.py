"""``KafkaTransport``: the batch transport on confluent-kafka, and the process-wide default one.

``AuditTrail(transport=None)`` uses ``default_transport()``: one per process, built on first use
from ``Settings.from_env()`` and ``ClientOptions.from_env()``, shut down by an exit hook that waits
at most ``AUDIT_EXIT_TIMEOUT_S`` and leaves the rest in the spool. Building it never blocks: the
topic's partition count is asked for on the background thread.
"""

from __future__ import annotations

import threading
from typing import Any

from agent_audit.core.settings import Settings
from agent_audit.producers.options import ClientOptions
from agent_audit.producers.publisher import KafkaPublisher
from agent_audit.producers.transport import BatchTransport

__all__ = ["KafkaTransport", "default_transport", "shutdown_default_transport"]


class KafkaTransport(BatchTransport):
    def __init__(self, settings: Settings, config: dict[str, Any] | None = None,
                 options: ClientOptions | None = None, exit_hook: bool = True) -> None:
        """``config`` overrides librdkafka properties (e.g. ``message.timeout.ms`` in tests)."""
        options = options or ClientOptions.from_env()
        super().__init__(KafkaPublisher(settings, options, config), options,
                         partitions=settings.raw_partitions,
                         spool_dir=options.spool_dir / settings.topics.raw, exit_hook=exit_hook)


_lock = threading.Lock()
_default: list[KafkaTransport] = []


def default_transport() -> KafkaTransport:
    """The process's shared transport, built on first use."""
    with _lock:
        if not _default:
            _default.append(KafkaTransport(Settings.from_env()))
        return _default[0]


def shutdown_default_transport(timeout: float = 5.0) -> bool:
    """Flush and release the shared transport, if one was built; True if everything was delivered."""
    with _lock:
        transport = _default.pop() if _default else None
    return transport.shutdown(timeout) if transport is not None else True
