"""State written by another version of the stream is set aside with an error, never a crash loop."""

from __future__ import annotations

import logging

import orjson
import pytest

from agent_audit.core.settings import Settings
from agent_audit.stream.metrics import MERGER_KEY, WINDOWS_KEY, MergeStage, PartitionWindows
from agent_audit.stream.state import PartitionState

OLD_WINDOWS = {"agg": {"partition": 0, "open": {}}, "offset": 41}  # no version field: an older layout
OLD_MERGER = {"merger": {"pending": {}}, "alerts": {}}


def _state(values: dict[str, object]) -> PartitionState:
    state = PartitionState(Settings())
    state.partitions[0] = dict(values)
    return state


def test_windows_of_an_older_layout_start_afresh_and_say_so(caplog: pytest.LogCaptureFixture) -> None:
    windows = PartitionWindows(Settings(), _state({WINDOWS_KEY: OLD_WINDOWS}))
    with caplog.at_level(logging.ERROR, logger="agent_audit.stream.metrics"):
        agg = windows._aggregator(0)
    assert agg.windows == {}
    assert windows.offsets[0] == -1  # every envelope from now on is counted
    assert "stream.state.incompatible" in caplog.text and "partition 0" in caplog.text


def test_a_merger_of_an_older_layout_starts_afresh_and_keeps_merging(
        caplog: pytest.LogCaptureFixture) -> None:
    stage = MergeStage(Settings(), _state({MERGER_KEY: OLD_MERGER}), rules=[])
    with caplog.at_level(logging.ERROR, logger="agent_audit.stream.metrics"):
        out, _ = stage.handle(orjson.dumps({"type": "watermark", "partition": 0, "watermark": 60.0}))
    assert out == [] and stage.merger is not None
    assert "stream.state.incompatible what=merger" in caplog.text
