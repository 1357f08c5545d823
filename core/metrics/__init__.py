"""Windowed tool metrics: a mergeable latency sketch, per-partition windows, and their merge.

Pure: no Kafka, Faust, Elasticsearch or clock; wall time is passed in. Every stateful object has a
JSON-able ``to_json()`` and a ``from_json()`` that restores it.

Stage 1, in the envelope agent — one ``WindowAggregator`` per raw partition::

    agg = WindowAggregator(partition=p, size_s=60, grace_s=10, max_tools=200)
    agg = WindowAggregator.from_json(snapshot)     # instead, when the state table has one
    for event in envelope_events:                  # decoded v1 dicts (the contract's JSON mode)
        agg.observe(event, wall_now=time.time())   # False: late, counted in agg.counts["late"]
    partials = agg.close_due()                     # the idle timer calls close_due(time.time())
    mark = agg.watermark()                         # -inf while the partition knows nothing

Publish the partials, then ``{"partition": p, "watermark": mark}`` (skip a non-finite mark), and
snapshot ``agg.to_json()`` in the same flush as the envelope's outputs, with the envelope's offset
so a replayed envelope is skipped. Every window is emitted once: the snapshot carries the
watermark, and a restored aggregator never reopens a closed window. If a crash lost the snapshot
but not the partial, replaying the same envelopes closes the window again with the same partial,
which the merger ignores — unless the idle timer closed it first, which a restored aggregator
allows only after ``idle_s`` of quiet (default ``grace_s``) from its first call.

Stage 2, one merge agent for all partitions (low volume)::

    merger = PartialMerger(partitions=N)            # or PartialMerger.from_json(snapshot, partitions=N)
    records = merger.add_partial(partial)           # or merger.update_watermark(p, mark)

Publish each record on ``agent.metrics`` (key: tool or model; document id ``metric_id``, version
``revision``), feed it to ``core.alerts.AlertEvaluator``, and snapshot ``merger.to_json()`` after
each message or batch.

A partial: ``{"partition", "window_start", "window_end"`` (epoch s) ``, "tools": {name: {"calls",
"errors", "latency": sketch}}, "models": {name: {"outputs", "tokens", "cost"}}, "kinds": {kind: n},
"overflowed", "bad_durations"}``; other keys (a message "type") are ignored. Record shapes are in
``core.metrics.records``. Monitoring counters, cumulative and carried through snapshots:
``WindowAggregator.counts`` (late, future, windows_closed, overflowed, bad_durations) and
``PartialMerger.counts`` (partials, replayed, revisions, dropped, records).
"""

from agent_audit.core.metrics.merge import PartialMerger
from agent_audit.core.metrics.records import metric_id, window_records
from agent_audit.core.metrics.sketch import LogSketch
from agent_audit.core.metrics.tally import OVERFLOW, WindowTally
from agent_audit.core.metrics.windows import WindowAggregator, event_time

__all__ = [
    "OVERFLOW",
    "LogSketch",
    "PartialMerger",
    "WindowAggregator",
    "WindowTally",
    "event_time",
    "metric_id",
    "window_records",
]
