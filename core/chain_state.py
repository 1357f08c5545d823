"""What the stream remembers of one session's chain, packed: every link stored once, as 32 raw bytes.

A state record (v3, what the stream writes to its state topic and keeps in memory as is)::

    header  <B d q q I>   version 3, at (wall time the session last moved), last_seq,
                          checkpoint (of the head's leaf, -1: none), links (how many entries)
    head    32 bytes      only when links is 0 (a head with no recent links: a v1 state)
    entries, oldest first, one per recent link:
            tag B         TAG_CHAINED: its prev is the link of the entry before it;
                          TAG_FIRST: its prev is None (the session's first link);
                          TAG_EXPLICIT: its prev follows (32 bytes)
            [prev 32]     TAG_EXPLICIT only
            link 32, seq q, checkpoint q, leaf q

Since the prev of a link is the link before it, the steady state stores one explicit prev and
``RECENT`` links: about 970 bytes for 16 links, against 2.3 kB of v2 JSON. The head is the newest
entry's link. Records of earlier streams are read forever (``from_record``): v2 JSON
(``{"last_seq", "head", "checkpoint", "recent": [[seq, hash, prev, checkpoint, leaf]...], "at"}``)
and v1 JSON (``{"last_seq", "hashes": [[seq, hash]...]}``), so a stream upgraded in place continues
every chain; the first event it links rewrites the record as v3.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["VERSION", "ChainState", "Link", "record_at"]

VERSION = 3
Link = tuple[int, str, str | None, int, int]  # (seq, hash, prev_hash, checkpoint, leaf): hex hashes

_HEADER = struct.Struct("<BdqqI")  # version, at, last_seq, checkpoint, links (an envelope may add many)
_TAIL = struct.Struct("<qqq")  # seq, checkpoint, leaf (after the link)
TAG_CHAINED, TAG_FIRST, TAG_EXPLICIT = 0, 1, 2
_CHAINED_SIZE = 1 + 32 + _TAIL.size
_EXPLICIT_SIZE = _CHAINED_SIZE + 32


class ChainState:
    """Highest seq, head hash and recent links of one session; never changed once made, small in memory.

    ``recent`` holds (seq, hash, prev_hash, checkpoint, leaf), newest last: enough to give a
    replayed event its first hash and leaf back. Packed as on the state topic (``_links`` links;
    with none, ``_entries`` is the bare 32-byte head).
    """

    __slots__ = ("_entries", "_links", "checkpoint", "last_seq")

    # Why 16 and not fewer: a replay that reaches the stream is a producer's spooled envelope whose
    # delivery failed after the broker had written it (timed out or purged at an outage). Every
    # envelope of that session in flight at that moment comes again after it, in order, so its
    # reach is what one producer had in flight for one session (librdkafka: up to 5 requests of
    # batches), not a fixed small number. 16 keeps the reach the chain has had since v2.
    RECENT = 16

    def __init__(self, last_seq: int, head: str, recent: tuple[Link, ...] = (), checkpoint: int = -1
                 ) -> None:
        self.last_seq, self.checkpoint = last_seq, checkpoint
        recent = recent[-self.RECENT:]
        if recent and recent[-1][1] == head:
            self._links, self._entries = len(recent), _pack(recent)
        else:  # v1: no recent links (never a head apart from its newest link): the head alone
            self._links, self._entries = 0, _hash(head)

    @classmethod
    def _of(cls, last_seq: int, checkpoint: int, links: int, entries: bytes) -> ChainState:
        state = cls.__new__(cls)
        state.last_seq, state.checkpoint, state._links, state._entries = last_seq, checkpoint, links, entries
        return state

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChainState) and (self.last_seq, self.checkpoint, self._entries) == (
            other.last_seq, other.checkpoint, other._entries)

    def __hash__(self) -> int:
        return hash((self.last_seq, self.checkpoint, self._entries))

    def __repr__(self) -> str:
        return f"ChainState(last_seq={self.last_seq}, head={self.head!r}, links={self._links})"

    @property
    def head(self) -> str:
        return self.head_bytes.hex()

    @property
    def head_bytes(self) -> bytes:
        if not self._links:
            return self._entries
        return self._entries[-_TAIL.size - 32:-_TAIL.size]

    @property
    def recent(self) -> tuple[Link, ...]:
        return tuple(_unpack(self._entries)) if self._links else ()

    @property
    def links(self) -> int:
        return self._links

    def trimmed(self) -> ChainState:
        """The same state with only its newest RECENT links."""
        if self._links <= self.RECENT:
            return self
        return ChainState(self.last_seq, self.head, self.recent, self.checkpoint)

    def linked(self, seq: int, link: bytes, checkpoint: int, leaf: int, keep: int = RECENT) -> ChainState:
        """This state with ``link`` (made from the head) appended, the oldest link dropped past
        ``keep`` (RECENT, or more to keep every link of the envelope being processed)."""
        tail = _TAIL.pack(seq, checkpoint, leaf)
        last = seq if seq > self.last_seq else self.last_seq
        if not self._links:  # a bare head: it is the new link's prev, explicitly
            return ChainState._of(last, checkpoint, 1, b"\x02" + self._entries + link + tail)
        if self._links < keep:
            return ChainState._of(last, checkpoint, self._links + 1,
                                  b"".join((self._entries, b"\x00", link, tail)))
        return ChainState._of(last, checkpoint, self._links, _drop_oldest(self._entries, link + tail))

    @staticmethod
    def first(seq: int, link: bytes, checkpoint: int, leaf: int) -> ChainState:
        """The state of a session whose first link this is (its prev is None)."""
        return ChainState._of(seq, checkpoint, 1, b"\x01" + link + _TAIL.pack(seq, checkpoint, leaf))

    def to_record(self, at: float) -> bytes:
        """The state-topic value: header (with ``at``) and the packed links."""
        return _HEADER.pack(VERSION, at, self.last_seq, self.checkpoint, self._links) + self._entries

    @classmethod
    def from_record(cls, value: bytes | Mapping[str, Any]) -> ChainState:
        """A state record of any version: v3 bytes, or the v2 / v1 JSON of earlier streams."""
        if isinstance(value, bytes):
            record_at(value)  # the length fits the header
            _, _, last_seq, checkpoint, links = _HEADER.unpack_from(value)
            return cls._of(last_seq, checkpoint, links, value[_HEADER.size:])
        return cls.from_json(value)

    def to_json(self) -> dict[str, Any]:
        """The v2 JSON form (readable by every stream since v2; the stream itself writes v3)."""
        return {"last_seq": self.last_seq, "head": self.head, "checkpoint": self.checkpoint,
                "recent": [list(r) for r in self.recent]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainState:
        if "head" not in data:  # a v1 state: (seq, hash) pairs; its replays cannot be recognised
            hashes = data.get("hashes") or [[data["last_seq"], None]]
            return cls(int(data["last_seq"]), str(hashes[-1][1]), ())
        recent = tuple((int(s), str(h), None if p is None else str(p), int(c), int(i))
                       for s, h, p, c, i in data["recent"])
        return cls(int(data["last_seq"]), str(data["head"]), recent, int(data.get("checkpoint", -1)))


def record_at(value: bytes) -> float:
    """The wall time a v3 record's session last moved; ValueError for a record that is not one
    (another version, or a length its count of links cannot have)."""
    if len(value) < _HEADER.size + 32 or value[0] != VERSION:
        raise ValueError("not a chain state record")
    _, at, _, _, links = _HEADER.unpack_from(value)
    body = len(value) - _HEADER.size
    if not (body == 32 if links == 0 else links * _CHAINED_SIZE <= body <= links * _EXPLICIT_SIZE):
        raise ValueError("a chain state record of the wrong length")
    return float(at)


def _pack(recent: tuple[Link, ...]) -> bytes:
    out = bytearray()
    before: str | None = None
    for i, (seq, link, prev, checkpoint, leaf) in enumerate(recent):
        if prev is None:
            out.append(TAG_FIRST)
        elif i and prev == before:
            out.append(TAG_CHAINED)
        else:
            out.append(TAG_EXPLICIT)
            out += _hash(prev)
        out += _hash(link) + _TAIL.pack(seq, checkpoint, leaf)
        before = link
    return bytes(out)


def _hash(hex_hash: str) -> bytes:
    try:
        raw = bytes.fromhex(hex_hash)
    except ValueError:
        raw = b""
    if len(raw) != 32 or raw.hex() != hex_hash:
        raise ValueError("a chain hash is 64 lowercase hex digits")
    return raw


def _unpack(entries: bytes) -> Iterator[Link]:
    at, before = 0, None
    while at < len(entries):
        tag = entries[at]
        at += 1
        if tag == TAG_EXPLICIT:
            prev: str | None = entries[at:at + 32].hex()
            at += 32
        else:
            prev = None if tag == TAG_FIRST else before
        link = entries[at:at + 32].hex()
        seq, checkpoint, leaf = _TAIL.unpack_from(entries, at + 32)
        at += 32 + _TAIL.size
        yield seq, link, prev, checkpoint, leaf
        before = link


def _drop_oldest(entries: bytes, newest: bytes) -> bytes:
    """Without its oldest entry, with ``newest`` (link and tail) chained last; the entry after the
    dropped one keeps its prev (the dropped link) explicitly."""
    size = _EXPLICIT_SIZE if entries[0] == TAG_EXPLICIT else _CHAINED_SIZE
    if entries[size] != TAG_CHAINED:
        return b"".join((entries[size:], b"\x00", newest))
    dropped_link = entries[size - _TAIL.size - 32:size - _TAIL.size]
    return b"".join((b"\x02", dropped_link, entries[size + 1:], b"\x00", newest))
