"""How much to read before the next bulk request: a full batch, or what has come once Elasticsearch is free.

Asking Kafka for a full batch with a timeout leaves Elasticsearch idle whenever fewer records come
than a batch: the batch in flight is acknowledged and committed only when that consume gives up, and
what has arrived meanwhile waits too (the last 0.5 s of every burst, and every batch at rates below
Elasticsearch's capacity). Reading in short slices and stopping as soon as the caller says
``ready`` (nothing in flight and records to send, or the batch in flight done) makes the batch size
follow Elasticsearch's own pace: full batches under load, small prompt ones when it is quiet.

A ``linger`` bounds how small: once records have come, the batch waits that long for more before
``ready`` counts. At a few thousand events/s, 10 ms slices made 100 batches (and 200 bulk
requests) a second of about 30 documents each, and their fixed costs (commit, DLQ flush, HTTP,
Elasticsearch's own per-request work) took CPU from the stream on a shared machine; a linger well
below the index's 0.5 s refresh changes when documents become searchable very little.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["SLICE_S", "gather"]

T = TypeVar("T")

# Long enough that an idle consumer costs nothing (100 calls/s), short beside a bulk request.
SLICE_S = 0.01


def gather(consume: Callable[[int, float], Sequence[T]], want: int,
           ready: Callable[[list[T]], bool], timeout: float, linger: float = 0.0) -> list[T]:
    """Up to ``want`` records from ``consume(n, wait_s)``: stop when full, ``ready``, or at ``timeout``.
    Once records have come, ``ready`` counts only ``linger`` seconds after the first of them."""
    records: list[T] = []
    deadline = time.monotonic() + timeout
    first_at = None  # when the first record came
    while len(records) < want:
        left = deadline - time.monotonic()
        records += consume(want - len(records), max(0.0, min(SLICE_S, left)))
        if records and first_at is None:
            first_at = time.monotonic()
        lingered = first_at is None or time.monotonic() - first_at >= linger
        if (lingered and ready(records)) or left <= SLICE_S:
            break
    return records
