"""Tamper evidence: a per-session hash chain over the redacted events, in ``seq`` order.

Each event's ``integrity.hash`` covers its own redacted content (canonical JSON, sorted keys, the
``integrity`` field left out) and the previous event's hash, so changing, removing or reordering any
stored event breaks every later link. With a key (``AUDIT_INTEGRITY_KEY``) the hash is an HMAC:
someone who can write to Elasticsearch cannot recompute a valid chain without it.

The stream computes the chain (``SessionChains``) as events pass in partition order; readers
check it with ``verify_chain``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["ChainHasher", "ChainState", "SessionChains", "Verdict", "canonical", "verify_chain"]


class ChainHasher:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key

    def link(self, prev_hash: str | None, event: Mapping[str, Any]) -> str:
        return self.link_body(prev_hash, canonical(event))

    def link_body(self, prev_hash: str | None, body: bytes) -> str:
        """The link over an event already encoded by ``canonical``."""
        data = (prev_hash or "").encode() + b"\n" + body
        if self._key is None:
            return hashlib.sha256(data).hexdigest()
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()


def canonical(event: Mapping[str, Any]) -> bytes:
    """What a link covers: the event as JSON with sorted keys, its ``integrity`` field left out."""
    if "integrity" in event:
        event = {k: v for k, v in event.items() if k != "integrity"}
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class ChainState:
    """What the stream remembers of a session: its last seq and hash, plus a few before it."""

    last_seq: int
    hashes: tuple[tuple[int, str], ...]  # (seq, hash), newest last, at most RECENT entries

    RECENT = 8

    def hash_before(self, seq: int) -> str | None:
        for s, h in reversed(self.hashes):
            if s < seq:
                return h
        return None

    def to_json(self) -> dict[str, Any]:
        return {"last_seq": self.last_seq, "hashes": [list(p) for p in self.hashes]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainState:
        return cls(int(data["last_seq"]), tuple((int(s), str(h)) for s, h in data["hashes"]))


class SessionChains:
    """Adds ``integrity`` to events of many sessions; state is per session, snapshot-able.

    A replayed event (seq at or below the last one seen, after a crash) is linked to the hash
    remembered before it, so it gets the same hash as the first time; the sink keeps the first
    copy anyway (``op_type=create``).
    """

    # Sessions kept in memory; past this the cache is emptied and refilled from ``load``.
    CACHE_LIMIT = 200_000

    def __init__(self, hasher: ChainHasher, states: dict[str, ChainState] | None = None,
                 load: Callable[[str], ChainState | None] | None = None) -> None:
        self.hasher = hasher
        self.states: dict[str, ChainState] = states if states is not None else {}
        self._load = load
        self.touched: set[str] = set()

    def _state(self, session: str) -> ChainState | None:
        state = self.states.get(session)
        if state is None and self._load is not None:
            state = self._load(session)
            if state is not None:
                if len(self.states) >= self.CACHE_LIMIT:
                    self.states.clear()  # the durable copy is in ``load``'s store
                self.states[session] = state
        return state

    def drain_touched(self) -> dict[str, ChainState]:
        """States changed since the last drain: what a caller persists once per batch."""
        out = {s: self.states[s] for s in self.touched if s in self.states}
        self.touched.clear()
        return out

    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.apply_encoded(event)[0]

    def apply_encoded(self, event: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """The linked event and its JSON: the canonical encoding hashed for the link, with the
        ``integrity`` field appended (one encoding per event instead of two)."""
        session, seq = str(event["session_id"]), int(event["seq"])
        state = self._state(session)
        prev = state.hash_before(seq) if state else None
        body = canonical(event)
        digest = self.hasher.link_body(prev, body)
        integrity = {"hash": digest, "prev_hash": prev}
        linked = {**event, "integrity": integrity}
        if state is None or seq > state.last_seq:
            recent = ((state.hashes if state else ()) + ((seq, digest),))[-ChainState.RECENT:]
            self.states[session] = ChainState(seq, recent)
            self.touched.add(session)
        return linked, body[:-1] + b',"integrity":' + orjson.dumps(integrity) + b"}"


@dataclass(frozen=True)
class Verdict:
    status: str  # "intact" | "broken" | "missing" | "empty"
    seq: int | None = None
    events: int = 0

    def __str__(self) -> str:
        if self.status == "intact":
            return f"intact ({self.events} events)"
        if self.status == "empty":
            return "empty: no events stored for this session"
        return f"{self.status} at seq {self.seq}"


def verify_chain(events: Iterable[Mapping[str, Any]], hasher: ChainHasher) -> Verdict:
    """Check events sorted by seq: seq runs 0,1,2,... and every link matches the content."""
    prev: str | None = None
    n = 0
    for expected_seq, event in enumerate(events):
        n += 1
        seq = int(event["seq"])
        if seq != expected_seq:
            return Verdict("missing", expected_seq, n - 1)
        integrity = event.get("integrity") or {}
        if integrity.get("prev_hash") != prev or integrity.get("hash") != hasher.link(prev, event):
            return Verdict("broken", seq, n)
        prev = integrity["hash"]
    return Verdict("intact", None, n) if n else Verdict("empty")
