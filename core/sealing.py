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

import binascii
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from agent_audit.core.datakeys import DataKeys, Grant, unb64

__all__ = ["CLEAR", "Opened", "open_event", "open_letter", "seal_event", "seal_events", "seal_letter",
           "tombstone"]

CLEAR = ("schema_version", "event_id", "session_id", "seq", "kind", "level", "timestamp", "agent")
TOMBSTONE_KEEPS = ("schema_version", "event_id", "session_id", "seq", "kind", "timestamp")
_V = 1
_NONCE = 12  # bytes: AES-GCM's standard nonce, random for each sealed record


def seal_event(event: dict[str, Any], keys: DataKeys) -> bytes:
    """The event as it goes onto ``agent.events``: clear fields plus ``sealed``."""
    grant = keys.for_writing(keys.subject(str(event.get("user_id", ""))), str(event["timestamp"]))
    return _sealed_event(event, grant, os.urandom(_NONCE))


def _sealed_event(event: dict[str, Any], grant: Grant, nonce: bytes) -> bytes:
    out = {k: event[k] for k in CLEAR if k in event}
    secret = event.copy()  # a copy and a few pops: a third cheaper than a filtering comprehension
    for name in CLEAR:
        secret.pop(name, None)
    integrity = secret.pop("integrity", None)
    if isinstance(integrity, dict):
        if "salt" in integrity:
            integrity = integrity.copy()
            secret["integrity.salt"] = integrity.pop("salt")
        out["integrity"] = integrity
    bound_to = str(event["event_id"]).encode()
    if grant.cipher is None:
        out["sealed"] = _seal(grant, b"", bound_to, nonce)
        return orjson.dumps(out)
    # What ``orjson.dumps({**out, "sealed": _seal(...)})`` writes, the sealed head joined as bytes:
    # its texts (a subject of hex digits, base64) need no escaping, so they need no encoder pass.
    aad = b"%s|%s|%d" % (bound_to, grant.subject.encode(), grant.generation)
    ct = grant.cipher.encrypt(nonce, orjson.dumps(secret), aad)
    return b"".join((orjson.dumps(out)[:-1], b',"sealed":{"v":%d,"subject":"' % _V, grant.subject.encode(),
                     b'","gen":%d,"nonce":"' % grant.generation, binascii.b2a_base64(nonce, newline=False),
                     b'","ct":"', binascii.b2a_base64(ct, newline=False), b'"}}'))


def seal_events(events: list[dict[str, Any]], keys: DataKeys) -> list[bytes]:
    """A batch (an envelope's events): their keys looked up together, one read of the system's
    randomness for all their nonces, then each event sealed (the same format as ``seal_event``)."""
    latest: dict[str, tuple[str, str]] = {}  # subject -> (order key, recorded_at) of its latest event
    subjects = []
    for event in events:
        subject = keys.subject(str(event.get("user_id", "")))
        subjects.append(subject)
        at = str(event["timestamp"])
        order = _order(at)
        seen = latest.get(subject)
        if seen is None or seen[0] < order:
            latest[subject] = (order, at)
    keys.warm_for_writing({subject: at for subject, (_, at) in latest.items()})
    nonces = os.urandom(_NONCE * len(events))
    grants: dict[str, Grant] = {}  # a subject never destroyed: one grant whatever the event's time
    out = []
    for i, (event, subject) in enumerate(zip(events, subjects, strict=True)):
        grant = grants.get(subject)
        if grant is None:
            grant = keys.for_writing(subject, str(event["timestamp"]))
            if grant.destroyed_at is None and grant.cipher is not None:
                grants[subject] = grant
        out.append(_sealed_event(event, grant, nonces[i * _NONCE:(i + 1) * _NONCE]))
    return out


def _order(at: str) -> str:
    """A text that sorts as the instant ``at`` names: the contract's UTC form needs no parsing."""
    if len(at) == 27 and at[26] == "Z" and at[19] == ".":  # 2026-12-03T11:40:00.123456Z
        return at
    if len(at) == 20 and at[19] == "Z":  # 2026-12-03T11:40:00Z
        return at[:19] + ".000000Z"
    instant = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC)
    return instant.isoformat(timespec="microseconds")[:-6] + "Z"


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
    return orjson.dumps({"sealed": _seal(grant, value, b"dead-letter", os.urandom(_NONCE))})


def _seal(grant: Grant, plain: bytes, bound_to: bytes, nonce: bytes) -> dict[str, Any]:
    if grant.cipher is None:
        return {"v": _V, "subject": grant.subject, "gen": grant.generation, "shredded": True}
    aad = b"%s|%s|%d" % (bound_to, grant.subject.encode(), grant.generation)
    return {"v": _V, "subject": grant.subject, "gen": grant.generation, "nonce": _b64(nonce),
            "ct": _b64(grant.cipher.encrypt(nonce, plain, aad))}


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()  # what ``b64`` gives, one call fewer


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
