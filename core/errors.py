"""The project's error tree. Third-party errors are translated at the boundary (``raise ... from``).

    AuditError
    ├── InvalidEvent     permanent: the record can never be processed -> dead-letter topic, with reason
    ├── TransientError   retry with backoff (broker or search engine away, 429/5xx); never swallowed
    └── ConfigError      fail fast at start-up
"""

from __future__ import annotations

__all__ = ["AuditError", "ConfigError", "InvalidEvent", "TransientError"]


class AuditError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidEvent(AuditError):
    """A record that will never validate. ``reason`` is short and holds no payload text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(AuditError):
    """A dependency is away or overloaded: retry later, do not drop."""


class ConfigError(AuditError):
    """Settings that cannot work: reported at start-up, before any record is read."""
