"""How much to read before the next bulk request: a full batch, or what has come once Elasticsearch is free.

Asking Kafka for a full batch with a timeout leaves Elasticsearch idle whenever fewer records come
than a batch: the batch in flight is acknowledged and committed only when that consume gives up, and
what has arrived meanwhile waits too (the last 0.5 s of every burst, and every batch at rates below
Elasticsearch's capacity). Reading in short slices and stopping as soon as the caller says
``ready`` (nothing in flight and records to send, or the batch in flight done) makes the batch size
follow Elasticsearch's own pace: full batches under load, small prompt ones when it is quiet.
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
           ready: Callable[[list[T]], bool], timeout: float) -> list[T]:
    """Up to ``want`` records from ``consume(n, wait_s)``: stop when full, ``ready``, or at ``timeout``."""
    records: list[T] = []
    deadline = time.monotonic() + timeout
    while len(records) < want:
        left = deadline - time.monotonic()
        records += consume(want - len(records), max(0.0, min(SLICE_S, left)))
        if ready(records) or left <= SLICE_S:
            break
    return records
