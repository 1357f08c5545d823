"""The sink's decrypt step: open sealed events before indexing; a forgotten user's never reach the index.

An event whose data key is destroyed opens as its erasure tombstone (content-free, same ``_id``),
which is what gets indexed: a late copy (spool or DLQ replay, a lagging partition) of an erased
event lands as erased, and its session stays verifiable. Such events are counted and logged by id
and receipt only. An event whose key never existed is skipped (counted, logged); one that fails
to decrypt raises ``ValueError`` (or, from ``open_many``, comes back as one) so the worker
dead-letters it, still sealed.

Cost: a batch's keys are looked up together (``prefetch``, ``open_many``) and kept per
(subject, generation) for the batch. An event laid out as ``core.sealing.seal_event`` writes it
(clear fields ending with ``integrity``, then ``sealed``; the secret ending with the salt) is opened
on its bytes: the clear part as it came, the salt put back into ``integrity``, the decrypted fields
after it. Those are the bytes ``core.sealing.open_event`` makes by decoding and re-encoding (its
``orjson`` round trip changes nothing), at a third of the CPU; any other layout, a destroyed key or
a shredded event goes through ``open_event`` itself.
"""

from __future__ import annotations

import binascii
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from cryptography.exceptions import InvalidTag

from agent_audit.core.datakeys import DataKeys, Grant
from agent_audit.core.errors import TransientError
from agent_audit.core.sealing import open_event

__all__ = ["EventOpener"]

log = logging.getLogger(__name__)
_MARK = b'"sealed":{"v":'
_HEAD = re.compile(rb'"sealed":\{"v":\d+,"subject":"([^"]+)","gen":(\d+)')
# seal_event's layout: the sealed head is the last field, ciphertext and all.
_SEALED_AT = b',"sealed":{"v":'
_TAIL = re.compile(rb',"sealed":\{"v":1,"subject":"([^"\\]+)","gen":(\d+),"nonce":"')
_CT = b'","ct":"'
_END = b'"}}'
_ID = re.compile(rb'\{"schema_version":\d+,"event_id":"([^"\\]+)"')
_INTEGRITY = b',"integrity":{'
_SALT = b',"integrity.salt":"'
_SALT_TAIL = re.compile(rb',"integrity\.salt":"([A-Za-z0-9+/=]*)"\}\Z')
T = TypeVar("T")

# Where a record in seal_event's layout has its sealed head, nonce and ciphertext.
Spans = tuple[int, int, int]
Head = tuple[str, int, Spans | None]  # subject, generation, spans (None: another layout)


