"""Evidence: Merkle shapes, canonical bytes, signed checkpoints, session verdicts, offline proofs."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agent_audit.core.evidence.canonical import canonical, content_digest, link_hash
from agent_audit.core.evidence.checkpoint import OpenCheckpoint, checkpoint_hash, verify_signature
from agent_audit.core.evidence.merkle import Frontier, audit_path, leaf_hash, root, root_from_path
from agent_audit.core.evidence.offline import check_proof
from agent_audit.core.evidence.proof import build_proof
from agent_audit.core.evidence.signing import Keyring, SigningKey, public_pem
from agent_audit.core.evidence.verdicts import verify_session_evidence
from agent_audit.core.integrity import ChainHasher, ChainState, SessionChains
from tests.factories import event

KEY = SigningKey.generate()
RING = Keyring([KEY.public])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


class Stream:
    """The stream's evidence steps, as ``stream.checkpoints`` runs them, without a broker."""

    def __init__(self) -> None:
        self.open = OpenCheckpoint("raw", 0)
        self.chains = SessionChains(ChainHasher(b"salt-key"), leaves=self.open)
        self.checkpoints: list[dict[str, Any]] = []
        self.stored: dict[str, dict[str, Any]] = {}

    def send(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        out = [orjson.loads(self.chains.apply_encoded(e)[1]) for e in events]
        for e in out:
            self.stored.setdefault(e["event_id"], e)  # the sink keeps the first copy
        return out

    def checkpoint(self) -> dict[str, Any]:
        self.open.opened_at = 0.0
        record = self.open.close(KEY, "2026-12-03T00:00:01Z", "2026-12-03T00:00:00Z")
        self.checkpoints.append(record)
        return record

    def verdict(self, session: str = "s-1", receipts: frozenset[str] = frozenset()) -> Any:
        events = [e for e in self.stored.values() if e["session_id"] == session]
        def check(receipt: str, _event_id: str) -> tuple[str, str] | None:
            return None if receipt in receipts else ("modified", "erased without a known receipt")

        return verify_session_evidence(session, events, self.checkpoints, RING, check)


def _session(n: int = 5, close: bool = True) -> Stream:
    s = Stream()
    s.send(*(event("input", i) for i in range(n)))
    if close:
        s.send({**event("input", n), "kind": "end", "payload": {"final_seq": n}})
    s.checkpoint()
    return s


@given(st.integers(1, 80))
def test_the_frontier_builds_the_rfc9162_root_and_every_path_proves_its_leaf(n: int) -> None:
    """Incremental roots equal MTH(D[n]); each audit path proves its leaf and no other position."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == root(leaves)
    for i in range(n):
        path = audit_path(i, leaves)
        assert root_from_path(leaves[i], i, n, path) == root(leaves)
        assert n == 1 or root_from_path(leaves[i], (i + 1) % n, n, path) != root(leaves)


def test_a_leaf_can_never_pass_for_a_node() -> None:
    """Leaf and node hashes are domain-separated (RFC 9162): a two-leaf root is not a leaf hash."""
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert root([a, b]) != leaf_hash(a + b)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_the_stdlib_canonical_bytes_equal_orjsons(value: dict[str, Any]) -> None:
    """The offline verifier's encoder produces exactly the stream's (orjson, sorted keys) bytes."""
    assert canonical(value) == orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def test_a_replay_after_a_crash_yields_byte_identical_integrity_and_no_second_leaf() -> None:
    """State restored from its JSON gives a replayed event the same bytes; the tree does not grow."""
    s = Stream()
    evs = [event("input", i) for i in range(6)]
    first = [s.chains.apply_encoded(e)[1] for e in evs]
    restored_open = OpenCheckpoint.from_json("raw", 0, orjson.loads(orjson.dumps(s.open.to_json())))
    states = {k: ChainState.from_json(orjson.loads(orjson.dumps(v.to_json())))
              for k, v in s.chains.states.items()}
    again = SessionChains(ChainHasher(b"salt-key"), states, leaves=restored_open)
    assert [again.apply_encoded(e)[1] for e in evs[3:]] == first[3:]
    assert restored_open.size == 6 and restored_open.frontier.root() == s.open.frontier.root()


def test_a_checkpoint_is_signed_chained_and_verifies_only_with_a_known_key() -> None:
    """Each checkpoint names its predecessor's hash; a rotated-out key still verifies old ones."""
    s = _session(3)
    s.send(event("input", 4, session="s-2"))
    second = s.checkpoint()
    assert second["prev"] == checkpoint_hash(s.checkpoints[0])
    new_key = SigningKey.generate()
    ring = Keyring([new_key.public, KEY.public])
    assert all(verify_signature(c, ring) for c in s.checkpoints)
    assert not verify_signature(s.checkpoints[0], Keyring([new_key.public]))
    forged = {**second, "root": "00" * 32}
    assert not verify_signature(forged, RING)


def test_an_untouched_closed_session_is_intact_and_complete() -> None:
    """Every event on the signed chain, seqs 0..n and an end marker: intact, complete, exit 0."""
    v = _session(5).verdict()
    assert (v.status, v.complete, v.exit_code) == ("intact", True, 0)
    assert str(v) == "intact (6 events, complete)"


def test_an_unclosed_session_is_intact_but_open() -> None:
    """Without an end marker the same chain is intact and open."""
    assert str(_session(4, close=False).verdict()) == "intact (4 events, open)"


def test_an_edited_event_is_modified_at_its_seq() -> None:
    """Changing stored content without re-chaining: modified at that seq."""
    s = _session()
    target = next(e for e in s.stored.values() if e["seq"] == 2)
    target["payload"]["content"] = "edited"
    assert (s.verdict().status, s.verdict().seq) == ("modified", 2)


def test_an_edit_rechained_with_the_projects_own_code_is_still_modified() -> None:
    """An insider recomputes digest and every later link without the signing key: modified, from
    the first seq after the last signed head that still matches (checkpoints narrow the window)."""
    s = Stream()
    s.send(event("input", 0), event("input", 1))
    s.checkpoint()
    s.send(*(event("input", i) for i in range(2, 5)))
    s.checkpoint()
    events = sorted(s.stored.values(), key=lambda e: e["seq"])
    prev = events[1]["integrity"]["hash"]
    for e in events[2:]:
        if e["seq"] == 2:
            e["payload"]["content"] = "edited"
        i = e["integrity"]
        i["digest"] = content_digest(base64.b64decode(i["salt"]), canonical(e))
        i["prev_hash"] = prev
        i["hash"] = prev = link_hash(prev, e["session_id"], e["seq"], e["event_id"], i["digest"])
    v = s.verdict()
    assert (v.status, v.seq, v.exit_code) == ("modified", 2, 1)


def test_deleting_the_tail_is_truncated_after_the_last_kept_seq() -> None:
    """Removing seqs 3.. of a checkpointed session: truncated after seq 2."""
    s = _session(5)
    for e in list(s.stored.values()):
        if e["seq"] >= 3:
            del s.stored[e["event_id"]]
    v = s.verdict()
    assert (v.status, v.seq, v.exit_code) == ("truncated", 2, 3)


def test_deleting_a_middle_event_or_the_whole_session_is_deleted() -> None:
    """A checkpointed event that is absent: deleted at its seq; no event left: deleted."""
    s = _session(5)
    del s.stored[next(e["event_id"] for e in s.stored.values() if e["seq"] == 2)]
    assert (s.verdict().status, s.verdict().seq) == ("deleted", 2)
    s.stored.clear()
    assert (s.verdict().status, s.verdict().exit_code) == ("deleted", 4)


def test_an_inserted_event_is_reported_inserted() -> None:
    """A well-formed forged event the signed chain does not reach: inserted (exit 5)."""
    s = _session(4, close=False)
    head = max(s.stored.values(), key=lambda e: e["seq"])
    forged = Stream().send(event("input", 4))[0]  # linked by the attacker's own copy of the code
    forged["integrity"].update(prev_hash=None, checkpoint=0, partition=0)
    s.stored[forged["event_id"]] = forged
    v = s.verdict()
    assert (v.status, v.seq, v.exit_code) == ("inserted", 4, 5)
    assert head["seq"] == 3


def test_events_after_the_last_checkpoint_are_not_yet_checkpointed() -> None:
    """Linked after the signed head, in a checkpoint still open: unchecked (exit 6), not tampered."""
    s = _session(3, close=False)
    s.send(event("input", 3))
    v = s.verdict()
    assert (v.status, v.exit_code) == ("unchecked", 6)
    assert "1 events after the last checkpoint" in str(v)


def test_a_late_event_replayed_from_the_dead_letters_keeps_the_chain_intact() -> None:
    """Seq 2 arrives after seq 4 (dead-lettered, fixed, replayed): linked to the head, intact."""
    s = Stream()
    s.send(*(event("input", i) for i in (0, 1, 3, 4)))
    s.send(event("input", 2))
    s.checkpoint()
    assert str(s.verdict()) == "intact (5 events, open)"


def test_an_erased_event_verifies_under_a_known_receipt_only() -> None:
    """A tombstone (no salt, no content) with a known receipt is intact; an unknown one is modified."""
    s = _session(3)
    victim = next(e for e in s.stored.values() if e["seq"] == 1)
    keep = ("schema_version", "event_id", "session_id", "seq", "kind", "timestamp")
    tomb = {k: victim[k] for k in keep}
    tomb["integrity"] = {k: v for k, v in victim["integrity"].items() if k != "salt"}
    tomb["erased"] = {"receipt": "r-1", "at": "2026-12-03T00:00:00Z"}
    s.stored[victim["event_id"]] = tomb
    v = s.verdict(receipts=frozenset({"r-1"}))
    assert v.status == "intact" and "seq 1 erased under receipt r-1" in str(v)
    assert (s.verdict().status, s.verdict().seq) == ("modified", 1)


def test_a_deleted_checkpoint_is_reported() -> None:
    """Removing a checkpoint from the middle of the partition's chain is reported as deleted."""
    s = _session(2)
    for n in range(2):
        s.send(event("input", 10 + n, session="other"))
        s.checkpoint()
    del s.checkpoints[1]
    assert s.verdict().status == "deleted"


def test_a_proof_verifies_offline_and_fails_once_anything_changes() -> None:
    """The proof holds with the public key; an edited event, path or foreign key makes it fail."""
    s = _session(6)
    covered = list(s.stored.values())
    target = next(e for e in covered if e["seq"] == 3)
    proof = orjson.loads(orjson.dumps(build_proof(target, covered, s.checkpoints[0])))
    assert check_proof(proof, RING) == []
    edited = copy.deepcopy(proof)
    edited["event"]["payload"]["content"] = "edited"
    assert check_proof(edited, RING)
    moved = copy.deepcopy(proof)
    moved["path"][0] = "00" * 32
    assert check_proof(moved, RING)
    assert check_proof(proof, Keyring([SigningKey.generate().public]))


def test_keys_load_from_pem_or_base64_and_never_show_in_repr() -> None:
    """The private key round-trips through PEM; its repr names only the key id."""
    again = SigningKey.from_text(KEY.private_pem())
    assert again.key_id == KEY.key_id and "PRIVATE" not in repr(again)
    assert Keyring.from_texts([public_pem(KEY.public)]).keys.keys() == {KEY.key_id}


@given(st.one_of(st.none(), st.text()), st.text(), st.integers(0, 2**53), st.text(), st.text())
def test_the_streams_fast_link_equals_the_offline_verifiers(prev: str | None, session: str, seq: int,
                                                             event_id: str, digest: str) -> None:
    """The stream links with orjson, the offline verifier with the stdlib: the same hash."""
    from agent_audit.core.integrity import _link  # noqa: PLC0415

    assert _link(prev, session, seq, event_id, digest) == link_hash(prev, session, seq, event_id, digest)


def test_an_erasure_waiting_for_its_signature_is_unchecked_and_a_later_edit_still_wins() -> None:
    """A tombstone whose signed list is not checkpointed yet makes the session ``unchecked`` (not
    intact, not tampered); an edited event after it is still ``modified`` at its own seq."""
    s = _session(4)
    victim = next(e for e in s.stored.values() if e["seq"] == 1)
    tomb = {k: victim[k] for k in ("schema_version", "event_id", "session_id", "seq", "kind", "timestamp")}
    tomb["integrity"] = {k: v for k, v in victim["integrity"].items() if k != "salt"}
    tomb["erased"] = {"receipt": "r-1", "at": "2026-12-03T00:00:00Z"}
    s.stored[victim["event_id"]] = tomb
    events = [e for e in s.stored.values() if e["session_id"] == "s-1"]

    def waiting(_receipt: str, event_id: str) -> tuple[str, str] | None:
        return ("unchecked", f"{event_id} listed, not checkpointed yet")

    v = verify_session_evidence("s-1", events, s.checkpoints, RING, waiting)
    assert (v.status, v.seq) == ("unchecked", 1) and victim["event_id"] in " ".join(v.notes)
    edited = next(e for e in events if e["seq"] == 3)
    edited["payload"] = {"content": "rewritten"}
    v = verify_session_evidence("s-1", events, s.checkpoints, RING, waiting)
    assert (v.status, v.seq) == ("modified", 3)
