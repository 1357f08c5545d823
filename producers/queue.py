"""The bounded in-memory queue between the agent's threads and the transport's background thread.

The only work on the agent's side is a list append under ``RECORD_LOCK``, the one lock of the hot
path: the trail takes it once per event to number the event (seq) and queue it in the same step, so
every session's events are queued in seq order. The bound (events and bytes) is what keeps the
client's memory flat under a flood: when the background thread cannot keep up, new events are
refused and counted, never buffered without limit and never waited for. A refusal is reported by
the background thread (``take_refusal_report``), never logged on the agent's thread.
"""

from __future__ import annotations

import threading

from agent_audit.producers.event_line import QueuedItem, item_size

__all__ = ["RECORD_LOCK", "EventQueue"]

# One lock for every trail and queue of the process: seq counters are per session, and a session's
# trails may share a transport or not. Held for a few hundred ns, never while waiting for anything.
# Reentrant: a transport of someone else's whose send() logs through an audit bridge (which records
# again on this thread) must not deadlock the agent.
RECORD_LOCK = threading.RLock()


class EventQueue:
    def __init__(self, max_events: int, max_bytes: int, wake_at: int,
                 wake: threading.Event | None = None) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.wake_at = wake_at  # a full envelope's worth: start publishing before the linger ends
        self.wake = wake or threading.Event()
        self.refused = 0
        self._reported = 0  # refusals already reported
        self._items: list[QueuedItem] = []
        self._bytes = 0
        self._taken = 0  # items handed to the transport so far: ``accepted`` counts without a += per put
        self._wake_after = wake_at - 1  # put wakes the thread when the list held this many before it

    @property
    def accepted(self) -> int:
        """Items queued so far (taken or waiting)."""
        with RECORD_LOCK:  # take() moves items from one count to the other in two steps
            return self._taken + len(self._items)

    def put(self, item: QueuedItem, size: int) -> bool:
        """Append one item of ``size`` (its ``item_size``: the trail knows it from the parts it just
        made; measuring the tuple here cost ~5% of a recorded call); False (and counted) at the bound.
        The caller holds ``RECORD_LOCK``."""
        items = self._items
        queued = len(items)
        total = self._bytes + size
        if queued < self.max_events and total <= self.max_bytes:
            items.append(item)
            self._bytes = total
            if queued == self._wake_after:
                self.wake.set()  # a full envelope's worth is waiting
            return True
        self.refused += 1
        return False

    def put_locked(self, item: QueuedItem) -> bool:
        """``put`` for callers that do not hold ``RECORD_LOCK``."""
        with RECORD_LOCK:
            return self.put(item, item_size(item))

    def take(self) -> list[QueuedItem]:
        """Everything queued so far, in order; the queue starts empty again."""
        with RECORD_LOCK:
            items, self._items, self._bytes = self._items, [], 0
            self._taken += len(items)
        return items

    def take_refusal_report(self) -> bool:
        """True once after the first refusal (the background thread logs it, not the agent's)."""
        if self.refused and not self._reported:
            self._reported = self.refused
            return True
        return False

    def __len__(self) -> int:
        return len(self._items)
