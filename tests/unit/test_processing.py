"""What the stream does to an envelope: split, validate, redact, encode; bad lines become dead letters."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from agent_audit.core.processing import EnvelopeProcessor
from agent_audit.core.wire import join_envelope

from tests.factories import event


class MarkerRedactor:
    """Our own stand-in of the redaction port: replaces the word SECRET, counts what it did."""

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        n = text.count("SECRET")
        return text.replace("SECRET", "[X]"), ({"x": n} if n else {})

    def redact_event(self, ev: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        text, counts = self.redact_text(orjson.dumps(ev).decode())
        return orjson.loads(text), counts


def test_valid_lines_come_out_redacted_keyed_by_session_in_order() -> None:
    """Each valid line gives one redacted event, keyed by session_id, in envelope order."""
    evs = [event("input", i, payload={"type": "text", "content": f"SECRET {i}"}) for i in range(5)]
    out = EnvelopeProcessor(MarkerRedactor()).process(join_envelope(orjson.dumps(e) for e in evs))
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
    out = EnvelopeProcessor(MarkerRedactor()).process(join_envelope(lines))
    assert [o.event["seq"] for o in out.events] == [0, 2]
    reasons = [d.reason for d in out.dead]
    assert reasons[0].startswith("json:")
    assert reasons[1] == "json: expected an object, got int"
    assert reasons[2].startswith("schema:") and "tool_name" in reasons[2]
    assert out.dead[0].value == b"{oops [X]"  # dead letters are redacted as text


def test_output_is_normalized_by_the_contract() -> None:
    """Defaults are filled in and timestamps normalized from the validated model, not copied raw."""
    ev = event("input", 0)
    del ev["level"]
    ev["timestamp"] = "2026-11-25T10:30:00+01:00"
    out = EnvelopeProcessor(MarkerRedactor()).process(orjson.dumps(ev))
    assert out.events[0].event["level"] == "info"
    assert out.events[0].event["timestamp"].startswith("2026-11-25T09:30:00")


def test_json_no_encoder_can_write_back_is_refused_or_made_safe() -> None:
    """NaN is not JSON (a dead letter); an integer past 64 bits comes out as a number, not a crash."""
    nan = orjson.dumps(event("tool_call", 0)).replace(b'"refund"', b"NaN")
    huge = orjson.dumps(event("tool_call", 1)).replace(b'"refund"', b"1" * 30)
    out = EnvelopeProcessor(MarkerRedactor()).process(join_envelope([nan, huge]))
    assert [d.reason.split(":")[0] for d in out.dead] == ["json"]
    assert orjson.loads(out.events[0].value)["payload"]["parameters"]["q"] == pytest.approx(float("1" * 30))
