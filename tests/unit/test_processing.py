"""What the stream does to an envelope: split, validate, redact, encode; bad lines become dead letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.processing import Admission, EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.wire import join_envelope
from tests.factories import BASE_TIME, event

AT_BASE = Admission(clock=BASE_TIME.timestamp)  # events arrive when the factory made them


class MarkerRedactor:
    """Our own stand-in of the redaction port: replaces the word SECRET, counts what it did."""

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        n = text.count("SECRET")
        return text.replace("SECRET", "[X]"), ({"x": n} if n else {})

    def redact_value(self, value: Any, depth: int = 0) -> tuple[Any, dict[str, int]]:
        text, counts = self.redact_text(orjson.dumps(value).decode())
        return orjson.loads(text), counts

    def redact_event(self, ev: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        return self.redact_value(ev)


def processor(redactor: Any = None, chains: SessionChains | None = None) -> EnvelopeProcessor:
    return EnvelopeProcessor(redactor or MarkerRedactor(), chains, AT_BASE)


def test_valid_lines_come_out_redacted_keyed_by_session_in_order() -> None:
    """Each valid line gives one redacted event, keyed by session_id, in envelope order."""
    evs = [event("input", i, payload={"type": "text", "content": f"SECRET {i}"}) for i in range(5)]
    out = processor().process(join_envelope(orjson.dumps(e) for e in evs))
    assert [o.event["seq"] for o in out.events] == list(range(5))
    assert all(o.key == b"s-1" for o in out.events)
    assert all(b"SECRET" not in o.value for o in out.events)
    assert out.redactions["x"] == 5
    assert not out.dead


def test_bad_lines_become_dead_letters_with_reasons_and_do_not_stop_the_rest() -> None:
    """Invalid JSON, a non-object and a schema violation each give a dead letter; good lines go on."""
    bad = event("tool_call", 1)
    del bad["payload"]["tool_name"]
    lines = [orjson.dumps(event("input", 0)), b"{oops SECRET", b"42", orjson.dumps(bad),
             orjson.dumps(event("output", 2))]
    out = processor().process(join_envelope(lines))
    assert [o.event["seq"] for o in out.events] == [0, 2]
    reasons = [d.reason for d in out.dead]
    assert reasons[0].startswith("json:")
    assert reasons[1] == "json: expected an object, got int"
    assert reasons[2].startswith("schema:") and "tool_name" in reasons[2]
    assert out.dead[0].value == b"{oops [X]"  # what is not JSON is redacted as text


def test_output_is_normalized_by_the_contract() -> None:
    """Defaults are filled in and timestamps normalized from the validated model, not copied raw."""
    ev = event("input", 0)
    del ev["level"]
    ev["timestamp"] = "2026-11-25T10:30:00+01:00"
    out = processor().process(orjson.dumps(ev))
    assert out.events[0].event["level"] == "info"
    assert out.events[0].event["timestamp"].startswith("2026-11-25T09:30:00")


def test_json_no_encoder_can_write_back_is_refused_or_made_safe() -> None:
    """NaN is not JSON (a dead letter); an integer past 2**53 comes out exact, as a marked string."""
    nan = orjson.dumps(event("tool_call", 0)).replace(b'"refund"', b"NaN")
    huge = orjson.dumps(event("tool_call", 1)).replace(b'"refund"', b"1" * 30)
    out = processor().process(join_envelope([nan, huge]))
    assert [d.reason.split(":")[0] for d in out.dead] == ["json"]
    assert orjson.loads(out.events[0].value)["payload"]["parameters"]["q"] == "1" * 30 + "n"


def _line(ev: dict[str, Any]) -> bytes:
    return orjson.dumps(ev)


def test_timestamps_outside_the_arrival_window_are_dead_letters() -> None:
    """An event older than max_age_s or further ahead than max_skew_s at arrival is a dead letter
    with a timestamp reason; the events around it are stored."""
    old = event("input", 1, at=BASE_TIME - timedelta(days=31))
    ahead = event("input", 2, at=BASE_TIME + timedelta(seconds=301))
    out = processor().process(join_envelope([_line(event("input", 0)), _line(old), _line(ahead),
                                             _line(event("input", 3))]))
    assert [o.event["seq"] for o in out.events] == [0, 3]
    assert [d.reason for d in out.dead] == ["timestamp: more than 2592000 s before arrival",
                                            "timestamp: more than 300 s after arrival"]


def test_overflowing_timestamps_and_huge_counts_are_dead_letters_not_crashes() -> None:
    """The inputs that stopped a partition (year 9999 / year 1 with an offset, tokens_used of
    2**64 - 1, seq of 2**63 - 1) each give one dead letter; the valid events go on."""
    bad = [event("input", 1) | {"timestamp": "9999-12-31T23:59:59-01:00"},
           event("input", 2) | {"timestamp": "0001-01-01T00:00:00+01:00"},
           event("output", 3, payload={"metadata": {"tokens_used": 2**64 - 1}}),
           event("input", 2**63 - 1, at=BASE_TIME)]
    lines = [_line(event("input", 0)), *map(_line, bad), _line(event("input", 1))]
    out = processor(chains=SessionChains(ChainHasher())).process(join_envelope(lines))
    assert [o.event["seq"] for o in out.events] == [0, 1]
    assert [d.reason.split(":")[0] for d in out.dead] == ["schema"] * 4


def test_a_seq_far_past_the_head_cannot_move_the_chain() -> None:
    """A seq more than max_seq_gap past the session's last one is a dead letter, so later events
    still link to the real head."""
    chains = SessionChains(ChainHasher())
    far = event("input", 10_000_000, at=BASE_TIME)
    lines = [_line(event("input", 0)), _line(far), _line(event("input", 1))]
    out = processor(chains=chains).process(join_envelope(lines))
    assert [d.reason for d in out.dead] == ["seq: more than 10000 past the session's last seq"]
    first, second = (o.event for o in out.events)
    assert second["integrity"]["prev_hash"] == first["integrity"]["hash"]


def test_a_producers_redaction_and_integrity_are_dropped_not_merged() -> None:
    """redaction is the stream's alone: a producer's counts never add to the stream's, nor do its
    keys reach the output; a producer's integrity is replaced."""
    ev = event("input", 0, payload={"type": "text", "content": "mail jane@example.com"})
    ev["redaction"] = {"policy_version": "x", "counts": {"EMAIL": -5, "FAKE": 99}}
    ev["integrity"] = {"hash": "forged"}
    out = processor(Redactor(), SessionChains(ChainHasher())).process(_line(ev))
    stored = out.events[0].event
    assert stored["redaction"]["counts"] == {"EMAIL": 1}
    assert stored["integrity"]["hash"] != "forged"


