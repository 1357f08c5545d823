"""Per-session hash chains: built in seq order by the stream, checked by readers."""

from __future__ import annotations

import orjson
import pytest
from agent_audit.core.integrity import ChainHasher, ChainState, SessionChains, verify_chain

from tests.factories import event


def _chain(n: int, key: bytes | None = None) -> list[dict]:  # type: ignore[type-arg]
    chains = SessionChains(ChainHasher(key))
    return [chains.apply(event("input", i)) for i in range(n)]


@pytest.mark.parametrize("key", [None, b"k1"])
def test_an_untouched_chain_verifies(key: bytes | None) -> None:
    """Events as the stream linked them verify as intact, keyed or not."""
    assert str(verify_chain(_chain(5, key), ChainHasher(key))) == "intact (5 events)"


def test_a_changed_event_breaks_the_chain_at_its_seq() -> None:
    """Editing any stored field of event 2 is reported as broken at seq 2."""
    evs = _chain(5)
    evs[2] = {**evs[2], "payload": {"type": "text", "content": "edited"}}
    verdict = verify_chain(evs, ChainHasher())
    assert (verdict.status, verdict.seq) == ("broken", 2)


def test_a_removed_event_is_reported_missing() -> None:
    """Deleting event 3 of 5 is reported as missing at seq 3."""
    evs = _chain(5)
    del evs[3]
    verdict = verify_chain(evs, ChainHasher())
    assert (verdict.status, verdict.seq) == ("missing", 3)


def test_without_the_key_a_forger_cannot_rebuild_a_keyed_chain() -> None:
    """A chain rebuilt with the wrong key does not verify with the real one."""
    forged = _chain(3, key=b"guess")
    assert verify_chain(forged, ChainHasher(b"real")).status == "broken"


def test_a_replayed_event_gets_the_same_hash_as_the_first_time() -> None:
    """After a crash the stream may see seq 3 again: it links it exactly as before."""
    chains = SessionChains(ChainHasher())
    evs = [event("input", i) for i in range(6)]
    first = [chains.apply(e) for e in evs]
    restored = SessionChains(ChainHasher(), {"s-1": ChainState.from_json(chains.states["s-1"].to_json())})
    assert restored.apply(evs[3])["integrity"] == first[3]["integrity"]
    assert restored.states["s-1"].last_seq == 5


def test_the_encoded_event_is_the_linked_event_and_verifies() -> None:
    """apply_encoded's bytes decode to the linked event, and a chain read back from them verifies."""
    chains = SessionChains(ChainHasher(b"k"))
    encoded = [chains.apply_encoded(event("input", i)) for i in range(4)]
    assert all(orjson.loads(value) == linked for linked, value in encoded)
    stored = [orjson.loads(value) for _, value in encoded]
    assert str(verify_chain(stored, ChainHasher(b"k"))) == "intact (4 events)"


def test_an_integrity_field_sent_by_a_producer_is_replaced_not_hashed() -> None:
    """A forged ``integrity`` on the way in is neither hashed nor kept: the stream's link wins."""
    forged = {**event("input", 0), "integrity": {"hash": "f" * 64, "prev_hash": None}}
    linked, value = SessionChains(ChainHasher()).apply_encoded(forged)
    plain, _ = SessionChains(ChainHasher()).apply_encoded(event("input", 0) | {
        "event_id": forged["event_id"]})
    assert linked["integrity"] == plain["integrity"] != forged["integrity"]
    assert orjson.loads(value)["integrity"] == linked["integrity"]
