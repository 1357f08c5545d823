"""The chain stage's CPU per event (``SessionChains.apply_encoded``), against the v2 code it replaced.

Events: ``BENCH_CHAIN_EVENTS`` (default 40,000) of the demo's workload (``bench.workload``), 400
sessions interleaved, linked with checkpoint leaves as the stream does. Rows, each the best of
``BENCH_CHAIN_ROUNDS`` (default 7) alternated rounds, in µs per event:
- floor: what any chain must do (canonical encoding and one SHA-256 of it);
- v2: the chain stage as it was before the state was packed (kept below, verbatim in behaviour:
  ``hmac.digest`` salt, base64, frozen-dataclass state of hex tuples, recent links scanned on
  every event), plus its state record per touched session (orjson of the v2 JSON);
- now: ``SessionChains.apply_encoded`` plus ``ChainState.to_record``.
Both produce the same published bytes (checked here on every event; a golden test holds it too).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from agent_audit.core.evidence.canonical import LINK_DOMAIN, content_digest
from agent_audit.core.integrity import ChainHasher, SessionChains, canonical
from bench.harness import emit, table
from bench.workload import record_events

N = int(os.environ.get("BENCH_CHAIN_EVENTS", "40000"))
ROUNDS = int(os.environ.get("BENCH_CHAIN_ROUNDS", "7"))
KEY = b"bench-salt-key-0123456789abcdef!"
PER_ENVELOPE = 500  # events between two state snapshots (the stream writes state per envelope)


class _Leaves:
    partition = 0

    def __init__(self) -> None:
        self.n = 0

    def append(self, session: str, seq: int, link: str) -> tuple[int, int, int]:
        self.n += 1
        return 0, self.n // 5000, self.n % 5000

    def relink(self, session: str, seq: int, link: str, number: int, leaf: int) -> None:
        pass  # the bench replays nothing


@dataclass(frozen=True)
class _V2State:
    last_seq: int
    head: str
    recent: tuple[tuple[int, str, str | None, int, int], ...]
    checkpoint: int = -1

    def to_json(self) -> dict[str, Any]:
        return {"last_seq": self.last_seq, "head": self.head, "checkpoint": self.checkpoint,
                "recent": [list(r) for r in self.recent]}


class _V2Chains:
    """The v2 chain stage, the baseline (same outputs, the state as hex tuples)."""

    def __init__(self, key: bytes, leaves: _Leaves) -> None:
        self.key, self.leaves = key, leaves
        self.states: dict[str, _V2State] = {}
        self.touched: set[str] = set()

    def apply_encoded(self, event: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        session, seq, event_id = str(event["session_id"]), int(event["seq"]), str(event["event_id"])
        state = self.states.get(session)
        body = canonical(event)
        salt = hmac.digest(self.key, event_id.encode(), "sha256")[:16]
        digest = content_digest(salt, body)
        integrity: dict[str, Any] = {"v": 2, "salt": base64.b64encode(salt).decode(), "digest": digest}
        replayed = None
        for entry in reversed(state.recent if state else ()):
            if entry[0] == seq and entry[1] == _v2_link(entry[2], session, seq, event_id, digest):
                replayed = entry
                break
        if replayed is not None:
            integrity.update(prev_hash=replayed[2], hash=replayed[1], partition=0, checkpoint=replayed[3],
                             leaf=replayed[4])
        else:
            prev = state.head if state else None
            link = _v2_link(prev, session, seq, event_id, digest)
            integrity.update(prev_hash=prev, hash=link)
            integrity["partition"], number, leaf = self.leaves.append(session, seq, link)
            integrity["checkpoint"], integrity["leaf"] = number, leaf
            recent = (state.recent if state else ()) + ((seq, link, prev, number, leaf),)
            last = max(seq, state.last_seq) if state else seq
            self.states[session] = _V2State(last, link, recent[-16:], number)
            self.touched.add(session)
        linked = {**event, "integrity": integrity}
        return linked, body[:-1] + b',"integrity":' + orjson.dumps(integrity) + b"}"

    def records(self) -> int:
        size = sum(len(orjson.dumps({**self.states[s].to_json(), "at": 1.0})) for s in self.touched)
        self.touched.clear()
        return size


def _v2_link(prev_hash: str | None, session_id: str, seq: int, event_id: str, digest: str) -> str:
    entry = orjson.dumps([prev_hash, session_id, seq, event_id, digest])
    return hashlib.sha256(b"\x00" + LINK_DOMAIN + entry).hexdigest()


def _now_records(chains: SessionChains) -> int:
    return sum(len(state.to_record(1.0)) for state in chains.drain_touched().values())


def _timed(events: list[dict[str, Any]], apply: Callable[[dict[str, Any]], tuple[Any, bytes]],
           records: Callable[[], int]) -> tuple[float, list[bytes]]:
    out: list[bytes] = []
    started = time.perf_counter()
    for i, event in enumerate(events):
        out.append(apply(event)[1])
        if i % PER_ENVELOPE == PER_ENVELOPE - 1:
            records()
    records()
    return (time.perf_counter() - started) * 1e6 / len(events), out


def _floor(events: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for event in events:
        hashlib.sha256(canonical(event)).hexdigest()
    return (time.perf_counter() - started) * 1e6 / len(events)


def main() -> None:
    events = [orjson.loads(line) for _, line in record_events(N)[:N]]
    best = {"floor": float("inf"), "v2": float("inf"), "now": float("inf")}
    for _ in range(ROUNDS):
        best["floor"] = min(best["floor"], _floor(events))
        v2 = _V2Chains(KEY, _Leaves())
        v2_us, v2_out = _timed(events, v2.apply_encoded, v2.records)
        now = SessionChains(ChainHasher(KEY), leaves=_Leaves())
        now_us, now_out = _timed(events, now.apply_encoded, functools.partial(_now_records, now))
        assert now_out == v2_out, "the published bytes changed"
        best["v2"], best["now"] = min(best["v2"], v2_us), min(best["now"], now_us)
    print(f"chain stage: {len(events):,} events of the demo workload, checkpoint leaves, state records "
          f"every {PER_ENVELOPE} events; best of {ROUNDS} alternated rounds; load {os.getloadavg()[0]:.2f}")
    table(["path", "µs / event", "vs v2"],
          [["floor: canonical + one SHA-256", f"{best['floor']:.2f}", f"{best['floor'] / best['v2']:.2f}"],
           ["v2 (baseline)", f"{best['v2']:.2f}", "1.00"],
           ["now", f"{best['now']:.2f}", f"{best['now'] / best['v2']:.2f}"]])
    emit({"events": len(events), "rounds": ROUNDS, "floor_us": round(best["floor"], 2),
          "v2_us": round(best["v2"], 2), "now_us": round(best["now"], 2),
          "ratio": round(best["now"] / best["v2"], 3), "load": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
    main()
