"""Nothing escapes the stream's pure path, whatever a producer sends.

Arbitrary events (valid ones with any field replaced by any JSON value, including integers past
64 bits and keys that look like PII), arbitrary bytes and arbitrary envelopes go through
validation, redaction, the hash chain, the windows and the state snapshot: nothing raises, every
line ends as exactly one output event or one dead letter, what is stored validates against the
contract and encodes again, no reason quotes the payload, every state record reads back.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_audit.core.contract import validate_event
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.metrics import WindowAggregator
from agent_audit.core.processing import Admission, EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.core.wire import split_envelope
from agent_audit.stream.metrics import PartitionWindows
from agent_audit.stream.state import PartitionState
from tests.factories import BASE_TIME, event

CANARY = "zq9canary"  # planted in keys and values: no reason may quote it
KINDS = ["input", "reasoning", "tool_call", "output", "error"]
PATHS = ["seq", "timestamp", "kind", "session_id", "user_id", "agent", "level", "redaction", "integrity",
         "payload", "payload.duration_ms", "payload.confidence", "payload.parameters", "payload.result",
         "payload.metadata", "payload.metadata.tokens_used", "payload.metadata.cost", "payload.content",
         "payload.tool_name", "payload.status", "trace_id", "schema_version", CANARY]

_numbers = st.one_of(st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, 2**64 - 1, 2**64, -(2**63)]),
                     st.floats(allow_nan=False, allow_infinity=False))
_texts = st.one_of(st.text(max_size=30), st.sampled_from([
    CANARY, f"{CANARY}@example.com", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
    "2026-11-25T09:30:00Z", "12", "0.5", "true", "NaN", "tool_call"]))
_json = st.recursive(st.none() | st.booleans() | _numbers | _texts,
                     lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.one_of(st.text(max_size=8), st.just(CANARY)), kids, max_size=3),
                     max_leaves=8)


def _mutate(ev: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(ev)
    target: Any = out
    *parents, leaf = path.split(".")
    for p in parents:
        if not isinstance(target, dict) or not isinstance(target.get(p), dict):
            return out
        target = target[p]
    target[leaf] = value
    return out


@st.composite
def _events(draw: st.DrawFn) -> dict[str, Any]:
    seq = draw(st.integers(0, 40))
    ev = event(draw(st.sampled_from(KINDS)), seq, session=draw(st.sampled_from(["s-1", "s-2"])))
    for _ in range(draw(st.integers(0, 3))):
        ev = _mutate(ev, draw(st.sampled_from(PATHS)), draw(_json))
    return ev


def _encoded(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer orjson refuses: write one anyway, as another language could
        return b'{"big": ' + str(2**70).encode() + b"}"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


_lines = st.one_of(_events().map(_encoded), st.binary(max_size=60),
                   st.text(max_size=60).map(_utf8),
                   _json.map(_encoded))
_envelopes = st.lists(_lines, max_size=8).map(b"\n".join)


def _check_envelope(processor: EnvelopeProcessor, windows: PartitionWindows, envelope: bytes,
                    offset: int) -> None:
    lines = list(split_envelope(envelope))
    out = processor.process(envelope)
    assert len(out.events) + len(out.dead) == len(lines)
    for stored in out.events:
        decoded = orjson.loads(stored.value)
        validate_event(decoded)  # what is stored is an event of the contract
        assert decoded["redaction"]["counts"] == stored.event["redaction"]["counts"]
    for dead in out.dead:
        assert CANARY not in dead.reason
    assert processor.chains is not None
    records = [windows.state.put(0, f"chain:{s}", c.to_json())
               for s, c in processor.chains.drain_touched().items()]
    metric_out, window_state = windows.observe(0, offset, out)
    for _key, value, _partition in [*records, window_state]:
        orjson.loads(value)
    for record in metric_out:
        orjson.loads(record.value)
    WindowAggregator.from_json(orjson.loads(window_state[1])["agg"])
    windows.tick(0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_envelopes, min_size=1, max_size=4))
def test_nothing_escapes_validation_redaction_chain_windows_or_snapshot(envelopes: list[bytes]) -> None:
    """Any envelopes: no exception, one output or one dead letter per line, outputs valid and
    encodable, reasons free of the payload, every state record and snapshot readable again."""
    conf = Settings(mode="development")
    processor = EnvelopeProcessor(Redactor(), SessionChains(ChainHasher()),
                                  Admission(clock=BASE_TIME.timestamp))
    windows = PartitionWindows(conf, PartitionState(conf))
    windows.state.partitions[0] = {}
    for offset, envelope in enumerate(envelopes):
        _check_envelope(processor, windows, envelope, offset)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_any_json_line_is_one_dead_letter_or_one_event(value: Any) -> None:
    """A line holding any JSON value at all is exactly one output or one dead letter."""
    processor = EnvelopeProcessor(Redactor(), SessionChains(ChainHasher()),
                                  Admission(clock=BASE_TIME.timestamp))
    out = processor.process(_encoded(value))
    assert len(out.events) + len(out.dead) == len(list(split_envelope(_encoded(value))))
