"""Per-user data keys for crypto-shredding: destroy a user's key and every copy of their content is gone.

Each subject (a user, named by a keyed digest of the user id as the stream stores it) has one
AES-256-GCM data key at a time, kept in a shared ``KeyStore`` only wrapped (AES-GCM) by the master
key. Destroying the key replaces the record by a tombstone (generation, when, under which receipt):
from then on nothing encrypted under that generation can be read by anyone, wherever the copy is.

A tombstone also tells writers what to do with the subject's late events: one recorded before the
destruction is *shredded on arrival* (never encrypted under a new key); one recorded after it opens
a new generation (a user may come back), which remembers the last destruction so that an older
event arriving later is still shredded. Generations only grow; a store may use them as versions.

Writers look keys up a batch at a time (``warm_for_writing``: one read and at most one write to
the store per envelope, whatever the number of new users in it), then seal from the cache.

Workers cache unwrapped keys for ``cache_s`` seconds (a lookup per new user, not per event): a key
destroyed at T is unusable by every worker at T + ``cache_s`` at the latest. While the store is
unreachable, a worker keeps using the keys it knows (destroying one needs the store too); a key it
does not know yet raises ``TransientError`` and the caller retries.
"""

from __future__ import annotations

import base64
import hmac
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agent_audit.core.errors import ConfigError, TransientError
from agent_audit.core.settings import Settings

__all__ = ["DEV_MASTER_KEY", "DataKeys", "Grant", "KeyRecord", "KeyStore", "MasterKey", "MemoryKeyStore",
           "b64", "master_key_from_settings", "rank", "unb64"]

# Development only (AUDIT_MODE=development without AUDIT_MASTER_KEY): fixed, so every local worker
# shares it. Production refuses to start without a real one.
DEV_MASTER_KEY = b"agent-audit development master key: never use in production"
_NONCE = 12
_CACHE_MAX = 100_000


class MasterKey:
    """Wraps data keys and names subjects; two keys derived from one secret (HKDF-SHA256)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ConfigError("the master key must hold at least 16 bytes")
        self._wrap = AESGCM(_derive(secret, b"agent-audit/wrap/v1"))
        self._subject = _derive(secret, b"agent-audit/subject/v1")

    def __repr__(self) -> str:
        return "MasterKey(***)"

    def subject(self, user_id: str) -> str:
        """The keyed, non-reversible name of a user: the key store's id and the receipt's subject."""
        return "s1:" + hmac.digest(self._subject, user_id.encode(), "sha256")[:16].hex()

    def wrap(self, subject: str, generation: int, data_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._wrap.encrypt(nonce, data_key, f"{subject}/{generation}".encode())

    def unwrap(self, subject: str, generation: int, wrapped: bytes) -> bytes:
        return self._wrap.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], f"{subject}/{generation}".encode())


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(secret)


def master_key_from_settings(settings: Settings) -> MasterKey:
    """AUDIT_MASTER_KEY, else the file AUDIT_MASTER_KEY_FILE; production refuses to go without."""
    secret: bytes | None = settings.master_key.encode() if settings.master_key else None
    if secret is None and settings.master_key_file:
        try:
            with open(settings.master_key_file, "rb") as f:
                secret = f.read().strip()
        except OSError as exc:
            raise ConfigError(f"AUDIT_MASTER_KEY_FILE: cannot read it ({exc.strerror})") from None
    if secret is None:
        if settings.production:
            raise ConfigError("AUDIT_MASTER_KEY or AUDIT_MASTER_KEY_FILE is required in production: "
                              "it wraps the per-user data keys that make erasure possible")
        secret = DEV_MASTER_KEY
    return MasterKey(secret)


@dataclass(frozen=True)
class KeyRecord:
    """A subject's key as stored: wrapped, or destroyed (``wrapped`` None) with when and why."""
    subject: str
    generation: int
    wrapped: bytes | None
    destroyed_at: str | None = None  # RFC 3339: when this (or, if wrapped, the last) generation was destroyed
    receipt: str | None = None  # the erasure receipt that destroyed it

    @property
    def destroyed(self) -> bool:
        return self.wrapped is None

    def __repr__(self) -> str:
        return f"KeyRecord({self.subject}, gen={self.generation}, destroyed={self.destroyed})"


class KeyStore(Protocol):
    """Shared by every stream and sink worker and the CLI. Writes are compare-and-set on the
    generation: ``put`` stores ``record`` only if it is newer than what is there, and returns what
    is stored afterwards (the other writer's record when it won a race)."""

    def get(self, subject: str) -> KeyRecord | None: ...

    def put(self, record: KeyRecord) -> KeyRecord: ...

    def get_many(self, subjects: Sequence[str]) -> dict[str, KeyRecord]: ...

    def put_many(self, records: Sequence[KeyRecord]) -> dict[str, KeyRecord]: ...


def rank(record: KeyRecord) -> int:
    """A record's order among its subject's: generations grow, a destruction outranks its generation."""
    return 2 * record.generation + (1 if record.destroyed else 0)


