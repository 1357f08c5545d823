"""Events and dead letters as they travel on Kafka: the user's content sealed under their data key.

A sealed event keeps in the clear only what routing, ordering and tamper evidence need
(``CLEAR`` and ``integrity`` without its salt); everything else, the salt included, is one AES-GCM
ciphertext under the subject's data key, bound to the event id, subject and generation (a
ciphertext moved onto another event does not open). Destroying the key makes every copy
unreadable; an event of a destroyed subject is *shredded* (no ciphertext at all) and opens as
the erasure tombstone the same erasure wrote in Elasticsearch.

A dead letter is sealed whole when its user can be read from it; one that is not even JSON stays
as it is (it was redacted as text, and names no user that could ask for it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from agent_audit.core.datakeys import DataKeys, Grant, b64, unb64

__all__ = ["CLEAR", "Opened", "open_event", "open_letter", "seal_event", "seal_events", "seal_letter",
           "tombstone"]

CLEAR = ("schema_version", "event_id", "session_id", "seq", "kind", "level", "timestamp", "agent")
TOMBSTONE_KEEPS = ("schema_version", "event_id", "session_id", "seq", "kind", "timestamp")
_V = 1


def seal_event(event: dict[str, Any], keys: DataKeys) -> bytes:
    """The event as it goes onto ``agent.events``: clear fields plus ``sealed``."""
    grant = keys.for_writing(keys.subject(str(event.get("user_id", ""))), str(event["timestamp"]))
    out = {k: event[k] for k in CLEAR if k in event}
    secret = {k: v for k, v in event.items() if k not in out and k != "integrity"}
    integrity = event.get("integrity")
    if isinstance(integrity, dict):
        out["integrity"] = {k: v for k, v in integrity.items() if k != "salt"}
        if "salt" in integrity:
            secret["integrity.salt"] = integrity["salt"]
    out["sealed"] = _seal(grant, orjson.dumps(secret), str(event["event_id"]).encode())
    return orjson.dumps(out)


def seal_events(events: list[dict[str, Any]], keys: DataKeys) -> list[bytes]:
    """A batch (an envelope's events): their keys looked up together, then each event sealed."""
    latest: dict[str, tuple[datetime, str]] = {}
    for event in events:
        subject = keys.subject(str(event.get("user_id", "")))
        at = str(event["timestamp"])
        instant = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if subject not in latest or latest[subject][0] < instant:
            latest[subject] = (instant, at)
    keys.warm_for_writing({subject: at for subject, (_, at) in latest.items()})
    return [seal_event(event, keys) for event in events]


def seal_letter(value: bytes, keys: DataKeys) -> bytes:
    """A dead letter sealed whole under its user's key; as it is when no user can be read from it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    user = doc.get("user_id") if isinstance(doc, dict) else None
    if not isinstance(user, str) or not user:
        return value
    recorded = str(doc.get("timestamp") or "0001-01-01T00:00:00Z")  # undated: shredded if forgotten
    grant = keys.for_writing(keys.subject(user), recorded)
    return orjson.dumps({"sealed": _seal(grant, value, b"dead-letter")})


def _seal(grant: Grant, plain: bytes, bound_to: bytes) -> dict[str, Any]:
    head: dict[str, Any] = {"v": _V, "subject": grant.subject, "gen": grant.generation}
    if grant.cipher is None:
        return {**head, "shredded": True}
    nonce = os.urandom(12)
    aad = b"%s|%s|%d" % (bound_to, grant.subject.encode(), grant.generation)
    return {**head, "nonce": b64(nonce), "ct": b64(grant.cipher.encrypt(nonce, plain, aad))}


@dataclass(frozen=True)
class Opened:
    """``value``: the plain document (or the tombstone, when ``shredded``); None if unreadable."""
    value: bytes | None
    shredded: bool = False
    sealed: bool = True
    receipt: str | None = None


def open_event(value: bytes, keys: DataKeys) -> Opened:
    """The event as it was before sealing, or its erasure tombstone when the key is destroyed."""
    doc = orjson.loads(value)
    head = doc.pop("sealed", None) if isinstance(doc, dict) else None
    if head is None:
        return Opened(value, sealed=False)
    grant = keys.for_reading(str(head["subject"]), int(head["gen"]))
    if grant.cipher is None or head.get("shredded"):
        if grant.destroyed_at is None:  # no tombstone to point at: unreadable, not erased
            return Opened(None, shredded=True)
        return Opened(orjson.dumps(tombstone(doc, grant.receipt or "", grant.destroyed_at)), True,
                      receipt=grant.receipt)
    secret = orjson.loads(_decrypt(grant, head, str(doc["event_id"]).encode()))
    salt = secret.pop("integrity.salt", None)
    if salt is not None:
        doc["integrity"] = {**doc.get("integrity", {}), "salt": salt}
    return Opened(orjson.dumps({**doc, **secret}))


def open_letter(value: bytes, keys: DataKeys) -> Opened:
    """A dead letter as the stream rejected it; ``value`` None once its user's key is destroyed."""
    if not value.startswith(b'{"sealed":'):
        return Opened(value, sealed=False)
    head = orjson.loads(value)["sealed"]
    grant = keys.for_reading(str(head["subject"]), int(head["gen"]))
    if grant.cipher is None or head.get("shredded"):
        return Opened(None, shredded=True, receipt=grant.receipt)
    return Opened(_decrypt(grant, head, b"dead-letter"))


def _decrypt(grant: Grant, head: dict[str, Any], bound_to: bytes) -> bytes:
    assert grant.cipher is not None
    aad = b"%s|%s|%d" % (bound_to, grant.subject.encode(), grant.generation)
    return grant.cipher.decrypt(unb64(head["nonce"]), unb64(head["ct"]), aad)


def tombstone(event: dict[str, Any], receipt: str, at: str) -> dict[str, Any]:
    """What erasure leaves of an event (EVIDENCE_ERASURE.md): identity, position and the chain
    link without the salt, plus ``erased {receipt, at}``; no content."""
    out = {k: event[k] for k in TOMBSTONE_KEEPS if k in event}
    integrity = event.get("integrity")
    if isinstance(integrity, dict):
        out["integrity"] = {k: v for k, v in integrity.items() if k != "salt"}
    out["erased"] = {"receipt": receipt, "at": at}
    return out
