"""The sink's decrypt step: open sealed events before indexing; a forgotten user's never reach the index.

An event whose data key is destroyed opens as its erasure tombstone (content-free, same ``_id``),
which is what gets indexed: a late copy (spool or DLQ replay, a lagging partition) of an erased
event lands as erased, and its session stays verifiable. Such events are counted and logged by id
and receipt only. An event whose key never existed is skipped (counted, logged); one that fails
to decrypt raises ``ValueError`` so the worker dead-letters it, still sealed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag

from agent_audit.core.datakeys import DataKeys
from agent_audit.core.errors import TransientError
from agent_audit.core.sealing import open_event

__all__ = ["EventOpener"]

log = logging.getLogger(__name__)
_MARK = b'"sealed":{"v":'
_HEAD = re.compile(rb'"sealed":\{"v":\d+,"subject":"([^"]+)","gen":(\d+)')


class EventOpener:
    def __init__(self, keys: DataKeys, stopping: Callable[[], bool] = lambda: False) -> None:
        self.keys = keys
        self.stopping = stopping  # asked to stop while the key store is away: give up the batch
        self.shredded = 0  # indexed as tombstones: their key was destroyed
        self.unreadable = 0  # skipped: no key was ever stored for them

    def prefetch(self, values: Iterable[bytes]) -> None:
        """Look up a batch's data keys in one request, so ``open`` finds them cached."""
        wanted: dict[str, int] = {}
        for value in values:
            if (m := _HEAD.search(value)) is not None:
                subject, gen = m[1].decode(), int(m[2])
                wanted[subject] = max(gen, wanted.get(subject, 0))
        if wanted:
            self.keys.warm_for_reading(wanted)

    def open_many(self, values: Iterable[bytes]) -> list[bytes | None]:
        """``open`` for each value, in order."""
        return [self.open(value) for value in values]

    def open(self, value: bytes) -> bytes | None:
        """The document to index, or None to skip this record."""
        if _MARK not in value:  # metrics, alerts, events written unsealed
            return value
        backoff = 0.2
        while True:
            try:
                opened = self._open_sealed(value)
                break
            except InvalidTag:
                raise ValueError("sealed event does not decrypt") from None
            except TransientError:  # a key not known yet and the store away: wait for it
                if self.stopping():
                    raise
                log.warning("sink.keystore.retry backoff_s=%.1f", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        if opened is None:
            self.unreadable += 1
            log.warning("sink.sealed.no_key: skipped an event whose data key was never stored")
        return opened

    def _open_sealed(self, value: bytes) -> bytes | None:
        opened = open_event(value, self.keys)
        if opened.shredded:
            self.shredded += 1
            log.info("sink.shredded receipt=%s: indexed as its erasure tombstone", opened.receipt)
        return opened.value
