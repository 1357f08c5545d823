"""A stdlib ``logging.Handler`` that records an agent's log lines in its audit trail.

A record with exception info becomes an ``error`` event (type, message, stack trace); any other
record a ``reasoning`` event whose thought is the formatted message. Levels map one to one
(DEBUG -> debug, WARNING -> warning, CRITICAL -> error), and the trail's level filter applies.
The client's own log lines (loggers under ``producers``) are never recorded: no feedback loop.
"""

from __future__ import annotations

import logging

from agent_audit.producers.trail import AuditTrail

__all__ = ["AuditLogHandler"]

_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
           logging.ERROR: "error", logging.CRITICAL: "error"}


class AuditLogHandler(logging.Handler):
    def __init__(self, trail: AuditTrail, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.trail = trail

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("agent_audit.producers"):  # the client's own reports: no feedback loop
            return
        try:
            if record.exc_info and record.exc_info[1] is not None:
                self.trail.error(record.exc_info[1], message=record.getMessage())
            else:
                level = _LEVELS.get(record.levelno, "debug" if record.levelno < logging.INFO else "info")
                self.trail.reasoning(record.getMessage(), level=level)
        except Exception:  # a handler must never raise into the code that logged
            self.handleError(record)