class EventOpener:
    def __init__(self, keys: DataKeys, stopping: Callable[[], bool] = lambda: False) -> None:
        self.keys = keys
        self.stopping = stopping  # asked to stop while the key store is away: give up the batch
        self.shredded = 0  # indexed as tombstones: their key was destroyed
        self.unreadable = 0  # skipped: no key was ever stored for them

    def prefetch(self, values: Iterable[bytes]) -> None:
        """Look up a batch's data keys in one request, so ``open`` finds them cached."""
        wanted: dict[str, int] = {}
        for value in values:
            if (m := _HEAD.search(value)) is not None:
                subject, gen = m[1].decode(), int(m[2])
                wanted[subject] = max(gen, wanted.get(subject, 0))
        self._warm(wanted)

    def open_many(self, values: Sequence[bytes]) -> list[bytes | ValueError | None]:
        """``open`` for each value, with the batch's keys looked up once: the document to index,
        None to skip it, or the ``ValueError`` that ``open`` would raise (not raised here)."""
        heads = [_head(value) for value in values]
        wanted: dict[str, int] = {}
        for head in heads:
            if head is not None and head[0]:
                wanted[head[0]] = max(head[1], wanted.get(head[0], 0))
        self._warm(wanted)
        grants: dict[tuple[str, int], Grant] = {}  # this batch's keys: one lookup per user
        out: list[bytes | ValueError | None] = []
        for value, head in zip(values, heads, strict=True):
            try:
                out.append(value if head is None else self._open_head(value, head, grants))
            except ValueError as exc:
                out.append(exc)
            except (KeyError, TypeError) as exc:  # sealed, but not an event open_event can read
                out.append(ValueError(f"not a sealed event: {type(exc).__name__}"))
        return out

    def open(self, value: bytes) -> bytes | None:
        """The document to index, or None to skip this record."""
        head = _head(value)
        return value if head is None else self._open_head(value, head, {})  # metrics, alerts, unsealed

    def _warm(self, wanted: dict[str, int]) -> None:
        if wanted:
            self.keys.warm_for_reading(wanted)

    def _open_head(self, value: bytes, head: Head, grants: dict[tuple[str, int], Grant]) -> bytes | None:
        subject, gen, tail = head
        if tail is not None:
            grant = grants.get((subject, gen))
            if grant is None:
                grant = grants[subject, gen] = self._retrying(lambda: self.keys.for_reading(subject, gen))
            if grant.cipher is not None and (spliced := _open_in_place(value, tail, grant)) is not None:
                return spliced
        opened = self._retrying(lambda: open_event(value, self.keys))
        if opened.shredded:
            self.shredded += 1
            log.info("sink.shredded receipt=%s: indexed as its erasure tombstone", opened.receipt)
        if opened.value is None:
            self.unreadable += 1
            log.warning("sink.sealed.no_key: skipped an event whose data key was never stored")
        return opened.value

    def _retrying(self, call: Callable[[], T]) -> T:
        backoff = 0.2
        while True:
            try:
                return call()
            except InvalidTag:
                raise ValueError("sealed event does not decrypt") from None
            except TransientError:  # a key not known yet and the store away: wait for it
                if self.stopping():
                    raise
                log.warning("sink.keystore.retry backoff_s=%.1f", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


def _head(value: bytes) -> Head | None:
    """Subject and generation of a sealed event (and its spans, in seal_event's layout); None if clear."""
    at = value.rfind(_SEALED_AT)
    if (at >= 0 and (tail := _TAIL.match(value, at)) is not None and value.endswith(_END)
            and (ct := value.find(_CT, tail.end())) > 0):
        return tail[1].decode(), int(tail[2]), (at, tail.end(), ct)
    if _MARK not in value:
        return None
    m = _HEAD.search(value)
    return (m[1].decode(), int(m[2]), None) if m is not None else ("", 0, None)


def _open_in_place(value: bytes, spans: Spans, grant: Grant) -> bytes | None:
    """The opened event built from the record's bytes; None when the layout is not seal_event's
    (the caller then decodes it the general way)."""
    at, nonce_at, ct_at = spans
    clear = value[:at]
    event_id = _ID.match(clear)
    link = clear.rfind(_INTEGRITY)
    if (event_id is None or link < 0 or clear.find(b"}", link) != len(clear) - 1
            or b"{" in clear[link + len(_INTEGRITY):]):  # integrity: flat, and the last clear field
        return None
    try:
        nonce = binascii.a2b_base64(value[nonce_at:ct_at], strict_mode=True)
        ct = binascii.a2b_base64(value[ct_at + len(_CT):-len(_END)], strict_mode=True)
    except binascii.Error:
        return None
    assert grant.cipher is not None
    aad = b"%s|%s|%d" % (event_id[1], grant.subject.encode(), grant.generation)
    try:
        secret = grant.cipher.decrypt(nonce, ct, aad)
    except InvalidTag:
        raise ValueError("sealed event does not decrypt") from None
    salt_at = secret.rfind(_SALT)
    if salt_at <= 0 or (salt := _SALT_TAIL.match(secret, salt_at)) is None:
        return None
    return b"".join((clear[:-1], b',"salt":"', salt[1], b'"},', secret[1:salt_at], b"}"))
