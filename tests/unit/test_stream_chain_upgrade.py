"""A stream upgraded in place continues every chain: v1 and v2 state records are read forever.

The v2 records are the states the v2 stream kept in the golden run (``golden/chain_v2.json``),
written as it wrote them (``{**state.to_json(), "at": now}``, orjson); the v1 record has the
layout of the first chain (``{"last_seq", "hashes": [[seq, hash], ...]}``, no ``at``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson

from agent_audit.core.chain_state import ChainState, record_at
from agent_audit.core.integrity import ChainHasher, SessionChains, check_event
from agent_audit.stream.state import _activity, _apply
from tests.unit.test_integrity_golden import Leaves

CASE = orjson.loads((Path(__file__).parent / "golden" / "chain_v2.json").read_bytes())["cases"][1]
KEY = base64.b64decode(CASE["salt_key"])
V1_RECORD = orjson.dumps({"last_seq": 4, "hashes": [[3, "ab" * 32], [4, "cd" * 32]]})


def _restored(records: dict[str, bytes]) -> tuple[SessionChains, dict[str, Any]]:
    """Records read back as ``PartitionState.load`` does, chains loading from them as the stream does."""
    values: dict[str, Any] = {}
    for key, value in records.items():
        _apply(values, key.encode(), value)

    def load(session: str) -> ChainState | None:
        stored = values.get(f"chain:{session}")
        return ChainState.from_record(stored) if stored is not None else None
    return SessionChains(ChainHasher(KEY), load=load, leaves=Leaves()), values


def _next(seq: int, session: str = "s-1") -> dict[str, Any]:
    return {**CASE["steps"][0]["event"], "seq": seq, "session_id": session,
            "event_id": f"0190a1b2-c3d4-7e5f-8a9b-{seq:012d}"}


def test_a_v2_record_gives_a_replay_its_first_link_and_new_events_link_to_its_head() -> None:
    """From a v2 JSON record: a replay comes out byte-for-byte as first published, changing no
    state; the next event links to the recorded head, verifies, and its state is written as v3."""
    v2 = orjson.dumps({**CASE["states"]["s-1"], "at": 1764755000.25})
    chains, values = _restored({"chain:s-1": v2})
    replay = next(s for s in reversed(CASE["steps"]) if s["event"]["session_id"] == "s-1"
                  and s["event"]["seq"] == 20)
    assert chains.apply_encoded(dict(replay["event"]))[1] == replay["value"].encode()
    assert chains.touched == set()
    linked = chains.apply(_next(21))
    assert linked["integrity"]["prev_hash"] == CASE["states"]["s-1"]["head"]
    assert check_event(linked) is None
    record = chains.drain_touched()["s-1"].to_record(1764755100.0)
    assert record[0] == 3 and record_at(record) == 1764755100.0
    again = ChainState.from_record(record)
    assert again.head == linked["integrity"]["hash"] and again.last_seq == 21
    assert again.recent[-2:] == (tuple(CASE["states"]["s-1"]["recent"][-1]),
                                 (21, linked["integrity"]["hash"], CASE["states"]["s-1"]["head"],
                                  linked["integrity"]["checkpoint"], linked["integrity"]["leaf"]))
    assert _activity(values, now=9e9) == {"chain:s-1": 1764755000.25}


def test_a_v1_record_continues_from_its_last_hash() -> None:
    """From a v1 record: the next event's prev is its last hash; with no ``at``, it moved at load."""
    chains, values = _restored({"chain:s-1": V1_RECORD})
    linked = chains.apply(_next(5))
    assert linked["integrity"]["prev_hash"] == "cd" * 32 and check_event(linked) is None
    state = ChainState.from_record(chains.drain_touched()["s-1"].to_record(7.0))
    assert (state.last_seq, state.head) == (5, linked["integrity"]["hash"])
    assert state.recent == ((5, linked["integrity"]["hash"], "cd" * 32, linked["integrity"]["checkpoint"],
                             linked["integrity"]["leaf"]),)
    assert _activity(values, now=42.0) == {"chain:s-1": 42.0}


def test_v3_records_are_kept_packed_and_their_time_read_from_the_header() -> None:
    """A v3 record is kept as the bytes read (no decoding at load); a truncated one is skipped."""
    chains, _ = _restored({})
    for seq in range(20):
        chains.apply(_next(seq))
    record = chains.states["s-1"].to_record(55.5)
    values: dict[str, Any] = {}
    _apply(values, b"chain:s-1", record)
    _apply(values, b"chain:s-2", record[:10])
    _apply(values, b"chain:s-3", record[:-200])
    assert values == {"chain:s-1": record}
    assert _activity(values, now=99.0) == {"chain:s-1": 55.5}
    assert ChainState.from_record(values["chain:s-1"]) == chains.states["s-1"]
    assert len(chains.states["s-1"].recent) == ChainState.RECENT
