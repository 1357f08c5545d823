"""The wire line of one recorded event, assembled from parts on the transport's thread.

Guarantee: what the agent passed is encoded on the agent's thread, at the call (the payload and any
trace ids, so a later change to the agent's objects never alters the record); only the parts that
are ours and fixed at the call (kind, level, the time in ns, seq, the trail's constant prefix) are
turned into text later, in ``encode_lines``. The line is the same v1 event either way.

``event_id`` is a UUIDv7 (RFC 9562: 48-bit Unix ms, version 7, 12 + 62 random bits) in canonical
text, the form the contract's pattern asks for; its randomness comes from one ``os.urandom`` call
per batch instead of one per event (a system call costs ~0.7 µs here), so ids stay unguessable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

__all__ = ["FIXED_BYTES", "EventParts", "QueuedItem", "encode_line", "encode_lines", "item_size"]

# (session_id, prefix, kind, level, time_ns, seq, trace_fragment, payload): see ``encode_lines``;
# ``payload`` is the encoded payload followed by the ``}`` that closes the event.
EventParts = tuple[str, bytes, str, str, int, int, bytes, bytes]
# What the queue holds: event parts, or (session_id, line) from a transport's plain ``send``.
QueuedItem = EventParts | tuple[str, bytes]

_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
FIXED_BYTES = 96  # bytes of a line outside prefix, trace and payload (ids, kind, level, time, seq)


def item_size(item: QueuedItem) -> int:
    """About the bytes the item's line will take: what the queue's byte bound counts."""
    if len(item) == 2:
        return len(item[1])
    return len(item[1]) + len(item[6]) + len(item[7]) + FIXED_BYTES


class _Clock:
    """Text of the current second and millisecond, made once per change (events come in runs)."""

    __slots__ = ("ms", "ms_hex", "sec", "sec_text")

    def __init__(self) -> None:
        self.sec = self.ms = -1
        self.sec_text = self.ms_hex = ""

    def second(self, sec: int) -> str:
        if sec != self.sec:
            self.sec, self.sec_text = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return self.sec_text

    def millis(self, ms: int) -> str:
        if ms != self.ms:
            h = f"{ms & 0xFFFFFFFFFFFF:012x}"
            self.ms, self.ms_hex = ms, f"{h[:8]}-{h[8:]}-7"
        return self.ms_hex


def encode_lines(items: Sequence[QueuedItem]) -> list[tuple[str, bytes]]:
    """``(session_id, line)`` for each item, in order."""
    rand = os.urandom(10 * len(items)).hex()
    clock = _Clock()
    variant = _VARIANT
    out: list[tuple[str, bytes]] = []
    append = out.append
    for i, item in enumerate(items):
        if len(item) == 2:
            append(item)  # already a line
            continue
        session_id, prefix, kind, level, ns, seq, trace, payload = item
        r = rand[20 * i: 20 * i + 19]
        us = ns // 1000
        head = (f'"event_id":"{clock.millis(us // 1000)}{r[:3]}-{variant[r[3]]}{r[4:7]}-{r[7:]}",'
                f'"kind":"{kind}","level":"{level}","timestamp":"{clock.second(us // 1_000_000)}.'
                f'{us % 1_000_000:06d}Z","seq":{seq},').encode()
        append((session_id, b"".join((prefix, head, trace, b'"payload":', payload))))
    return out


def encode_line(item: QueuedItem) -> bytes:
    """One item's line (for transports that take finished lines)."""
    return encode_lines((item,))[0][1]
