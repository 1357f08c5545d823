"""Crypto-shredding: per-user data keys, sealed events and dead letters, tombstones on arrival."""

from __future__ import annotations

import orjson
import pytest
from cryptography.exceptions import InvalidTag

from agent_audit.core.datakeys import (
    DataKeys,
    KeyRecord,
    MasterKey,
    MemoryKeyStore,
    master_key_from_settings,
    unb64,
)
from agent_audit.core.errors import ConfigError, TransientError
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.sealing import CLEAR, open_event, open_letter, seal_event, seal_events, seal_letter
from agent_audit.core.settings import Settings
from tests.factories import event

MASTER = MasterKey(b"0123456789abcdef0123456789abcdef")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _keys(store: MemoryKeyStore | None = None, clock: Clock | None = None) -> DataKeys:
    return DataKeys(MASTER, store or MemoryKeyStore(), cache_s=10, clock=clock or Clock())


def _destroy(store: MemoryKeyStore, keys: DataKeys, user: str, at: str = "2026-12-01T00:00:00Z") -> None:
    subject = keys.subject(user)
    current = store.get(subject)
    store.put(KeyRecord(subject, current.generation if current else 0, None, at, "r-1"))


def _chained(user: str = "jane") -> dict:  # type: ignore[type-arg]
    ev = event("input", 0, user=user, payload={"type": "text", "content": "my secret plan"})
    return SessionChains(ChainHasher()).apply(ev)


def test_a_sealed_event_shows_only_the_clear_fields_and_opens_back_whole() -> None:
    """On Kafka the user id and content are ciphertext; the sink gets the event back bit for bit."""
    keys, ev = _keys(), _chained()
    ev["integrity"]["salt"] = "c2FsdA=="
    sealed = seal_event(ev, keys)
    assert b"secret plan" not in sealed and b"jane" not in sealed and b"c2FsdA" not in sealed
    doc = orjson.loads(sealed)
    assert doc["integrity"]["hash"] == ev["integrity"]["hash"] and "salt" not in doc["integrity"]
    assert orjson.loads(open_event(sealed, keys).value or b"") == ev


def test_one_key_per_user_created_once_and_cached() -> None:
    """The first event of a user creates their key; later events reuse it without a store lookup."""
    store = MemoryKeyStore()
    keys = _keys(store)
    for _ in range(5):
        seal_event(_chained(), keys)
    assert len(store.records) == 1 and keys.lookups == 2  # one miss, one create


def test_destroying_the_key_shreds_every_copy_after_the_cache_expires() -> None:
    """A copy sealed before the destruction opens as the erasure tombstone, never as content."""
    store, clock = MemoryKeyStore(), Clock()
    writer, reader = _keys(store, clock), _keys(store, clock)
    sealed = seal_event(_chained(), writer)
    assert open_event(sealed, reader).shredded is False
    _destroy(store, writer, "jane")
    clock.now = 11  # past the cache
    opened = open_event(sealed, reader)
    doc = orjson.loads(opened.value or b"")
    assert opened.shredded and doc["erased"] == {"receipt": "r-1", "at": "2026-12-01T00:00:00Z"}
    assert "payload" not in doc and "user_id" not in doc and "hash" in doc["integrity"]


def test_a_late_event_recorded_before_the_forget_is_shredded_by_the_stream() -> None:
    """No new key is made for an event older than the destruction: it leaves without ciphertext."""
    store = MemoryKeyStore()
    keys = _keys(store)
    _destroy(store, keys, "jane")
    sealed = seal_event(_chained(), keys)
    assert b'"shredded":true' in sealed and b"secret plan" not in sealed
    assert store.get(keys.subject("jane")).destroyed  # type: ignore[union-attr]
    assert open_event(sealed, keys).shredded


def test_a_user_who_comes_back_after_the_forget_gets_a_new_generation() -> None:
    """Events recorded after the destruction are sealed under a new key, readable again."""
    store = MemoryKeyStore()
    keys = _keys(store)
    _destroy(store, keys, "jane", at="2026-11-01T00:00:00Z")
    sealed = seal_event(_chained(), keys)  # recorded 2026-11-25
    assert store.get(keys.subject("jane")).generation == 1  # type: ignore[union-attr]
    assert not open_event(sealed, keys).shredded


def test_a_reader_that_cached_the_destruction_still_reads_the_new_generation() -> None:
    """A sink that cached a destroyed key fetches again for a message of a newer generation."""
    store, clock = MemoryKeyStore(), Clock()
    writer, reader = _keys(store, clock), _keys(store, clock)
    _destroy(store, writer, "jane", at="2026-11-01T00:00:00Z")
    reader.for_reading(writer.subject("jane"), 0)  # caches the destroyed generation 0
    sealed = seal_event(_chained(), writer)  # recorded after the forget: generation 1
    assert orjson.loads(open_event(sealed, reader).value or b"")["user_id"] == "jane"


def test_a_ciphertext_moved_to_another_event_does_not_open() -> None:
    """The ciphertext is bound to its event id: swapping it in elsewhere fails to decrypt."""
    keys = _keys()
    a, b = orjson.loads(seal_event(_chained(), keys)), orjson.loads(seal_event(_chained(), keys))
    b["sealed"] = a["sealed"]
    with pytest.raises(InvalidTag):
        open_event(orjson.dumps(b), keys)


