"""NDJSON redaction (the `agent-audit redact` path): same objects, same structure, bad lines named."""

from __future__ import annotations

import subprocess
import sys

import orjson

from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.ndjson import LineError, redact_ndjson_lines


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


def test_the_redaction_package_imports_no_transport_or_network_code() -> None:
    """core.redaction is pure: importing all of it pulls in no Kafka, Faust, Elasticsearch or HTTP
    client (checked in a fresh interpreter, so other tests' imports do not count)."""
    probe = ("import sys, agent_audit.core.redaction, agent_audit.core.redaction.ndjson; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in {'faust', 'confluent_kafka', "
             "'aiokafka', 'elasticsearch', 'elastic_transport', 'httpx', 'requests', 'urllib3', 'aiohttp'}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          timeout=60)
    assert done.stdout.strip() == "[]"
