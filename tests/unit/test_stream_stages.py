"""The stream's CPU per stage: billed per envelope stage, exported by its telemetry, free when off."""

from __future__ import annotations

import gc

import orjson
from prometheus_client import generate_latest

from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.processing import Admission, EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.core.stages import StageTimes, count_gc
from agent_audit.core.wire import join_envelope
from agent_audit.stream.telemetry import StreamTelemetry
from tests.factories import BASE_TIME, event


def processor(times: StageTimes) -> EnvelopeProcessor:
    redactor = Redactor.from_settings(Settings(mode="development"))
    return EnvelopeProcessor(redactor, SessionChains(ChainHasher(b"k")), Admission(clock=BASE_TIME.timestamp),
                             times=times)


def test_a_disabled_clock_bills_nothing() -> None:
    """Off (the default), no stage is ever billed: no clock is read on the hot path."""
    times = StageTimes()
    processor(times).process(join_envelope(orjson.dumps(event("input", i)) for i in range(3)))
    assert times.ns == {}


def test_each_stage_of_an_envelope_is_billed_and_exported() -> None:
    """On, split/validate/redact/chain each get thread CPU, and the endpoint shows them as counters."""
    times = StageTimes(enabled=True)
    envelope = join_envelope(orjson.dumps(event("tool_call", i)) for i in range(200))
    processor(times).process(envelope + b"\nnot json")
    assert {"split", "validate", "redact", "chain", "dead_letters"} <= set(times.ns)
    assert all(ns >= 0 for ns in times.ns.values())
    telemetry = StreamTelemetry()
    telemetry.count_stages(times, StageTimes(enabled=True))
    text = generate_latest(telemetry.registry).decode()
    assert 'audit_stream_stage_cpu_seconds_total{stage="validate"}' in text


def test_dead_letters_keep_the_lines_order_whatever_stage_refused_them() -> None:
    """A line refused by the chain (a seq jump) and one refused by validation come out in line order."""
    lines = [orjson.dumps(event("input", 0)), orjson.dumps(event("input", 50_000, at=BASE_TIME)), b"{broken",
             orjson.dumps(event("input", 1))]
    out = processor(StageTimes()).process(join_envelope(lines))
    assert [d.reason.split(":")[0] for d in out.dead] == ["seq", "json"]
    assert [e.event["seq"] for e in out.events] == [0, 1]


def test_the_garbage_collector_is_billed_apart_when_counted() -> None:
    """With ``count_gc`` on, a collection bills ``gc``; off, nothing is hooked into the collector."""
    hooks = len(gc.callbacks)
    count_gc(StageTimes())
    assert len(gc.callbacks) == hooks
    times = StageTimes(enabled=True)
    count_gc(times)
    try:
        gc.collect()
        assert times.ns.get("gc", -1) >= 0
    finally:
        del gc.callbacks[hooks:]