def test_dead_letters_are_sealed_by_their_user_and_shredded_with_them() -> None:
    """A dead letter naming a user is unreadable once that user's key is destroyed."""
    store = MemoryKeyStore()
    keys = _keys(store)
    letter = orjson.dumps({"user_id": "jane", "timestamp": "2026-11-25T00:00:00Z", "note": "private"})
    sealed = seal_letter(letter, keys)
    assert b"private" not in sealed and open_letter(sealed, keys).value == letter
    assert seal_letter(b"not json at all", keys) == b"not json at all"
    _destroy(store, keys, "jane")
    keys.forget_cached(keys.subject("jane"))
    assert open_letter(sealed, keys).value is None


def test_subjects_are_keyed_digests() -> None:
    """The subject name depends on the master key: a short user id cannot be found by hashing guesses."""
    other = MasterKey(b"another master key of enough size")
    assert MASTER.subject("u-1") != other.subject("u-1") and "u-1" not in MASTER.subject("u-1")


def test_production_refuses_to_start_without_a_master_key() -> None:
    """AUDIT_MODE=production with no master key is a ConfigError; development uses its fixed key."""
    with pytest.raises(ConfigError, match="AUDIT_MASTER_KEY"):
        master_key_from_settings(Settings(mode="production"))
    assert master_key_from_settings(Settings(mode="development")).subject("x")
    assert "secret" not in repr(Settings(master_key="a secret of enough bytes"))


class CountingStore(MemoryKeyStore):
    """The in-memory store, counting round trips as a remote store would have them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get_many(self, subjects):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().get_many(subjects)

    def put_many(self, records):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().put_many(records)


def test_an_envelope_costs_one_read_and_one_write_of_the_key_store() -> None:
    """Fifty new users in one batch: one get_many and one put_many, not a round trip per user."""
    store = CountingStore()
    keys = _keys(store)
    sealed = seal_events([_chained(f"user-{i}") for i in range(50)], keys)
    assert store.calls == 2 and len(store.records) == 50
    assert all(not open_event(v, keys).shredded for v in sealed)


def test_in_one_batch_an_event_from_before_the_forget_stays_shredded_beside_a_newer_one() -> None:
    """The new generation opened for a returning user never seals their pre-forget events."""
    store = MemoryKeyStore()
    keys = _keys(store)
    _destroy(store, keys, "jane", at="2026-11-25T09:30:00.005Z")
    before, after = _chained(), _chained()
    after["timestamp"] = "2026-11-26T00:00:00Z"
    old, new = seal_events([before, after], keys)
    assert b'"shredded":true' in old and not open_event(new, keys).shredded
    assert open_event(old, keys).shredded


def test_the_sink_prefetches_a_batch_of_keys_in_one_request() -> None:
    """The sink's opener reads the subjects of a batch and looks them up together."""
    from agent_audit.sinks.opening import EventOpener  # noqa: PLC0415

    store = CountingStore()
    writer = _keys(store)
    values = seal_events([_chained(f"user-{i}") for i in range(20)], writer)
    store.calls = 0
    opener = EventOpener(_keys(store))
    opener.prefetch(values)
    opened = [opener.open(v) for v in values]
    assert store.calls == 1 and all(b"secret plan" in (o or b"") for o in opened)


class AwayStore(MemoryKeyStore):
    """A store that has become unreachable."""

    away = False

    def get(self, subject):  # type: ignore[no-untyped-def]
        if self.away:
            raise TransientError("store away")
        return super().get(subject)

    def get_many(self, subjects):  # type: ignore[no-untyped-def]
        if self.away:
            raise TransientError("store away")
        return super().get_many(subjects)


def test_while_the_store_is_away_known_keys_keep_working_and_unknown_ones_wait() -> None:
    """An outage of the key store stops nothing a worker already knows; a new user's key raises
    TransientError (the caller retries), never a key made up on the spot."""
    store, clock = AwayStore(), Clock()
    keys = _keys(store, clock)
    seal_events([_chained()], keys)
    store.away, clock.now = True, 100.0  # long past the cache
    assert not open_event(seal_events([_chained()], keys)[0], keys).shredded
    with pytest.raises(TransientError):
        seal_events([_chained("someone-new")], keys)


def test_a_sealed_event_is_orjsons_encoding_of_the_documented_layout() -> None:
    """The record, joined from bytes for speed, is exactly ``orjson.dumps`` of the layout readers
    rely on (clear fields in CLEAR order, ``integrity`` without salt, ``sealed`` last), and its
    plaintext is the secret fields in the event's order, the salt last."""
    keys = _keys()
    events = [_chained(f"user-{i}") for i in range(3)]
    for ev in events:
        ev["trace_id"] = "0123456789abcdef"
    sealed = seal_events(events, keys)
    for ev, value in zip(events, sealed, strict=True):
        head = orjson.loads(value)["sealed"]
        grant = keys.for_reading(head["subject"], head["gen"])
        assert grant.cipher is not None
        aad = f"{ev['event_id']}|{grant.subject}|{grant.generation}".encode()
        plain = grant.cipher.decrypt(unb64(head["nonce"]), unb64(head["ct"]), aad)
        secret = {k: v for k, v in ev.items() if k not in (*CLEAR, "integrity")}
        secret["integrity.salt"] = ev["integrity"]["salt"]
        assert plain == orjson.dumps(secret)
        clear = {k: ev[k] for k in CLEAR if k in ev}
        clear["integrity"] = {k: v for k, v in ev["integrity"].items() if k != "salt"}
        assert value == orjson.dumps({**clear, "sealed": {"v": 1, "subject": grant.subject,
                                                          "gen": grant.generation, "nonce": head["nonce"],
                                                          "ct": head["ct"]}})
