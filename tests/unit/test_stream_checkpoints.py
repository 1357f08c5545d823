"""The stream's checkpoint steps without a broker: when a checkpoint closes, what state survives a crash."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from agent_audit.core.errors import ConfigError
from agent_audit.core.evidence.checkpoint import checkpoint_hash, verify_signature
from agent_audit.core.evidence.keys import keyring_from_settings, signing_key_from_settings
from agent_audit.core.evidence.signing import Keyring, SigningKey, public_pem
from agent_audit.core.integrity import ChainHasher, ChainState, SessionChains
from agent_audit.core.settings import Settings
from agent_audit.stream.checkpoints import PartitionCheckpoints
from agent_audit.stream.state import PartitionState, _apply
from tests.factories import event

KEY = SigningKey.generate()
SETTINGS = Settings(mode="development", checkpoint_interval_s=5)


class Pipeline:
    """Envelopes through chains and checkpoints, state records kept as the state topic would."""

    def __init__(self, topic: dict[str, bytes] | None = None) -> None:
        self.state = PartitionState(SETTINGS)
        self.state.partitions[0] = {}
        for key, value in (topic or {}).items():  # read back as PartitionState.load does
            _apply(self.state.partitions[0], key.encode(), value)
        self.topic: dict[str, bytes] = dict(topic or {})
        self.cps = PartitionCheckpoints(SETTINGS, KEY, self.state)
        self.chains = SessionChains(ChainHasher(b"k"), leaves=self.cps, batches=True)
        for key, value in self.state.partitions[0].items():
            if key.startswith("chain:"):
                self.chains.states[key[6:]] = ChainState.from_record(value)
        self.closed: list[dict] = []  # type: ignore[type-arg]
        self.outputs: list[bytes] = []
        self.written: list[tuple[str, bytes]] = []  # the last envelope's state records, in order

    def envelope(self, at: float, *events: dict) -> None:  # type: ignore[type-arg]
        self.cps.begin(0, at)
        self.outputs += [self.chains.apply_encoded(e)[1] for e in events]
        touched = self.chains.drain_touched().items()
        records = [self.state.put(0, f"chain:{s}", c.to_record(at)) for s, c in touched]
        cp_state, out = self.cps.finish()
        self.written = [(key.decode(), value) for key, value, _ in [*records, *cp_state]]
        self.topic.update(self.written)
        self.closed += [orjson.loads(r.value) for r in out]

    def tick(self, now: float) -> None:
        cp_state, out = self.cps.tick(0, now)
        self.written = [(key.decode(), value) for key, value, _ in cp_state]
        self.topic.update(self.written)
        self.closed += [orjson.loads(r.value) for r in out]


def test_a_checkpoint_closes_after_the_envelope_that_ends_its_interval_and_is_signed() -> None:
    """Leaves gather until an envelope's record time is an interval past the first; then one signed record."""
    p = Pipeline()
    evs = [event("input", i) for i in range(6)]
    p.envelope(100.0, *evs[:2])
    p.envelope(103.0, *evs[2:4])
    assert p.closed == []
    p.envelope(105.5, *evs[4:])
    assert len(p.closed) == 1
    cp = p.closed[0]
    assert (cp["number"], cp["tree_size"], cp["prev"]) == (0, 6, None)
    head = orjson.loads(p.outputs[-1])["integrity"]["hash"]
    assert cp["sessions"] == [{"session_id": "s-1", "seq": 5, "hash": head}]
    assert verify_signature(cp, Keyring([KEY.public]))


def test_after_a_crash_the_replayed_envelopes_give_the_same_outputs_and_checkpoint() -> None:
    """Restart from the state topic as written before the crash: identical event bytes, no extra leaf,
    and the checkpoint closes after the same envelope with the same root."""
    evs = [event("input", i) for i in range(6)]
    first = Pipeline()
    first.envelope(100.0, *evs[:2])
    saved = dict(first.topic)  # the crash: envelopes 2 and 3 were processed but never acked
    first.envelope(103.0, *evs[2:4])
    first.envelope(105.5, *evs[4:])
    again = Pipeline(saved)
    again.envelope(103.0, *evs[2:4])
    again.envelope(105.5, *evs[4:])
    assert again.outputs == first.outputs[2:]
    assert again.closed == first.closed


