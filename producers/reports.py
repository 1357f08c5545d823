"""Failures are reported once per kind through stdlib logging, never with payloads (they may hold PII)."""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["OnceLog"]


class OnceLog:
    """Logs the first occurrence of each kind of failure; later ones are only counted by the caller."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, kind: str, message: str, *args: Any, level: int = logging.WARNING,
                 exc_info: bool = False) -> None:
        with self._lock:
            if kind in self._seen:
                return
            self._seen.add(kind)
        self.logger.log(level, "audit.%s " + message + " (reported once)", kind, *args, exc_info=exc_info)

    def reset(self, kind: str) -> None:
        """Report ``kind`` again next time (e.g. the broker went away, came back, went away again)."""
        with self._lock:
            self._seen.discard(kind)
