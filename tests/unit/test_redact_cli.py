"""`agent-audit redact`: NDJSON in, the same objects redacted out; bad lines reported, not echoed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).parents[2]


def test_objects_keep_their_structure_and_bad_lines_are_reported_by_number() -> None:
    """Each object comes back redacted with the same keys; line 2 (not JSON) is named, not echoed."""
    stdin = b'{"user": "jane@example.com", "n": 3, "nested": {"password": "p"}}\n' \
            b'not json jane@example.com\n[1]\n{"ok": "call +44 20 7946 0958"}\n'
    done = subprocess.run([sys.executable, "-m", "agent_audit.cli.main", "redact"], input=stdin, cwd=ROOT,
                          capture_output=True, timeout=60, check=False)
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert lines == [{"user": "[EMAIL]", "n": 3, "nested": {"password": "[SECRET]"}},
                     {"ok": "call [PHONE]"}]
    assert b"line 2: invalid JSON" in done.stderr
    assert b"line 3: expected a JSON object" in done.stderr
    assert b"jane" not in done.stderr
    assert done.returncode == 1


def test_the_command_reads_keys_and_phrases_as_the_stream_does() -> None:
    """Context rules hold in `agent-audit redact` too: a 9-digit SSN under ssn_number, a password
    after "my password is", a version under agent_version."""
    stdin = b'{"ssn_number": "123456789", "note": "my password is hunter2", "agent_version": "6.18.5.36"}\n'
    done = subprocess.run([sys.executable, "-m", "agent_audit.cli.main", "redact"], input=stdin, cwd=ROOT,
                          capture_output=True, timeout=60, check=False)
    assert orjson.loads(done.stdout) == {"ssn_number": "[SSN]", "note": "my password is [SECRET]",
                                         "agent_version": "6.18.5.36"}
    assert done.returncode == 0
