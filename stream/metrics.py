"""Glue between the Faust agents and ``core.metrics``: windows per raw partition, one merger.

``PartitionWindows`` keeps a ``WindowAggregator`` per raw partition, restored from the state topic
with the offset of the last envelope it counted, so a replayed envelope (after a crash, before the
commit) is not counted twice. Its snapshot goes out with the envelope's outputs. ``MergeStage``
turns partials and watermarks into metric records for ``agent.metrics``.

Neither can wedge a partition: an event the windows cannot count is logged and counted in
``counts["unmeasured"]`` (it is stored all the same), and if a partition's windows cannot be
closed or snapshot at all they are started afresh with an error log (the open windows are lost,
the envelope goes on). A message on the partials topic that is not one of ours is logged and skipped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from agent_audit.core.alerts import AlertEvaluator, Rule
from agent_audit.core.metrics import PartialMerger, WindowAggregator
from agent_audit.core.processing import ProcessedEnvelope
from agent_audit.core.settings import Settings
from agent_audit.stream.output import OutRecord
from agent_audit.stream.state import PartitionState

__all__ = ["MergeStage", "PartitionWindows"]

WINDOWS_KEY = "windows"
MERGER_KEY = "merger"

log = logging.getLogger(__name__)
T = TypeVar("T")


def _restored(what: str, restore: Callable[[], T]) -> T | None:
    """A snapshot another version wrote (or a damaged one) is set aside with an error log, not a
    crash loop: the stream starts that state afresh, and the windows open at the upgrade are lost."""
    try:
        return restore()
    except (ValueError, KeyError, TypeError) as exc:
        log.error("stream.state.incompatible what=%s error=%s: starting it afresh", what, exc)
        return None


class PartitionWindows:
    def __init__(self, settings: Settings, state: PartitionState) -> None:
        self.settings = settings
        self.state = state
        self.aggregators: dict[int, WindowAggregator] = {}
        self.offsets: dict[int, int] = {}

    def _aggregator(self, partition: int) -> WindowAggregator:
        if partition not in self.aggregators:
            snap = self.state.get(partition, WINDOWS_KEY)
            agg = _restored(f"windows of partition {partition}",
                            lambda: WindowAggregator.from_json(snap["agg"])) if snap else None
            if agg is not None:
                self.aggregators[partition] = agg
                self.offsets[partition] = int(snap["offset"])
            else:
                self._fresh(partition, -1)
        return self.aggregators[partition]

    def _fresh(self, partition: int, offset: int) -> None:
        s = self.settings
        self.aggregators[partition] = WindowAggregator(
            partition=partition, size_s=s.window_s, grace_s=s.window_grace_s, max_tools=s.window_max_tools)
        self.offsets[partition] = offset

    def counted_through(self, partition: int) -> int:
        """The offset of the partition's last envelope whose outputs and state were flushed (-1: none)."""
        try:
            self._aggregator(partition)
        except Exception:  # an unreadable snapshot: observe() starts afresh and says so
            return -1
        return self.offsets.get(partition, -1)

    def observe(self, partition: int, offset: int, result: ProcessedEnvelope
                ) -> tuple[list[OutRecord], tuple[bytes, bytes, int]]:
        """Count an envelope once; return partials/watermark to publish and the state record."""
        try:
            agg = self._aggregator(partition)
            if offset > self.offsets[partition]:
                now = time.time()
                for ev in result.events:
                    _count(agg, ev.event, now)
                self.offsets[partition] = offset
            return self._emit(partition, agg.close_due(), agg.watermark())
        except Exception as exc:  # the windows must never wedge their partition
            return self._afresh(partition, max(offset, self.offsets.get(partition, -1)), exc)

    def tick(self, partition: int) -> tuple[list[OutRecord], tuple[bytes, bytes, int]]:
        """The idle timer: wall-clock time closes windows of a quiet partition."""
        try:
            agg = self._aggregator(partition)
            now = time.time()
            return self._emit(partition, agg.close_due(now), agg.watermark(now))
        except Exception as exc:  # same: a broken window must not stop the timer
            return self._afresh(partition, self.offsets.get(partition, -1), exc)

    def _afresh(self, partition: int, offset: int, exc: Exception
                ) -> tuple[list[OutRecord], tuple[bytes, bytes, int]]:
        log.error("stream.windows.reset partition=%d error=%s: open windows lost, starting afresh",
                  partition, type(exc).__name__)
        self._fresh(partition, offset)
        return self._emit(partition, [], -math.inf)

    def _emit(self, partition: int, partials: list[dict[str, Any]], watermark: float
              ) -> tuple[list[OutRecord], tuple[bytes, bytes, int]]:
        topic = self.settings.topics.partials
        out = [OutRecord(topic, orjson.dumps({"type": "partial", **p})) for p in partials]
        if math.isfinite(watermark):  # no event and no idle tick yet: nothing to say
            out.append(OutRecord(topic, orjson.dumps(
                {"type": "watermark", "partition": partition, "watermark": watermark})))
        snap = {"agg": self.aggregators[partition].to_json(), "offset": self.offsets[partition]}
        return out, self.state.put(partition, WINDOWS_KEY, snap)

    def forget(self) -> None:
        self.aggregators.clear()
        self.offsets.clear()


