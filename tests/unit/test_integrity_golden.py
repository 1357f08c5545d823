"""The integrity the stream publishes and the bytes it digests never change: recorded outputs of v2.

``golden/chain_v2.json`` was recorded with the chain code as of the evidence merge (v2 integrity,
JSON chain state), before the state was packed: two salt keys, with and without checkpoint
leaves, two interleaved sessions past ``RECENT`` links, a producer-sent ``integrity``, replays
inside and beyond the recent links, a late lower seq and its replay, unicode, floats and big
integers. Verify, the sink, the archive and forget all depend on these bytes.
"""

from __future__ import annotations

import base64
import hmac
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_audit.core.integrity import ChainHasher, ChainState, SessionChains

GOLDEN = orjson.loads((Path(__file__).parent / "golden" / "chain_v2.json").read_bytes())["cases"]


class Leaves:
    """The leaf log the golden run used: partition 3, five leaves a checkpoint from number 7."""

    partition = 3

    def __init__(self) -> None:
        self.n = 0

    def append(self, session: str, seq: int, link: str) -> tuple[int, int, int]:
        self.n += 1
        return 3, 7 + self.n // 5, self.n % 5

    def relink(self, session: str, seq: int, link: str, number: int, leaf: int) -> None:
        """A replay: the golden run's leaves were never lost."""


def _chains(case: dict[str, Any]) -> SessionChains:
    key = base64.b64decode(case["salt_key"]) if case["salt_key"] else None
    return SessionChains(ChainHasher(key), leaves=Leaves() if case["leaves"] else None)


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_every_published_event_is_byte_for_byte_what_v2_published(case: dict[str, Any]) -> None:
    """Same events in, same encoded events out, integrity included, replays and late events too."""
    chains = _chains(case)
    for step in case["steps"]:
        linked, value = chains.apply_encoded(dict(step["event"]))
        assert value == step["value"].encode()
        assert orjson.loads(value) == linked


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_the_packed_state_holds_what_the_v2_state_held(case: dict[str, Any]) -> None:
    """After the run, each session's state reads back as the v2 JSON state the golden run kept."""
    chains = _chains(case)
    for step in case["steps"]:
        chains.apply_encoded(dict(step["event"]))
    assert {s: c.to_json() for s, c in chains.states.items()} == case["states"]
    for state in chains.states.values():
        assert ChainState.from_record(state.to_record(1.0)) == state


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, b"z" * 200, None])
def test_the_salt_is_hmac_sha256_of_the_event_id(key: bytes | None) -> None:
    """Short, block-sized and longer salt keys: the salt is the first 16 bytes of the standard HMAC."""
    expected = hmac.digest(key or b"agent-audit/development-salt-key", b"e-1", "sha256")[:16]
    assert ChainHasher(key).salt("e-1") == expected
