"""A structlog processor that records each log event in the audit trail, then passes it on.

structlog processors are plain callables ``(logger, method_name, event_dict) -> event_dict``, so
this module does not import structlog: add ``AuditProcessor(trail)`` to ``processors=[...]``.
An event dict with ``exc_info`` or method ``error``/``exception`` becomes an ``error`` event;
other keys travel as the reasoning step's plan (``key=value`` items, redacted downstream).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from agent_audit.producers.trail import AuditTrail

__all__ = ["AuditProcessor"]

_LEVELS = {"debug": "debug", "info": "info", "msg": "info", "warning": "warning", "warn": "warning",
           "error": "error", "exception": "error", "critical": "error"}


class AuditProcessor:
    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def __call__(self, _logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
        message = str(event_dict.get("event", ""))
        level = _LEVELS.get(method_name, "info")
        exc = event_dict.get("exc_info")
        if isinstance(exc, BaseException):
            self.trail.error(exc, message=message)
        elif level == "error":
            self.trail.error(type=str(event_dict.get("error_type", "LoggedError")), message=message)
        else:
            context = [f"{k}={v}" for k, v in event_dict.items() if k not in ("event", "timestamp")]
            self.trail.reasoning(message, plan=context, level=level)
        return event_dict
