"""The one encoding of the wire format.

``agent.events.raw`` carries *envelopes*: NDJSON, one JSON event per line, many events per Kafka
message (the stream's cost is per Kafka message, so batching is what makes it fast). A single event
is a one-line envelope, so any producer in any language can publish. ``agent.events`` carries one
redacted event per message, keyed by ``session_id``.

Numbers are kept exactly or refused, never silently altered (``decode_exact``): an integer beyond
``EXACT_INT`` (2**53, what every JSON reader holds exactly, JavaScript and Kibana included) becomes
the string of its decimal digits followed by ``n``, JavaScript's BigInt literal form (2**70 is
stored as ``"1180591620717411303424n"``); NaN, infinities and numbers no double can hold are refused.
In the contract's typed fields such a string fails validation: there, numbers have bounds.
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

__all__ = [
    "EXACT_INT",
    "decode_event",
    "decode_exact",
    "encode_event",
    "join_envelope",
    "new_event_id",
    "partition_for",
    "split_envelope",
]


def new_event_id(now_ms: int | None = None) -> str:
    """A UUIDv7 string: 48-bit millisecond time, then randomness; sorts by creation time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62 | (rand & (2**62 - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def encode_event(event: dict[str, Any]) -> bytes:
    """Serialize one event dict to a single JSON line (no newline inside: orjson never emits one)."""
    return orjson.dumps(event)


def decode_event(line: bytes | str) -> Any:
    """Parse one JSON line; raises ``orjson.JSONDecodeError`` (a ``ValueError``) on bad JSON."""
    return orjson.loads(line)


EXACT_INT = 2**53
# An integer token of 16 digits or more (2**53 has 16): the only numbers orjson may not keep exactly.
_LONG_INT = re.compile(rb"[\[:,]\s*-?\d{16}")


def decode_exact(line: bytes) -> Any:
    """Parse one JSON line keeping every number exact (see the module docstring); raises
    ``ValueError`` (``orjson.JSONDecodeError`` among them) on bad JSON or an unholdable number."""
    data = orjson.loads(line)  # the syntax, UTF-8 and NaN checks; almost every line stops here
    if _LONG_INT.search(line) is None:
        return data
    return json.loads(line, parse_int=_exact_int, parse_float=_finite_float, parse_constant=_refuse)


def _exact_int(text: str) -> int | str:
    value = int(text)
    return value if -EXACT_INT <= value <= EXACT_INT else f"{value}n"


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number is infinity when parsed as double")
    return value


def _refuse(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def join_envelope(lines: Iterable[bytes]) -> bytes:
    """Join already-encoded events into one NDJSON envelope."""
    return b"\n".join(lines)


def split_envelope(envelope: bytes) -> Iterator[bytes]:
    """Yield the non-blank lines of an envelope (tolerates a trailing newline and CRLF)."""
    for raw in envelope.split(b"\n"):
        line = raw.strip()
        if line:
            yield line


def partition_for(session_id: str, partitions: int) -> int:
    """The partition a session's events go to: stable, so a session stays ordered."""
    return zlib.crc32(session_id.encode()) % partitions
