"""The packed chain state holds exactly what the tuple form held, whatever the links' shape."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from agent_audit.core.chain_state import ChainState, Link


def _h(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


# Links as heads.py may rebuild them from stored events: prevs chained, None, or anything else.
links = st.lists(st.tuples(st.integers(0, 2**53 - 1), st.integers(0, 10**6), st.sampled_from(
    ["chained", "none", "other"]), st.integers(-1, 2**40), st.integers(-1, 2**31)), min_size=1, max_size=20)


def _recent(spec: list[tuple[int, int, str, int, int]]) -> tuple[Link, ...]:
    out: list[Link] = []
    for seq, h, kind, checkpoint, leaf in spec:
        chained = out[-1][1] if out else _h(-1)
        prev = chained if kind == "chained" else None if kind == "none" else _h(-h - 2)
        out.append((seq, _h(h), prev, checkpoint, leaf))
    return tuple(out)


@given(links)
def test_packing_keeps_every_recent_link_and_the_record_round_trips(spec: list) -> None:  # type: ignore[type-arg]
    """recent, head, last_seq and checkpoint read back as given (the newest RECENT links), also
    through a record and through the v2 JSON."""
    recent = _recent(spec)
    state = ChainState(max(r[0] for r in recent), recent[-1][1], recent, recent[-1][3])
    assert state.recent == recent[-ChainState.RECENT:]
    assert (state.head, state.last_seq, state.checkpoint) == (recent[-1][1], max(r[0] for r in recent),
                                                               recent[-1][3])
    assert ChainState.from_record(state.to_record(3.5)) == state
    assert ChainState.from_json(state.to_json()) == state


@given(links, st.integers(1, 40))
def test_linking_appends_one_link_from_the_head_and_keeps_the_newest_recent(spec: list, n: int) -> None:  # type: ignore[type-arg]
    """linked() is the tuple form's append-and-trim: the new link's prev is the old head."""
    recent = list(_recent(spec))
    state = ChainState(max(r[0] for r in recent), recent[-1][1], tuple(recent), recent[-1][3])
    for i in range(n):
        link = _h(10**7 + i)
        recent.append((i, link, recent[-1][1], i // 3, i % 3))
        state = state.linked(i, bytes.fromhex(link), i // 3, i % 3)
        assert state.recent == tuple(recent[-ChainState.RECENT:])
        assert state.head == link and state.checkpoint == i // 3


def test_a_first_link_and_a_bare_v1_head() -> None:
    """A session's first link has no prev; a v1 head with no recent links is its next link's prev."""
    first = ChainState.first(0, bytes.fromhex(_h(1)), -1, -1)
    assert first.recent == ((0, _h(1), None, -1, -1),) and first.head == _h(1)
    bare = ChainState(4, _h(2))
    assert bare.recent == () and bare.head == _h(2)
    assert ChainState.from_record(bare.to_record(1.0)) == bare
    assert bare.linked(5, bytes.fromhex(_h(3)), 0, 0).recent == ((5, _h(3), _h(2), 0, 0),)
