"""What ``agent-audit verify`` answers for one session, from the stored events and the signed checkpoints.

Pure: the caller fetches the session's events, the checkpoints of its partition (from the first that
names the session to the newest) and judges each erasure (``ErasureCheck``: is this event's id
listed, under the receipt its tombstone names, by a signed erasure?). The answer holds against an
insider who can rewrite Elasticsearch and knows this code, as long as the signing key stays with
the stream: the newest signed head of the session is the anchor, every stored event must be on the
chain that runs back from it (or after it, waiting for the next checkpoint), and every link must
match its digest (and its content, unless erased under a receipt that signed its id).

Exit codes (documented in the README's "Evidence" section): see ``EXIT``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_audit.core.evidence.checkpoint import checkpoint_hash, verify_signature
from agent_audit.core.evidence.signing import Keyring
from agent_audit.core.integrity import check_event

__all__ = ["EXIT", "ErasureCheck", "SessionVerdict", "check_checkpoint_chain", "verify_session_evidence"]

EXIT = {"intact": 0, "modified": 1, "truncated": 3, "deleted": 4, "inserted": 5, "unchecked": 6,
        "unknown": 7}
Event = Mapping[str, Any]
# (receipt, event_id) -> None when that erasure is accounted for, else (status, reason): "modified"
# for a tombstone no signed erasure lists, "unchecked" for one listed but not checkpointed yet.
ErasureCheck = Callable[[str, str], "tuple[str, str] | None"]


@dataclass
class SessionVerdict:
    status: str  # a key of EXIT
    seq: int | None = None
    events: int = 0
    complete: bool = False
    checkpointed: int = 0  # events covered by a signed head
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    def __str__(self) -> str:
        at = f" at seq {self.seq}" if self.seq is not None else ""
        head = {
            "intact": f"intact ({self.events} events, {'complete' if self.complete else 'open'})",
            "truncated": f"truncated after seq {self.seq}",
            "unchecked": f"not yet checkpointed ({self.events} events)",
            "unknown": "unknown: no events and no checkpoint name this session",
        }.get(self.status, f"{self.status}{at}")
        return "; ".join([head, *self.notes])

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "seq": self.seq, "events": self.events, "complete": self.complete,
                "checkpointed": self.checkpointed, "notes": self.notes, "text": str(self)}


def check_checkpoint_chain(records: Sequence[Event], keys: Keyring) -> tuple[list[Event], list[str]]:
    """The records with a valid signature, and what is wrong with the chain they form per partition."""
    valid, problems = [], []
    for r in records:
        if verify_signature(r, keys):
            valid.append(r)
        else:
            problems.append(f"checkpoint {r.get('checkpoint_id')} is not signed by a known key")
    by_part: dict[tuple[str, int], list[Event]] = {}
    for r in valid:
        by_part.setdefault((str(r["log"]), int(r["partition"])), []).append(r)
    for rs in by_part.values():
        rs.sort(key=lambda r: int(r["number"]))
        for before, after in itertools.pairwise(rs):
            if int(after["number"]) != int(before["number"]) + 1:
                problems.append(f"checkpoints {before['checkpoint_id']} .. {after['checkpoint_id']}: "
                                f"{int(after['number']) - int(before['number']) - 1} absent")
            elif after.get("prev") != checkpoint_hash(before):
                problems.append(f"checkpoint {after['checkpoint_id']} does not follow the one before")
    return valid, problems


def verify_session_evidence(session_id: str, events: Iterable[Event], checkpoints: Sequence[Event],
                            keys: Keyring, erasure_check: ErasureCheck) -> SessionVerdict:
    stored = sorted(events, key=lambda e: int(e["seq"]))
    valid, problems = check_checkpoint_chain(checkpoints, keys)
    heads = _heads(session_id, valid)
    verdict = _verify(stored, heads, valid, erasure_check)
    verdict.events = len(stored)
    if problems and verdict.status in ("intact", "unchecked"):
        verdict.status = "modified" if any("signed" in p for p in problems) else "deleted"
    verdict.notes = problems + verdict.notes
    return verdict


def _heads(session_id: str, valid: Sequence[Event]) -> list[tuple[int, int, str]]:
    """(checkpoint number, seq, hash) of every signed head of the session, oldest first."""
    out = []
    for r in valid:
        for s in r.get("sessions", ()):
            if s.get("session_id") == session_id:
                out.append((int(r["number"]), int(s["seq"]), str(s["hash"])))
    return sorted(out)


def _verify(stored: list[Event], heads: list[tuple[int, int, str]], valid: Sequence[Event],
            erasure_check: ErasureCheck) -> SessionVerdict:
    if not stored:
        return SessionVerdict("deleted" if heads else "unknown")
    bad = _first_bad_event(stored, erasure_check)  # an edit without re-chaining names its seq exactly
    if bad is not None:
        return bad
    if (copy := _duplicated(stored)) is not None:
        return copy
    notes = [f"seq {e['seq']} erased under receipt {e['erased'].get('receipt')}"
             for e in stored if isinstance(e.get("erased"), Mapping)]
    if not heads:
        return _unanchored(stored, valid, notes)
    return _anchored(stored, heads, valid, notes)


def _first_bad_event(stored: list[Event], erasure_check: ErasureCheck) -> SessionVerdict | None:
    """The first modified event; else the first erasure still waiting for its signature."""
    waiting = None
    for e in stored:
        reason = check_event(e)
        erased = e.get("erased")
        if reason is None and isinstance(erased, Mapping):
            found = erasure_check(str(erased.get("receipt")), str(e.get("event_id")))
            if found is not None and found[0] == "unchecked":
                waiting = waiting or SessionVerdict("unchecked", int(e["seq"]), notes=[found[1]])
            elif found is not None:
                reason = found[1]
        if reason is not None:
            return SessionVerdict("modified", int(e["seq"]), notes=[reason])
    return waiting


def _duplicated(stored: list[Event]) -> SessionVerdict | None:
    """An event stored twice (same id or same link, under another document id): the chain holds
    it once, so the second copy is an insertion that would count twice in every read."""
    ids: set[str] = set()
    links: set[str] = set()
    for e in stored:
        event_id, link = str(e.get("event_id")), str(e["integrity"]["hash"])
        if event_id in ids or link in links:
            return SessionVerdict("inserted", int(e["seq"]),
                                  notes=[f"seq {e['seq']} (event {event_id}) is stored more than once"])
        ids.add(event_id)
        links.add(link)
    return None


def _anchored(stored: list[Event], heads: list[tuple[int, int, str]], valid: Sequence[Event],
              notes: list[str]) -> SessionVerdict:
    """Walk back from the newest signed head; everything stored must be on that chain or after it."""
    by_hash = {str(e["integrity"]["hash"]): e for e in stored}
    _, head_seq, head = heads[-1]
    if head not in by_hash:
        return _head_absent(stored, heads, by_hash, head_seq, notes)
    chain = _walk(head, by_hash)
    if (gap := _gap(chain, stored)) is not None:
        return SessionVerdict("deleted", gap, notes=notes)
    on_chain = {str(e["integrity"]["hash"]) for e in chain}
    for _, seq, h in heads:  # every older signed head lies on the same chain
        if h not in on_chain:
            return SessionVerdict("modified", seq, notes=[*notes, "an older signed head is not on the chain"])
    after = [e for e in stored if str(e["integrity"]["hash"]) not in on_chain]
    extra = _after_head(after, head, by_hash, valid)
    if extra is not None:
        return SessionVerdict("inserted", int(extra["seq"]), notes=notes)
    verdict = SessionVerdict("unchecked" if after else "intact", checkpointed=len(chain), notes=notes)
    if after:
        verdict.notes.append(f"{len(after)} events after the last checkpoint")
    _completeness(verdict, [*chain, *after])
    return verdict


def _walk(head: str, by_hash: Mapping[str, Event]) -> list[Event]:
    """The stored events from the head back along ``prev_hash`` until the chain ends or breaks."""
    chain: list[Event] = []
    link: str | None = head
    seen: set[str] = set()
    while link is not None and link in by_hash and link not in seen:
        seen.add(link)
        chain.append(by_hash[link])
        link = by_hash[link]["integrity"].get("prev_hash")
    return chain


def _gap(chain: list[Event], stored: list[Event]) -> int | None:
    """The seq of an event the chain runs through but that is not stored, or None."""
    last = chain[-1]
    if last["integrity"].get("prev_hash") is None:
        return None
    below = int(last["seq"])
    present = {int(e["seq"]) for e in stored}
    return next((s for s in range(below - 1, -1, -1) if s not in present), below - 1)


def _head_absent(stored: list[Event], heads: list[tuple[int, int, str]], by_hash: Mapping[str, Event],
                 head_seq: int, notes: list[str]) -> SessionVerdict:
    """The newest signed head is not stored: cut off (truncated) or rewritten (modified)."""
    verified = {str(e["integrity"]["hash"]) for _, _, h in heads if h in by_hash for e in _walk(h, by_hash)}
    rooted = _reaching(by_hash, None)
    top = int(stored[-1]["seq"])
    if top < head_seq and all(str(e["integrity"]["hash"]) in verified | rooted for e in stored):
        return SessionVerdict("truncated", top, notes=notes)
    first = next((int(e["seq"]) for e in stored if str(e["integrity"]["hash"]) not in verified), head_seq)
    return SessionVerdict("modified", first, notes=[*notes, "the stored chain is not the signed one"])


def _reaching(by_hash: Mapping[str, Event], target: str | None) -> set[str]:
    """The stored links whose walk back along ``prev_hash`` arrives at ``target`` (None: the
    session's start). Each link is walked once (memoised), so a long session stays linear."""
    known: dict[str | None, bool] = {target: True}
    for start in by_hash:
        path: list[str] = []
        link: str | None = start
        while link not in known and link is not None and link in by_hash and link not in path:
            path.append(link)
            link = by_hash[link]["integrity"].get("prev_hash")
        value = known.get(link, False)
        known.update(dict.fromkeys(path, value))
    return {h for h, ok in known.items() if ok and h is not None and h in by_hash}


def _after_head(after: list[Event], head: str, by_hash: Mapping[str, Event],
                valid: Sequence[Event]) -> Event | None:
    """The first event that is neither on the signed chain nor a later link waiting for a checkpoint."""
    newest = _newest_numbers(valid)
    beyond = _reaching(by_hash, head)
    for e in after:
        if str(e["integrity"]["hash"]) not in beyond or _claims_closed(e, newest):
            return e
    return None


def _unanchored(stored: list[Event], valid: Sequence[Event], notes: list[str]) -> SessionVerdict:
    """No checkpoint names the session: fine only while its events wait for their first checkpoint."""
    newest = _newest_numbers(valid)
    rooted = _reaching({str(e["integrity"]["hash"]): e for e in stored}, None)
    for e in stored:
        if _claims_closed(e, newest) or str(e["integrity"]["hash"]) not in rooted:
            return SessionVerdict("inserted", int(e["seq"]), notes=notes)
    verdict = SessionVerdict("unchecked", notes=notes)
    _completeness(verdict, stored)
    return verdict


def _newest_numbers(valid: Sequence[Event]) -> dict[int, int]:
    newest: dict[int, int] = {}
    for r in valid:
        p = int(r["partition"])
        newest[p] = max(newest.get(p, -1), int(r["number"]))
    return newest


def _claims_closed(event: Event, newest: Mapping[int, int]) -> bool:
    """The event names a checkpoint that is already signed (which would have named it)."""
    integrity = event["integrity"]
    if "checkpoint" not in integrity:
        return False
    return int(integrity["checkpoint"]) <= newest.get(int(integrity.get("partition", -1)), -1)


def _completeness(verdict: SessionVerdict, events: list[Event]) -> None:
    seqs = sorted(int(e["seq"]) for e in events)
    ends = [e for e in events if e.get("kind") == "end"]
    if ends:
        final = int(ends[0]["seq"])
        verdict.complete = seqs == list(range(final + 1))
        if not verdict.complete:
            verdict.notes.append(f"closed at seq {final} but seqs {_ranges(seqs)} are stored")
    elif seqs != list(range(len(seqs))):
        verdict.notes.append(f"seqs {_ranges(seqs)} (gaps never reached the stream or were dead-lettered)")


def _ranges(seqs: list[int]) -> str:
    parts, start = [], None
    for i, s in enumerate(seqs):
        if start is None:
            start = s
        if i + 1 == len(seqs) or seqs[i + 1] != s + 1:
            parts.append(f"{start}" if start == s else f"{start}-{s}")
            start = None
    return ",".join(parts)
