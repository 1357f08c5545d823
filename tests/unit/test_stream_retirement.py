"""Bounded stream state: idle sessions leave it (tombstoned), and a late event still links correctly."""

from __future__ import annotations

from typing import Any

import orjson

from agent_audit.core.integrity import ChainHasher, ChainState, SessionChains, verify_chain
from agent_audit.core.processing import Admission, EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope
from agent_audit.stream.heads import head_from_hits
from agent_audit.stream.state import PartitionState, _apply
from tests.factories import BASE_TIME, event

AT_BASE = Admission(clock=BASE_TIME.timestamp)


def _state() -> PartitionState:
    state = PartitionState(Settings(mode="development"))
    state.partitions[0] = {}
    return state


def test_only_sessions_idle_past_the_limit_are_retired_oldest_first_as_tombstones() -> None:
    """retire() drops the keys that last moved before the cut (a touch makes a key young again),
    returns their tombstones, and keeps every other record."""
    state = _state()
    for i, at in enumerate([10.0, 20.0, 30.0]):
        state.put(0, f"chain:s{i}", {"last_seq": 0, "hashes": [], "at": at})
        state.touch(0, f"chain:s{i}", at)
    state.put(0, "windows", {"agg": {}})
    state.touch(0, "chain:s0", 40.0)  # s0 moved again
    assert state.retire(0, before=35.0) == [(b"chain:s1", None, 0), (b"chain:s2", None, 0)]
    assert set(state.partitions[0]) == {"chain:s0", "windows"}
    assert state.retire(0, before=35.0) == []


def test_activity_is_rebuilt_from_the_records_on_load() -> None:
    """A restored partition knows when each session last moved (records carry ``at``); a record
    from an older stream without it counts as moved at load; a record that is not JSON is skipped."""
    values: dict[str, Any] = {}
    _apply(values, b"chain:late", orjson.dumps({"last_seq": 1, "hashes": [], "at": 50.0}))
    _apply(values, b"chain:early", orjson.dumps({"last_seq": 1, "hashes": [], "at": 5.0}))
    _apply(values, b"chain:old", orjson.dumps({"last_seq": 1, "hashes": []}))
    _apply(values, b"chain:junk", b"\xff not json")
    _apply(values, b"chain:gone", orjson.dumps({"last_seq": 1, "hashes": []}))
    _apply(values, b"chain:gone", None)
    from agent_audit.stream.state import _activity  # noqa: PLC0415

    assert list(_activity(values, now=100.0).items()) == [
        ("chain:early", 5.0), ("chain:late", 50.0), ("chain:old", 100.0)]


def _chained(chains: SessionChains, seqs: range,
             recover: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    processor = EnvelopeProcessor(Redactor(), chains, AT_BASE, recover)
    out = processor.process(join_envelope(orjson.dumps(event("input", s)) for s in seqs))
    return [e.event for e in out.events], [d.reason for d in out.dead]


def test_a_late_event_of_a_retired_session_links_to_the_recovered_head() -> None:
    """After retirement the chain state is gone; the head rebuilt from the stored events makes the
    late events link exactly as if the session had never left: the whole chain verifies."""
    stored, _ = _chained(SessionChains(ChainHasher()), range(12))
    hits = [{"_source": {"seq": e["seq"], "integrity": e["integrity"]}}
            for e in sorted(stored, key=lambda e: -e["seq"])[:ChainState.RECENT]]
    late, dead = _chained(SessionChains(ChainHasher()), range(12, 15), lambda _s: head_from_hits(hits))
    assert not dead
    assert str(verify_chain(stored + late, ChainHasher())) == "intact (15 events)"


def test_a_head_that_cannot_be_looked_up_makes_a_dead_letter_not_a_guess() -> None:
    """If the stored events cannot be read, the late event is dead-lettered (replay it later);
    a session's first event (seq 0) never asks."""
    def unreachable(_session: str) -> ChainState | None:
        raise ConnectionError("es down")

    late, dead = _chained(SessionChains(ChainHasher()), range(5, 6), unreachable)
    assert not late and dead == ["chain: head of an unknown session unavailable (ConnectionError)"]
    first, dead = _chained(SessionChains(ChainHasher()), range(1), unreachable)
    assert len(first) == 1 and not dead


def test_a_session_with_nothing_stored_starts_its_chain_at_the_late_event() -> None:
    """Nothing stored for it: the chain starts there (prev_hash null), as for a new session."""
    late, dead = _chained(SessionChains(ChainHasher()), range(3, 4), lambda _s: None)
    assert not dead and late[0]["integrity"]["prev_hash"] is None
