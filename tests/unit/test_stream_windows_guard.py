"""The windows, the merger and the state reader never wedge a partition, whatever reaches them."""

from __future__ import annotations

import logging

import orjson
import pytest

from agent_audit.core.metrics import WindowAggregator, WindowTally
from agent_audit.core.metrics.tally import MAX_TOKENS, ModelStats
from agent_audit.core.processing import ProcessedEnvelope, RedactedEvent
from agent_audit.core.settings import Settings
from agent_audit.stream.metrics import MergeStage, PartitionWindows
from agent_audit.stream.state import PartitionState
from tests.factories import event


def _windows() -> PartitionWindows:
    state = PartitionState(Settings())
    state.partitions[0] = {}
    return PartitionWindows(Settings(), state)


def _envelope(*events: dict[str, object]) -> ProcessedEnvelope:
    return ProcessedEnvelope(events=[RedactedEvent(b"s-1", orjson.dumps(e), e) for e in events])


def test_an_event_the_windows_cannot_count_is_counted_as_unmeasured() -> None:
    """An event whose time cannot be read is skipped by the windows (it is stored all the same), the
    envelope's other events counted, the snapshot readable."""
    bad = event("tool_call", 1)
    bad["timestamp"] = "not a time"
    windows = _windows()
    _, (_key, value, _p) = windows.observe(0, 5, _envelope(event("tool_call", 0), bad))
    agg = WindowAggregator.from_json(orjson.loads(value)["agg"])
    assert agg.counts["unmeasured"] == 1
    assert sum(w.kinds.get("tool_call", 0) for w in agg.windows.values()) == 1


def test_windows_that_cannot_be_snapshot_start_afresh_instead_of_wedging(
        caplog: pytest.LogCaptureFixture) -> None:
    """A window no JSON writer can encode (a count past 64 bits) is reset with an error log; the
    envelope's offset is kept, so a replay is not counted twice, and the next envelope goes on."""
    windows = _windows()
    windows.observe(0, 1, _envelope(event("output", 0)))
    tally = WindowTally(models={"m": ModelStats(outputs=1, tokens=2**70)})
    windows.aggregators[0].windows[0] = tally
    with caplog.at_level(logging.ERROR, logger="agent_audit.stream.metrics"):
        _, (_key, value, _p) = windows.observe(0, 2, _envelope(event("output", 1)))
    assert "stream.windows.reset" in caplog.text
    assert orjson.loads(value)["offset"] == 2
    windows.observe(0, 3, _envelope(event("output", 2)))
    windows.tick(0)


def test_token_sums_saturate_so_a_tally_always_encodes() -> None:
    """Tokens add up to at most MAX_TOKENS (2**53), in a window and in a merge."""
    tally = WindowTally()
    for _ in range(3):
        tally.add_event({"kind": "output", "payload": {"metadata": {"tokens_used": 10**9, "model": "m"}}},
                        10, 10)
    tally.models["m"].tokens = MAX_TOKENS - 1
    tally.add_event({"kind": "output", "payload": {"metadata": {"tokens_used": 10**9, "model": "m"}}}, 10, 10)
    assert tally.models["m"].tokens == MAX_TOKENS
    assert tally.merge(tally).models["m"].tokens == MAX_TOKENS
    orjson.dumps(tally.to_json())


@pytest.mark.parametrize("message", [b"not json", b"[]", b'{"type": "partial"}', b'{"type": 5}'])
def test_a_message_on_the_partials_topic_that_is_not_ours_is_skipped(message: bytes) -> None:
    """The merge agent logs and skips what is not a partial or a watermark; it keeps merging."""
    stage = MergeStage(Settings(), PartitionState(Settings()), rules=[])
    stage.state.partitions[0] = {}
    assert stage.handle(message) == ([], [])
    stage.handle(orjson.dumps({"type": "watermark", "partition": 0, "watermark": 60.0}))