class MemoryKeyStore:
    """An in-process ``KeyStore`` for tests and single-process tools."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}

    def get(self, subject: str) -> KeyRecord | None:
        return self.records.get(subject)

    def put(self, record: KeyRecord) -> KeyRecord:
        current = self.records.get(record.subject)
        if current is None or rank(record) > rank(current):
            self.records[record.subject] = record
            return record
        return current

    def get_many(self, subjects: Sequence[str]) -> dict[str, KeyRecord]:
        return {s: self.records[s] for s in subjects if s in self.records}

    def put_many(self, records: Sequence[KeyRecord]) -> dict[str, KeyRecord]:
        return {r.subject: self.put(r) for r in records}


@dataclass(frozen=True)
class Grant:
    """What a writer may do for a subject: encrypt with ``cipher``, or (``cipher`` None) shred."""
    subject: str
    generation: int
    cipher: AESGCM | None
    receipt: str | None = None
    destroyed_at: str | None = None


class DataKeys:
    """Data keys through a short-lived cache: ``for_writing`` (stream), ``for_reading`` (sink)."""

    def __init__(self, master: MasterKey, store: KeyStore, cache_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.master = master
        self.store = store
        self.cache_s = cache_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Grant]] = {}
        self._subjects: dict[str, str] = {}  # user id -> subject: an HMAC per user, not per event
        self.lookups = 0  # store round trips, for the benchmark and tests

    def subject(self, user_id: str) -> str:
        subject = self._subjects.get(user_id)
        if subject is None:
            if len(self._subjects) >= _CACHE_MAX:
                self._subjects.clear()
            subject = self._subjects[user_id] = self.master.subject(user_id)
        return subject

    def for_writing(self, subject: str, recorded_at: str) -> Grant:
        """The current key, created on first use; for a destroyed subject, shred what was recorded
        before the (last) destruction and open a new generation for what came after."""
        grant = self._cached(subject)
        if grant.destroyed_at is not None and _instant(recorded_at) <= _instant(grant.destroyed_at):
            return replace(grant, cipher=None)
        if grant.cipher is not None:
            return grant
        self.lookups += 1
        return self._remember(self.store.put(self._next_generation(grant)))

    def warm_for_writing(self, latest: Mapping[str, str]) -> None:
        """Make ``for_writing`` a cache hit for these subjects (subject -> latest recorded_at in the
        batch): one ``get_many`` for the uncached, one ``put_many`` for the keys to create."""
        now = self._clock()
        missing = [s for s in latest if (hit := self._cache.get(s)) is None or hit[0] <= now]
        if missing:
            found = self._get_many(missing)
            if found is None:
                return  # store away: ``for_writing`` uses what it knows or waits for the store
            self._absorb(missing, found, now)
        create = [self._next_generation(grant) for subject, at in latest.items()
                  if (grant := self._cache[subject][1]).cipher is None
                  and (grant.destroyed_at is None or _instant(at) > _instant(grant.destroyed_at))]
        if create:
            self.lookups += 1
            for record in self.store.put_many(create).values():
                self._remember(record)

    def warm_for_reading(self, wanted: Mapping[str, int]) -> None:
        """Make ``for_reading`` a cache hit for these subjects (subject -> highest generation seen):
        one ``get_many`` for those not cached, expired, or cached at an older generation."""
        now = self._clock()
        missing = [s for s, gen in wanted.items()
                   if (hit := self._cache.get(s)) is None or hit[0] <= now or hit[1].generation < gen]
        if missing and (found := self._get_many(missing)) is not None:
            self._absorb(missing, found, now)

    def _absorb(self, asked: list[str], found: Mapping[str, KeyRecord], now: float) -> None:
        """Cache what the store answered; a subject it does not know is cached as keyless."""
        for subject in asked:
            record = found.get(subject)
            if record is not None:
                self._remember(record)
            else:
                self._cache[subject] = (now + self.cache_s, Grant(subject, 0, None))

    def _get_many(self, subjects: list[str]) -> dict[str, KeyRecord] | None:
        """The records, or None when the store is away (``TransientError``): the caller goes on
        with what it has cached, stale or not."""
        self.lookups += 1
        try:
            return self.store.get_many(subjects)
        except TransientError:
            return None

    def _next_generation(self, grant: Grant) -> KeyRecord:
        generation = grant.generation + 1
        data_key = AESGCM.generate_key(bit_length=256)
        return KeyRecord(grant.subject, generation, self.master.wrap(grant.subject, generation, data_key),
                         grant.destroyed_at, grant.receipt)  # the last destruction, still in force

    def for_reading(self, subject: str, generation: int) -> Grant:
        """The key of that generation, or a grant without cipher when it is destroyed (or never was)."""
        grant = self._cached(subject)
        if grant.generation < generation:  # a newer generation than we cached (a returning user)
            self._cache.pop(subject, None)
            grant = self._cached(subject)
        if grant.generation != generation or grant.cipher is None:
            return replace(grant, cipher=None)
        return grant

    def forget_cached(self, subject: str) -> None:
        self._cache.pop(subject, None)

    def _cached(self, subject: str) -> Grant:
        now = self._clock()
        hit = self._cache.get(subject)
        if hit is not None and hit[0] > now:
            return hit[1]
        self.lookups += 1
        try:
            record = self.store.get(subject)
        except TransientError:
            if hit is None:
                raise
            # The store is away: the key known a moment ago stands (a destruction needs the store
            # too, so none can have happened that this worker could have seen).
            self._cache[subject] = (now + max(self.cache_s, 1.0), hit[1])
            return hit[1]
        return self._remember(record) if record else Grant(subject, 0, None)

    def _remember(self, record: KeyRecord) -> Grant:
        cipher = None
        if record.wrapped is not None:
            cipher = AESGCM(self.master.unwrap(record.subject, record.generation, record.wrapped))
        grant = Grant(record.subject, record.generation, cipher, record.receipt, record.destroyed_at)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[record.subject] = (self._clock() + self.cache_s, grant)
        return grant


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)