def test_a_replay_gives_the_same_outputs_and_checkpoints_whatever_prefix_of_its_state_survived() -> None:
    """A crash can end a flush after any prefix of the envelope's state records (chains, then the
    checkpoint's): replaying from each such prefix gives identical event bytes and checkpoints."""
    sessions = ("a", "b", "c")
    evs = [event("input", i // 3, session=sessions[i % 3]) for i in range(12)]
    times = (100.0, 105.5, 107.0, 112.5)  # the second envelope closes checkpoint 0, the fourth 1
    batches = [evs[i:i + 3] for i in range(0, 12, 3)]
    for crash in (1, 2):  # an envelope that closes a checkpoint, one that does not
        first, before, crashed = Pipeline(), {}, []
        for i, (at, batch) in enumerate(zip(times, batches, strict=True)):
            if i == crash:
                before = dict(first.topic)
            first.envelope(at, *batch)
            if i == crash:
                crashed = first.written
        assert len(crashed) == 4 and [c["number"] for c in first.closed] == [0, 1]
        for kept in range(len(crashed) + 1):
            again = Pipeline({**before, **dict(crashed[:kept])})
            for at, batch in zip(times[crash:], batches[crash:], strict=True):
                again.envelope(at, *batch)
            assert again.outputs == first.outputs[3 * crash:], (crash, kept)
            # A restart may publish the last closed record again: the same content, never another.
            by_number = {c["number"]: c for c in first.closed}
            assert all(c == by_number[c["number"]] for c in again.closed), (crash, kept)
            assert {c["number"] for c in again.closed} >= set(range(crash - 1, 2)), (crash, kept)


def test_an_envelope_with_more_events_of_a_session_than_recent_links_replays_identically() -> None:
    """A state record keeps every link its envelope added (40 here, RECENT is 16): replaying that
    envelope from its own record recognises all 40 as replays instead of linking them again (which
    the sink would take for a conflicting event id); the next envelope trims back to RECENT."""
    evs = [event("input", i, session="big") for i in range(60)]
    first = Pipeline()
    first.envelope(100.0, *evs[:10])
    before = dict(first.topic)
    first.envelope(101.0, *evs[10:50])
    crashed = first.written
    assert ChainState.from_record(dict(crashed)["chain:big"]).links == 40
    first.envelope(106.0, *evs[50:])  # closes checkpoint 0
    assert ChainState.from_record(first.topic["chain:big"]).links == ChainState.RECENT
    for kept in range(len(crashed) + 1):
        again = Pipeline({**before, **dict(crashed[:kept])})
        again.envelope(101.0, *evs[10:50])
        again.envelope(106.0, *evs[50:])
        assert again.outputs == first.outputs[10:], kept
        assert again.closed == first.closed, kept


def test_a_checkpoint_the_idle_timer_closed_is_published_again_after_a_crash_never_closed_twice() -> None:
    """The timer's close is on wall-clock time: its state (holding the record) goes out first, and a
    stream restarted from that state publishes the same record again and goes on with the next number."""
    evs = [event("input", i) for i in range(4)]
    first = Pipeline()
    first.envelope(100.0, *evs[:2])
    first.tick(200.0)
    (record,) = first.closed
    assert orjson.loads(first.topic["checkpoint"])["pending"] == record
    again = Pipeline(first.topic)  # the crash: the state is on the topic, the record is not
    again.envelope(300.0, *evs[2:])
    again.tick(400.0)
    assert again.closed[0] == record  # published again, byte for byte the same content
    assert [c["number"] for c in again.closed] == [0, 1]
    assert again.closed[1]["prev"] == checkpoint_hash(record)
    again.envelope(500.0, event("input", 4))
    assert "pending" not in orjson.loads(again.topic["checkpoint"])  # dropped once handed out


def test_a_restart_keeps_the_heads_of_sessions_the_open_checkpoint_touched_before_it() -> None:
    """A session linked into the open checkpoint before a restart, silent after it, is still in the
    checkpoint's heads: they are rebuilt from the packed chain records on the state topic."""
    quiet = [event("input", i, session="s-quiet") for i in range(2)]
    first = Pipeline()
    first.envelope(100.0, *quiet)
    again = Pipeline(dict(first.topic))
    again.envelope(105.5, event("input", 0))
    head = orjson.loads(first.outputs[-1])["integrity"]["hash"]
    assert {"session_id": "s-quiet", "seq": 1, "hash": head} in again.closed[0]["sessions"]


def test_the_idle_timer_closes_a_quiet_partitions_checkpoint() -> None:
    """No more envelopes: the timer closes the checkpoint on wall-clock time; an empty one never closes."""
    p = Pipeline()
    assert p.cps.tick(0, now=1e12) == ([], [])
    p.envelope(100.0, event("input", 0))
    state, out = p.cps.tick(0, now=106.0)
    assert len(out) == 1 and state


def test_production_refuses_to_start_without_a_signing_key_and_integrity_off_is_development_only() -> None:
    """No key in production: ConfigError; AUDIT_INTEGRITY=off in production: ConfigError."""
    with pytest.raises(ConfigError, match="signing key"):
        signing_key_from_settings(Settings(mode="production"))
    with pytest.raises(ConfigError, match="development only"):
        signing_key_from_settings(Settings(mode="production", integrity=False))
    assert signing_key_from_settings(Settings(mode="development")) is None
    key = signing_key_from_settings(Settings(signing_key=KEY.private_pem()))
    assert key is not None and key.key_id == KEY.key_id


def test_verifiers_keep_retired_public_keys(tmp_path: Path) -> None:
    """AUDIT_PUBLIC_KEYS lists files and inline keys; every one of them verifies."""
    old, new = SigningKey.generate(), SigningKey.generate()
    (tmp_path / "old.pem").write_text(public_pem(old.public))
    raw = base64.b64encode(new.public.public_bytes_raw()).decode()
    ring = keyring_from_settings(Settings(mode="development", public_keys=f"{tmp_path / 'old.pem'},{raw}"))
    assert set(ring.keys) == {old.key_id, new.key_id}
