"""The one encoding of the wire format.

``agent.events.raw`` carries *envelopes*: NDJSON, one JSON event per line, many events per Kafka
message (the stream's cost is per Kafka message, so batching is what makes it fast). A single event
is a one-line envelope, so any producer in any language can publish. ``agent.events`` carries one
redacted event per message, keyed by ``session_id``.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

__all__ = [
    "decode_event",
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
