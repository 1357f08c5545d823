"""CPU time per stage of the stream's path, so its cost structure is visible in every run.

The guarantee: a stage is billed only the CPU time of the thread that ran it (``time.thread_time_ns``,
not wall time), so a switch to another thread in the middle of a stage (the output thread sealing,
the event loop) is not counted against it. A clock read costs a few µs on these machines, so
stages are timed once per envelope around a loop over its events, never once per event; a
disabled ``StageTimes`` (the default) reads no clock at all.

Each thread keeps its own ``StageTimes``; readers (the telemetry endpoint) only read ``ns``.
``count_gc`` bills the garbage collector, in whichever thread it ran, to ``gc``: that time is also
inside the stage it interrupted, so it is an "of which", never added to the stages.
"""

from __future__ import annotations

import gc
import time
from typing import Any

__all__ = ["StageTimes", "count_gc"]


class StageTimes:
    """Nanoseconds of thread CPU per stage name, summed since start-up."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.ns: dict[str, int] = {}

    def now(self) -> int:
        """A mark to pass to ``lap`` (0 when disabled)."""
        return time.thread_time_ns() if self.enabled else 0

    def lap(self, stage: str, since: int) -> int:
        """Bill ``stage`` the thread's CPU time since ``since``; return the new mark."""
        if not self.enabled:
            return 0
        now = time.thread_time_ns()
        self.ns[stage] = self.ns.get(stage, 0) + now - since
        return now


def count_gc(times: StageTimes) -> None:
    """Add every collection's duration to ``times`` as ``gc``. Wall time (a collection runs on the
    CPU from start to end, under the GIL) from the cheap clock: collections come every few
    hundred allocations, and the thread CPU clock would cost more than many of them."""
    if not times.enabled:
        return
    started = [0]
    ns = times.ns

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter_ns()
        else:
            ns["gc"] = ns.get("gc", 0) + time.perf_counter_ns() - started[0]

    gc.callbacks.append(on_gc)
