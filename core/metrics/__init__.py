"""Windowed tool metrics: a mergeable latency sketch, per-partition windows, and their merge.

Flow inside the stream: each partition's ``WindowAggregator`` observes redacted events and, when
its event-time watermark passes a window's end (plus grace), emits a *partial* for that window.
``PartialMerger`` combines the partials of all partitions and finalizes one ``metric record`` per
(tool, window) once every partition's watermark has passed the window; a partial arriving after
that revises the record (same ``metric_id``, higher ``revision``).
"""

from core.metrics.merge import PartialMerger, metric_id
from core.metrics.sketch import LogSketch
from core.metrics.windows import WindowAggregator

__all__ = ["LogSketch", "PartialMerger", "WindowAggregator", "metric_id"]
