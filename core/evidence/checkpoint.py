"""Signed checkpoints: per raw partition, a record committing to every event linked since the last one.

A checkpoint holds the Merkle root (``merkle``) whose leaves are its events' link hashes in stream
order (a link hash is the RFC 9162 leaf hash of its entry),
the head (seq, hash) of every session it touched, and the hash of the partition's previous
checkpoint, so checkpoints form their own append-only chain. It is signed with the stream's
Ed25519 key (``signing``); its ``key_id`` names the public key that verifies it. ``OpenCheckpoint``
is the stream's state of the one being built; it survives a crash as a small JSON record (the
Merkle frontier, never the leaves), and a checkpoint closes only at an envelope boundary.

A closed record stays in that state record (``pending``) until a later write, so a record whose
state reached the topic before the record itself did is published again after a crash: the idle
timer closes on wall-clock time, and closing the same number twice with different content would
fork the partition's checkpoint chain.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_audit.core.evidence.canonical import canonical
from agent_audit.core.evidence.merkle import Frontier
from agent_audit.core.evidence.signing import Keyring, SigningKey

__all__ = ["CHECKPOINT_DOMAIN", "OpenCheckpoint", "checkpoint_hash", "checkpoint_id", "signed_bytes",
           "verify_signature"]

CHECKPOINT_DOMAIN = b"agent-audit/checkpoint/v1\x00"


def signed_bytes(record: Mapping[str, Any]) -> bytes:
    """What the signature covers: the record without its signature, canonical JSON, domain-prefixed."""
    return CHECKPOINT_DOMAIN + canonical({k: v for k, v in record.items() if k != "signature"})


def checkpoint_hash(record: Mapping[str, Any]) -> str:
    """The link the next checkpoint of the partition names as ``prev``."""
    return hashlib.sha256(signed_bytes(record)).hexdigest()


def checkpoint_id(log: str, partition: int, number: int) -> str:
    return f"{log}/{partition}/{number}"


def verify_signature(record: Mapping[str, Any], keys: Keyring) -> bool:
    return keys.verify(str(record.get("key_id")), signed_bytes(record), str(record.get("signature")))


@dataclass
class OpenCheckpoint:
    """The checkpoint a partition is filling: number, previous hash, frontier, touched sessions."""

    log: str
    partition: int
    number: int = 0
    prev: str | None = None
    frontier: Frontier = field(default_factory=Frontier)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)  # not persisted: rebuilt
    opened_at: float | None = None  # record time of its first leaf (a replay decides alike)
    pending: dict[str, Any] | None = None  # the last closed record, until a later state write
    pending_out: bool = False  # ``pending`` was handed out for publishing

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, session: str, seq: int, link: str) -> tuple[int, int, int]:
        frontier = self.frontier
        index = frontier.size
        frontier.append(bytes.fromhex(link))  # a link is already its leaf hash (canonical.link_hash)
        self.heads[session] = (seq, link)
        return self.partition, self.number, index

    def relink(self, session: str, seq: int, link: str, number: int, leaf: int) -> None:
        """A replayed event's leaf, added again if this state was lost behind its chain's."""
        if number == self.number and leaf == self.size:
            self.append(session, seq, link)

    def due(self, now: float, interval_s: float, max_leaves: int) -> bool:
        if not self.size or self.opened_at is None:
            return False
        return now - self.opened_at >= interval_s or self.size >= max_leaves

    def close(self, key: SigningKey, closed_at: str, opened_at: str) -> dict[str, Any]:
        """The signed record; this object becomes the next, empty checkpoint."""
        body: dict[str, Any] = {
            "v": 1, "type": "checkpoint", "log": self.log, "partition": self.partition,
            "number": self.number, "checkpoint_id": checkpoint_id(self.log, self.partition, self.number),
            "prev": self.prev, "tree_size": self.size, "root": self.frontier.root().hex(),
            "opened_at": opened_at, "closed_at": closed_at, "key_id": key.key_id,
            "sessions": [{"session_id": s, "seq": q, "hash": h} for s, (q, h) in sorted(self.heads.items())],
        }
        body["signature"] = key.sign(signed_bytes(body))
        self.number, self.prev = self.number + 1, checkpoint_hash(body)
        self.frontier, self.heads, self.opened_at = Frontier(), {}, None
        self.pending, self.pending_out = body, False
        return body

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"number": self.number, "prev": self.prev, "opened_at": self.opened_at,
                "frontier": [[n, base64.b64encode(h).decode()] for n, h in self.frontier.nodes]}
        if self.pending is not None:
            data["pending"] = self.pending
        return data

    @classmethod
    def from_json(cls, log: str, partition: int, data: Mapping[str, Any] | None) -> OpenCheckpoint:
        if not data:
            return cls(log, partition)
        nodes = [(int(n), base64.b64decode(h)) for n, h in data["frontier"]]
        pending = data.get("pending")
        return cls(log, partition, int(data["number"]), data.get("prev"), Frontier(nodes),
                   opened_at=data.get("opened_at"), pending=pending if isinstance(pending, dict) else None)
