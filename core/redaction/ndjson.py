"""Redact an exported NDJSON log line by line: same objects, same structure, one line each.

The same code path as the stream (``Redactor.redact_value``). A line that is not a JSON object is
reported by number, never echoed (it may hold PII), and the rest of the file goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from agent_audit.core.redaction.redactor import Redactor

__all__ = ["LineError", "redact_ndjson_lines"]


class LineError(ValueError):
    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number


def redact_ndjson_lines(lines: Iterable[bytes | str], redactor: Redactor) -> Iterator[str | LineError]:
    """Yield each redacted object as a JSON line, or a ``LineError`` for a line that is not one."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield LineError(number, f"invalid JSON ({exc.msg})")
            continue
        if not isinstance(value, dict):
            yield LineError(number, f"expected a JSON object, got {type(value).__name__}")
            continue
        clean, _ = redactor.redact_value(value)
        yield orjson.dumps(clean).decode()
