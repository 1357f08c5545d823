"""Ordered bulk lanes: every write of one document id goes through the same lane, in consumption order.

Guarantee: of two records with the same ``_id`` (two copies of one ``event_id``), the one consumed
first reaches Elasticsearch first, whatever the batching: each lane is one thread that runs its
requests one after the other (a request and all its retries), and an id always maps to the same lane.
With ``op_type=create`` the first copy in partition order is therefore the one stored; the later one
gets its 409. Batches still overlap (lane 1 may write batch n+1 while lane 0 finishes batch n), so
Elasticsearch never waits on the consumer.

Before lanes, a batch's chunks ran on a shared pool and two batches could be in flight at once: a
later copy in the next batch, or in a parallel chunk, was stored first in about 2% of conflicting pairs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from agent_audit.sinks.bulk import BulkItem, chunk_by_bytes

__all__ = ["BulkLanes", "lane_of"]

T = TypeVar("T")


def lane_of(doc_id: str, lanes: int) -> int:
    """A stable lane for an id (CRC32: the same in every process, unlike ``hash()``)."""
    return zlib.crc32(doc_id.encode()) % lanes


class BulkLanes:
    """``lanes`` single-thread executors; ``submit`` splits items by lane, then by bytes, in order."""

    def __init__(self, lanes: int, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lanes = [ThreadPoolExecutor(1, thread_name_prefix=f"bulk-{i}") for i in range(max(1, lanes))]

    def submit(self, items: Sequence[BulkItem],
               write: Callable[[Sequence[BulkItem]], T]) -> list[Future[T]]:
        """Queue ``write(chunk)`` per chunk on its lane, behind everything queued there before."""
        n = len(self._lanes)
        by_lane: list[list[BulkItem]] = [[] for _ in range(n)]
        for item in items:
            by_lane[lane_of(item.doc_id, n) if n > 1 else 0].append(item)
        return [self._lanes[i].submit(write, chunk)
                for i, lane_items in enumerate(by_lane)
                for chunk in chunk_by_bytes(lane_items, self.max_bytes)]

    def shutdown(self) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=True)
