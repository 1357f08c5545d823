"""NDJSON redaction (the `agent-audit redact` path): same objects, same structure, bad lines named."""

from __future__ import annotations

import orjson

from core.redaction import Redactor
from core.redaction.ndjson import LineError, redact_ndjson_lines


def test_each_object_comes_back_redacted_with_its_structure_and_bad_lines_are_named() -> None:
    """Objects in order, one line each; a non-JSON line and a non-object give a LineError with the
    line number and never the line's content; blank lines are skipped."""
    lines = [b'{"user": "jane@example.com", "n": 3, "nested": {"password": "p"}}\n', "not json jane@x.com",
             b"[1]", b"   ", '{"ok": "call +44 20 7946 0958", "tokens_used": 5}']
    out = list(redact_ndjson_lines(lines, Redactor()))
    assert [orjson.loads(o) for o in out if isinstance(o, str)] == [
        {"user": "[EMAIL]", "n": 3, "nested": {"password": "[SECRET]"}},
        {"ok": "call [PHONE]", "tokens_used": 5}]
    errors = [o for o in out if isinstance(o, LineError)]
    assert [e.number for e in errors] == [2, 3]
    assert "jane" not in str(errors[0]) and "invalid JSON" in str(errors[0])
    assert "expected a JSON object" in str(errors[1])


def test_invalid_utf8_is_a_line_error_not_a_crash() -> None:
    """Bytes that are not UTF-8 are reported by number like any other bad line."""
    out = list(redact_ndjson_lines([b'{"a": "\xff\xfe"}'], Redactor()))
    assert isinstance(out[0], LineError) and out[0].number == 1
