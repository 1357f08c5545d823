"""The bounded in-memory queue between the agent's threads and the transport's background thread.

The only work on the agent's side is an append under a lock. The bound (events and bytes) is what
keeps the client's memory flat under a flood: when the background thread cannot keep up, new
events are refused and counted, never buffered without limit and never waited for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["EventQueue"]


class EventQueue:
    def __init__(self, max_events: int, max_bytes: int, wake_at: int,
                 wake: threading.Event | None = None, on_refusal: Callable[[], None] | None = None) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.wake_at = wake_at  # a full envelope's worth: start publishing before the linger ends
        self.wake = wake or threading.Event()
        self.on_refusal = on_refusal  # called on the first refusal only: report once, count always
        self.accepted = 0
        self.refused = 0
        self._items: list[tuple[str, bytes]] = []
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, session_id: str, encoded: bytes) -> bool:
        """Append one event; False (and counted) when the queue is at its bound."""
        with self._lock:
            items = self._items
            if len(items) < self.max_events and self._bytes + len(encoded) <= self.max_bytes:
                items.append((session_id, encoded))
                self._bytes += len(encoded)
                self.accepted += 1
                if len(items) != self.wake_at:
                    return True
                refused = False
            else:
                self.refused += 1
                refused = True
        if not refused:
            self.wake.set()  # a full envelope's worth is waiting
            return True
        if self.refused == 1 and self.on_refusal is not None:
            self.on_refusal()
        return False

    def take(self) -> list[tuple[str, bytes]]:
        """Everything queued so far, in order; the queue starts empty again."""
        with self._lock:
            items, self._items, self._bytes = self._items, [], 0
        return items

    def __len__(self) -> int:
        return len(self._items)