def _count(agg: WindowAggregator, event: dict[str, Any], now: float) -> None:
    try:
        agg.observe(event, now)
    except Exception as exc:  # one event the windows cannot count is not a stop
        agg.counts["unmeasured"] = agg.counts.get("unmeasured", 0) + 1
        log.warning("stream.windows.unmeasured error=%s", type(exc).__name__)


class MergeStage:
    def __init__(self, settings: Settings, state: PartitionState, rules: list[Rule]) -> None:
        self.settings = settings
        self.state = state
        self.rules = rules
        self.merger: PartialMerger | None = None
        self.alerts = AlertEvaluator(rules)
        self.fired: list[dict[str, Any]] = []  # alerts of the last message, for the notifier

    def _restore_alerts(self, data: dict[str, Any]) -> bool:
        self.alerts.restore(data)
        return True

    def handle(self, message: bytes) -> tuple[list[OutRecord], list[tuple[bytes, bytes, int]]]:
        try:
            return self._handle(message)
        except Exception as exc:  # a message that is not ours must not stop the merge
            log.error("stream.merge.skipped error=%s: not a partial or watermark", type(exc).__name__)
            return [], []

    def _handle(self, message: bytes) -> tuple[list[OutRecord], list[tuple[bytes, bytes, int]]]:
        if self.merger is None:
            snap = self.state.get(0, MERGER_KEY)
            merger = _restored("merger", lambda: PartialMerger.from_json(snap["merger"])) if snap else None
            self.merger = merger or PartialMerger(self.settings.raw_partitions)
            self.alerts = AlertEvaluator(self.rules)
            if merger is not None and not _restored("alerts", lambda: self._restore_alerts(snap["alerts"])):
                self.alerts = AlertEvaluator(self.rules)
        data = orjson.loads(message)
        if data["type"] == "watermark" and data.get("watermark") is None:
            return [], []
        if data["type"] == "partial":
            records = self.merger.add_partial(data)
            changed = True
        else:
            records = self.merger.update_watermark(int(data["partition"]), float(data["watermark"]))
            changed = bool(records)
        out = [OutRecord(self.settings.topics.metrics, orjson.dumps(r),
                         str(r.get("tool") or r.get("model") or r["type"]).encode(),
                         (("metric_id", r["metric_id"].encode()), ("revision", str(r["revision"]).encode()),
                          ("day", r["window_start"][:10].replace("-", ".").encode())))
               for r in records]
        for record in records:
            for alert in self.alerts.evaluate(record):
                headers = (("alert_id", alert["alert_id"].encode()),
                           ("day", alert["window_start"][:10].replace("-", ".").encode()))
                out.append(OutRecord(self.settings.topics.alerts, orjson.dumps(alert),
                                     alert["subject"].encode(), headers))
        self.fired = [orjson.loads(r.value) for r in out if r.topic == self.settings.topics.alerts]
        snap = {"merger": self.merger.to_json(), "alerts": self.alerts.to_json()}
        state = [self.state.put(0, MERGER_KEY, snap)] if changed else []
        return out, state
