"""The sink's opener: a batch opened on its bytes gives exactly what ``core.sealing.open_event`` gives."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.datakeys import DataKeys, KeyRecord, MasterKey, MemoryKeyStore
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.sealing import open_event, seal_event, seal_events
from agent_audit.sinks.opening import EventOpener
from tests.factories import event

MASTER = MasterKey(b"0123456789abcdef0123456789abcdef")


class CountingStore(MemoryKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get(self, subject: str) -> KeyRecord | None:
        self.calls += 1
        return super().get(subject)

    def get_many(self, subjects: Any) -> dict[str, KeyRecord]:
        self.calls += 1
        return super().get_many(subjects)


def _keys(store: MemoryKeyStore) -> DataKeys:
    return DataKeys(MASTER, store, cache_s=10, clock=lambda: 0.0)


def _linked(payload: dict[str, Any], user: str = "jane", seq: int = 0) -> dict[str, Any]:
    ev = event("tool_call", seq, session=f"s-{user}", user=user, payload=payload)
    ev["redaction"] = {"policy_version": "1", "key_version": "k1", "counts": {}}
    return SessionChains(ChainHasher()).apply(ev)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12)
# Keys chosen to look like the ones the opener searches for, nested where they must not fool it.
tricky_keys = st.sampled_from(["integrity", "integrity.salt", "sealed", "event_id", "salt", "}", '"'])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=20) | tricky_keys, json_values, max_size=6), st.text(min_size=1))
def test_opening_on_bytes_gives_open_events_bytes_for_any_payload(payload: dict[str, Any], user: str) -> None:
    """Whatever the content (escapes, unicode, floats, keys named like the markers), the batch
    opener's document is byte for byte the one open_event decodes and re-encodes."""
    store = MemoryKeyStore()
    writer = _keys(store)
    value = seal_event(_linked({"tool_name": "t", "parameters": payload}, user), writer)
    assert EventOpener(_keys(store)).open_many([value]) == [open_event(value, _keys(store)).value]


def test_a_batch_costs_one_key_lookup_whatever_its_users() -> None:
    """A batch of many users' events reads the key store once; each event opens whole."""
    store = CountingStore()
    values = seal_events([_linked({"q": f"secret {i}"}, f"user-{i % 7}", i) for i in range(40)], _keys(store))
    store.calls = 0
    opened = EventOpener(_keys(store)).open_many(values)
    assert store.calls == 1
    assert [orjson.loads(v)["payload"]["q"] for v in opened if isinstance(v, bytes)] == \
        [f"secret {i}" for i in range(40)]


def test_each_outcome_keeps_its_place_in_the_batch() -> None:
    """Clear records pass as they are, an unknown key skips (None), a forged ciphertext comes back
    as a ValueError in its place (never raised: the rest of the batch still opens), and an
    event of a destroyed key opens as its tombstone."""
    store = MemoryKeyStore()
    writer = _keys(store)
    good, gone = seal_events([_linked({"q": "a"}), _linked({"q": "b"}, "erased-user")], writer)
    subject = writer.subject("erased-user")
    store.records[subject] = KeyRecord(subject, 1, None, "2026-12-01T00:00:00Z", "r-1")
    stranger = seal_event(_linked({"q": "c"}, "stranger"), _keys(MemoryKeyStore()))
    head, _, rest = good.partition(b'"ct":"')
    forged = head + b'"ct":"' + (b"A" if rest[:1] != b"A" else b"B") + rest[1:]
    clear = orjson.dumps({"metric_id": "m-1", "count": 3})
    opener = EventOpener(_keys(store))
    out = opener.open_many([clear, good, forged, stranger, gone])
    assert out[0] == clear and out[1] == open_event(good, _keys(store)).value and out[3] is None
    assert isinstance(out[2], ValueError)
    assert isinstance(out[4], bytes) and orjson.loads(out[4])["erased"]["receipt"] == "r-1"
    assert b'"q"' not in out[4] and opener.unreadable == 1


def test_a_record_in_another_layout_still_opens_like_open_event() -> None:
    """A sealed record whose clear part is not seal_event's layout (fields reordered, no integrity)
    is opened the general way: the same document open_event gives."""
    store = MemoryKeyStore()
    value = seal_event(_linked({"q": "x"}), _keys(store))
    doc = orjson.loads(value)
    reordered = orjson.dumps({"sealed": doc.pop("sealed"), **doc})
    unlinked = seal_event({k: v for k, v in _linked({"q": "y"}).items() if k != "integrity"}, _keys(store))
    for record in (reordered, unlinked):
        assert EventOpener(_keys(store)).open_many([record]) == [open_event(record, _keys(store)).value]
        assert EventOpener(_keys(store)).open(record) == open_event(record, _keys(store)).value