@pytest.mark.parametrize("line", [
    b'{"kind":"input","seq":"x","payload":{"content":"jane\\u0040example.com"}}',
    b'{"kind":"input","seq":"x","payload":{"content":"4111\\u00201111\\u00201111\\u00201111"}}',
    b'{"kind":"input","seq":"x","payload":{"phone":"555 0123"}}',
    b'{"kind":"input","payload":{"content":"jane\\u0040example.com"}, NaN',
])
def test_dead_letters_of_json_lines_are_redacted_as_parsed_json(line: bytes) -> None:
    """A JSON line that fails the schema is redacted after its escapes are decoded, so no address,
    card or phone reaches the dead-letter topic; broken JSON is unescaped before text redaction."""
    out = processor(Redactor()).process(line)
    (dead,) = out.dead
    for clear in (b"jane", b"4111", b"555 0123", b"\\u00"):
        assert clear not in dead.value


class BrokenRedactor(MarkerRedactor):
    """A stand-in whose event redaction fails on one content value, and whose text redaction too."""

    def redact_event(self, ev: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        if ev["payload"].get("content") == "boom":
            raise RuntimeError("jane@example.com")  # the message may quote the payload
        return dict(ev), {}

    def redact_value(self, value: Any, depth: int = 0) -> tuple[Any, dict[str, int]]:
        raise RuntimeError("no")

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        raise RuntimeError("no")


def test_any_failure_on_one_line_is_its_dead_letter_and_never_quotes_it() -> None:
    """An unexpected error on one line gives that line a dead letter (reason: the error's type only,
    the record withheld if it cannot be redacted); the envelope's other lines are processed."""
    lines = [_line(event("input", 0)), _line(event("input", 1, payload={"content": "boom"})),
             _line(event("input", 2))]
    out = processor(BrokenRedactor()).process(join_envelope(lines))
    assert [o.event["seq"] for o in out.events] == [0, 2]
    (dead,) = out.dead
    assert dead.reason.startswith("internal: RuntimeError") and "jane" not in dead.reason
    assert dead.value == b""


def test_a_null_message_is_an_empty_envelope() -> None:
    """A Kafka message without a value (a tombstone) holds no line: nothing out, nothing raised."""
    out = processor().process(None)
    assert not out.events and not out.dead


def test_without_encoding_the_events_are_the_same_and_left_for_the_sealing_output() -> None:
    """``encode=False`` (the output seals from ``event``): no JSON is made here, and the events,
    their chain links and the dead letters are exactly those of an encoding processor."""
    evs = [event("input", i, payload={"type": "text", "content": f"SECRET {i}"}) for i in range(4)]
    envelope = join_envelope([*(orjson.dumps(e) for e in evs), b"{oops"])
    encoded = EnvelopeProcessor(MarkerRedactor(), SessionChains(ChainHasher()), AT_BASE).process(envelope)
    bare = EnvelopeProcessor(MarkerRedactor(), SessionChains(ChainHasher()), AT_BASE,
                             encode=False).process(envelope)
    assert all(o.value == b"" for o in bare.events)
    assert [o.event for o in bare.events] == [orjson.loads(o.value) for o in encoded.events]
    assert bare.dead == encoded.dead and bare.redactions == encoded.redactions
