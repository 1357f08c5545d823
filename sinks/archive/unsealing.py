"""Archived rows opened at read time, through the data-key store: content only while the key lives.

Every reader of archived events (named queries, restore, verify) goes through ``RowOpener``:
- a sealed row whose key lives opens to the event as the stream published it;
- one whose key was destroyed opens to its erasure tombstone (``erased {receipt, at}``, no
  content), exactly what Elasticsearch holds after the same forget;
- one whose key was never stored, or whose ciphertext does not decrypt (the file was altered),
  opens to its clear fields marked ``unreadable`` (a reason, no content): never an error, never
  content. Verification sees such a row as modified (it has no salt and is not erased).
Rows of files written before sealing reached the archive hold the event opened: they pass as
they are. The key store being away is a ``TransientError`` for the caller (no silent gaps).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from agent_audit.core.datakeys import DataKeys
from agent_audit.core.settings import Settings
from agent_audit.sinks.keystore import build_data_keys
from agent_audit.sinks.opening import EventOpener

__all__ = ["UNREADABLE", "RowOpener", "build_row_opener"]

UNREADABLE = "unreadable"  # the marker of a row that opened to neither content nor a tombstone


class RowOpener:
    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys
        # Reads do not wait for the key store: ``stopping`` true makes a missing store an error.
        self._opener = EventOpener(keys, stopping=lambda: True)

    def subjects(self, user_ids: Iterable[str]) -> list[str]:
        """The data-key subjects of these stored forms of a user id (what the archive's rows name)."""
        return sorted({self.keys.subject(u) for u in user_ids})

    def open_all(self, values: Sequence[str]) -> list[dict[str, Any]]:
        """The events of these ``event`` column values, in order (one key lookup for the batch)."""
        raw = [v.encode() for v in values]
        self._opener.prefetch(raw)
        return [self.open(v) for v in raw]

    def open(self, value: bytes) -> dict[str, Any]:
        try:
            opened = self._opener.open(value)
        except ValueError:
            return _unreadable(value, "does not decrypt: the archived record was altered")
        if opened is None:
            return _unreadable(value, "no data key was ever stored for it")
        event: dict[str, Any] = orjson.loads(opened)
        return event


def _unreadable(value: bytes, reason: str) -> dict[str, Any]:
    clear = orjson.loads(value)
    clear.pop("sealed", None)
    return {**clear, UNREADABLE: reason}


def build_row_opener(settings: Settings) -> RowOpener:
    return RowOpener(build_data_keys(settings, patience_s=30.0))
