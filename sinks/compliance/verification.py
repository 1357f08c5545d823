"""Tamper evidence, read side: a session's verdict from its stored events and the signed checkpoints.

Reads only: the events of the session (any number, streamed), the checkpoints of its partition from
the first that names it to the newest, and the erasure receipts named by tombstones. Verification
needs the public keys alone (``AUDIT_PUBLIC_KEYS``). ``sweep`` checks every session named by a
checkpoint closed in a time range, plus each partition's checkpoint chain there.

The checkpoints Elasticsearch holds can be deleted by whoever can write to it, together with the
newest events they sign: from Elasticsearch alone that truncation looks like a shorter session. A
copy kept elsewhere (``trusted``: a file written by ``checkpoints export``, or the stream's own
topic) fills in what the index lacks, so the events those records sign are missed.

Where the events come from is the one thing a tier changes (``EventSource``): Elasticsearch by
default, the archive's opened rows for ``agent-audit archive verify`` (``sinks.archive.verification``);
checkpoints, receipts and the verdict are this one code path for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from agent_audit.core.errors import ConfigError
from agent_audit.core.evidence.keys import keyring_from_settings
from agent_audit.core.evidence.signing import Keyring
from agent_audit.core.evidence.verdicts import (
    EXIT,
    SessionVerdict,
    check_checkpoint_chain,
    verify_session_evidence,
)
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.identifiers import redactor_for, stored_form
from agent_audit.sinks.compliance.signed_erasures import signing_sessions
from agent_audit.sinks.compliance.store import receipts_index
from agent_audit.sinks.indices import checkpoints_alias, events_alias
from agent_audit.sinks.queries import scan, settled

__all__ = ["AccessReport", "EventSource", "SigningSource", "SweepReport", "Verifier", "access_log_report",
           "read_export", "verify_session"]

# A session's stored events (any order) given every name it may be stored under.
EventSource = Callable[[list[str]], list[dict[str, Any]]]
# A receipt's signing sessions as stored, each with the event ids it lists (``signed_erasures``).
SigningSource = Callable[[str], dict[str, set[str]]]


class Verifier:
    """One reader of the trail's evidence: keyring, receipt cache, checkpoint queries."""

    def __init__(self, es: Elasticsearch, settings: Settings, keys: Keyring | None = None,
                 source: EventSource | None = None, trusted: list[dict[str, Any]] | None = None,
                 signing: SigningSource | None = None) -> None:
        self.es = es
        self.source = source
        self.signing = signing or partial(signing_sessions, es, settings.index_prefix)
        self.trusted = trusted or []
        self.settings = settings
        self.prefix = settings.index_prefix
        self.keys = keys if keys is not None else keyring_from_settings(settings)
        self._receipts: dict[str, bool] = {}
        self._signed: dict[str, tuple[set[str], set[str]]] = {}

    def receipt_known(self, receipt: str) -> bool:
        if receipt not in self._receipts:
            index = receipts_index(self.prefix)
            self._receipts[receipt] = bool(self.es.options(ignore_status=404).exists(index=index, id=receipt))
        return self._receipts[receipt]

    def erasure_check(self, receipt: str, event_id: str) -> tuple[str, str] | None:
        """A tombstone is accounted for when a stored receipt exists and an intact signing session of
        it lists the event's id (``signed_erasures``); listed only by one still open or not
        checkpointed yet: unchecked."""
        if not self.receipt_known(receipt):
            return "modified", "erased without a known receipt"
        signed, waiting = self._signed_lists(receipt)
        if event_id in signed:
            return None
        if event_id in waiting:
            return "unchecked", f"erased under receipt {receipt}, whose signed list is not checkpointed yet"
        return "modified", (f"erased under receipt {receipt}, but no signed erasure of it lists this event "
                            "(a forged erasure; or a late copy erased after forget ran: run forget again)")

    def _signed_lists(self, receipt: str) -> tuple[set[str], set[str]]:
        """The ids listed by the receipt's intact, complete signing sessions, and by the others that
        may still become so (intact but open, or not checkpointed yet)."""
        if receipt not in self._signed:
            signed: set[str] = set()
            waiting: set[str] = set()
            for session, ids in self.signing(receipt).items():
                verdict = self.session(session)
                if verdict.status == "intact" and verdict.complete:
                    signed |= ids
                elif verdict.status in ("intact", "unchecked"):
                    waiting |= ids
            self._signed[receipt] = signed, waiting
        return self._signed[receipt]

    def events(self, names: list[str]) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
        """The session's stored events, and (seq, index) of those filed before their own day (an
        index the sink never writes them to; the archive has no such place)."""
        if self.source is not None:
            return self.source(names), []
        query = {"bool": {"filter": [{"terms": {"session_id": names}}]}}
        with closing(scan(self.es, events_alias(self.prefix), query, [{"seq": "asc"}])) as hits:
            found = [(hit["_index"], hit["_source"]) for hit in hits]
        misplaced = [(int(e["seq"]), index) for index, e in found if _misplaced(self.prefix, index, e)]
        return [e for _, e in found], misplaced

    def checkpoints(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        with closing(scan(self.es, checkpoints_alias(self.prefix), query, [{"number": "asc"}])) as hits:
            return [hit["_source"] for hit in hits]

    def session(self, session_id: str) -> SessionVerdict:
        names = stored_form(session_id, redactor_for(self.settings)).lookup_values()
        events, misplaced = self.events(names)
        wanted = set(names)

        def names_it(r: dict[str, Any]) -> bool:
            return any(s.get("session_id") in wanted for s in r.get("sessions", ()))

        naming = self._with_trusted(self.checkpoints({"terms": {"sessions.session_id": names}}), names_it)
        stored_name = str(events[0]["session_id"]) if events else _named(naming, names)
        verdict = verify_session_evidence(stored_name, events, self._context(naming, events), self.keys,
                                          self.erasure_check)
        if misplaced and verdict.status in ("intact", "unchecked"):
            seq, index = min(misplaced)
            verdict.status, verdict.seq = "modified", seq
            verdict.notes.append(f"seq {seq} is filed in {index}, before the day of its own timestamp "
                                 "(moved between daily indices)")
        return verdict

    def _context(self, naming: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each partition's checkpoints from the first naming the session to the newest (or only
        the newest, for a partition whose checkpoints name none of the session's events yet)."""
        first: dict[tuple[str, int], int | None] = {}
        for r in naming:
            key, number = (str(r["log"]), int(r["partition"])), int(r["number"])
            held = first.get(key)
            first[key] = number if held is None else min(held, number)
        for e in events:
            integrity = e.get("integrity") or {}
            if "partition" in integrity:
                first.setdefault((self.settings.topics.raw, int(integrity["partition"])), None)
        out: list[dict[str, Any]] = []
        for (log, partition), start in first.items():
            where: list[dict[str, Any]] = [{"term": {"log": log}}, {"term": {"partition": partition}}]

            def same(r: dict[str, Any], log: str = log, partition: int = partition, since: int = start or 0
                     ) -> bool:
                return (str(r.get("log")), int(r.get("partition", -1))) == (log, partition) and \
                    int(r.get("number", -1)) >= since

            if start is None:
                alias = checkpoints_alias(self.prefix)
                hits = settled(self.es, alias, partial(
                    self.es.search, index=alias, size=1, sort=[{"number": "desc"}],
                    query={"bool": {"filter": where}}, ignore_unavailable=True))
                found = self._with_trusted([h["_source"] for h in hits["hits"]["hits"]], same)
                out += found[-1:]  # the newest of both copies
            else:
                newer = {"range": {"number": {"gte": start}}}
                out += self._with_trusted(self.checkpoints({"bool": {"filter": [*where, newer]}}), same)
        return out

    def _with_trusted(self, found: list[dict[str, Any]],
                      keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The index's records and the trusted copy's that ``keep`` selects, one per (log, partition,
        number), the copy's where both have one; ordered by number."""
        if not self.trusted:
            return found
        merged = {_number(r): r for r in found}
        merged.update((_number(r), r) for r in self.trusted if keep(r))
        return [merged[k] for k in sorted(merged)]

    def sweep(self, since: str | None, until: str | None) -> SweepReport:
        window: dict[str, str] = {k: v for k, v in (("gte", since), ("lte", until)) if v}
        query = {"range": {"closed_at": window}} if window else {"match_all": {}}
        within = partial(_closed_within, since=since, until=until)
        records = self._with_trusted(self.checkpoints(query), within)
        _, problems = check_checkpoint_chain(records, self.keys)
        report = SweepReport(since, until, len(records), problems)
        for session in sorted({s["session_id"] for r in records for s in r.get("sessions", ())}):
            report.verdicts[session] = self.session(session)
        return report


@dataclass
class AccessReport:
    """The access log as indexed against its signed copies in the events."""

    entries: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (status, what)
    unsigned: list[str] = field(default_factory=list)  # recent entries whose copy is still on its way
    verdicts: dict[str, SessionVerdict] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        codes = [EXIT[status] for status, _ in self.problems]
        codes += [v.exit_code for v in self.verdicts.values() if v.status != "unchecked"]
        return max([0, *codes])

    def lines(self) -> Iterator[str]:
        bad = [s for s, v in self.verdicts.items() if v.status not in ("intact", "unchecked")]
        yield f"access log: {self.entries} entries in {len(self.verdicts)} signed sessions"
        yield from (f"  {status}: {what}" for status, what in self.problems)
        yield from (f"  {s}: {self.verdicts[s]}" for s in bad)
        yield from (f"  not signed yet: entry {what}" for what in self.unsigned)
        if not self.problems and not bad:
            yield "  every entry matches its signed copy" if not self.unsigned else \
                f"  every signed entry matches its copy; {len(self.unsigned)} still on their way"


# How long an entry may wait for its signed copy (raw topic, stream, sink) before its absence counts
# as an insertion: the entry is indexed at once, its copy a pipeline's lag later.
SIGNING_GRACE = timedelta(minutes=15)


def access_log_report(verifier: Verifier, now: datetime | None = None) -> AccessReport:
    """Each entry must equal the event the stream signed for it; each signed one must be indexed.
    An entry without a copy that was written within ``SIGNING_GRACE`` (not in the future) is
    reported as not signed yet, like an unchecked session: not a failure, not a pass."""
    # Imported here: the access log imports the compliance package, which imports this module.
    from agent_audit.sinks.access_log import ACCESS_SESSION_PREFIX, access_log_index, as_event  # noqa: PLC0415

    es, redactor = verifier.es, redactor_for(verifier.settings)
    with closing(scan(es, access_log_index(verifier.prefix), {"match_all": {}})) as hits:
        entries = {h["_source"].get("event_id", h["_id"]): h["_source"] for h in hits}
    query = {"prefix": {"session_id": ACCESS_SESSION_PREFIX}}
    with closing(scan(es, events_alias(verifier.prefix), query)) as hits:
        signed = {h["_source"]["event_id"]: h["_source"] for h in hits}
    report = AccessReport(len(entries))
    for event_id, entry in sorted(entries.items()):
        copy = signed.get(event_id)
        if copy is None:
            if _recent(entry, now or datetime.now(UTC)):
                report.unsigned.append(f"{event_id} (written {entry.get('timestamp')})")
            else:
                report.problems.append(("inserted", f"entry {event_id} has no signed copy"))
        elif isinstance(copy.get("erased"), dict):
            continue  # pseudonymized by an erasure; its session's verdict checks the receipt
        elif _comparable(redactor.redact_event(as_event(entry))[0]) != _comparable(copy):
            what = f"entry {event_id} ({entry.get('query')}) differs from its signed copy"
            report.problems.append(("modified", what))
    report.problems += [("deleted", f"entry {i} ({e['payload'].get('content')}) is gone from the index")
                        for i, e in sorted(signed.items()) if i not in entries]
    for session in sorted({str(e["session_id"]) for e in signed.values()}):
        report.verdicts[session] = verifier.session(session)
    return report


def _recent(entry: dict[str, Any], now: datetime) -> bool:
    when = _instant(str(entry.get("timestamp", "")))
    return when is not None and now - SIGNING_GRACE <= when <= now + timedelta(minutes=1)


def read_export(path: Path) -> list[dict[str, Any]]:
    """The records of a ``checkpoints export`` file (one JSON object per line)."""
    records: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n}: not a checkpoint record ({exc})") from None
            if not isinstance(record, dict) or record.get("type") != "checkpoint":
                raise ConfigError(f"{path}:{n}: not a checkpoint record")
            records.append(record)
    return records


def _misplaced(prefix: str, index: str, event: dict[str, Any]) -> bool:
    """The sink files an event under the day its timestamp is written with (the archive's restore:
    its UTC day), or a later one (a late event whose day was sealed goes to the day it arrived):
    never an earlier day, never outside the daily family."""
    family = f"{prefix}-events-"
    text = str(event.get("timestamp", ""))
    days = [text[:10].replace("-", ".")]
    if (when := _instant(text)) is not None:
        days.append(when.astimezone(UTC).strftime("%Y.%m.%d"))
    return not index.startswith(family) or index[len(family):] < min(days)  # YYYY.MM.DD sorts as text


def _number(record: dict[str, Any]) -> tuple[str, int, int]:
    return str(record.get("log")), int(record.get("partition", -1)), int(record.get("number", -1))


def _closed_within(record: dict[str, Any], since: str | None, until: str | None) -> bool:
    """``closed_at`` in the sweep's range, compared as instants (a bare date is its midnight UTC)."""
    closed = _instant(str(record.get("closed_at", "")))
    return closed is not None and (not since or closed >= (_instant(since) or closed)) and \
        (not until or closed <= (_instant(until) or closed))


def _instant(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _comparable(event: dict[str, Any]) -> tuple[Any, ...]:
    when = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
    return (event["session_id"], event["seq"], event["user_id"], when, event["payload"])


@dataclass
class SweepReport:
    since: str | None
    until: str | None
    checkpoints: int
    chain_problems: list[str]
    verdicts: dict[str, SessionVerdict] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        codes = [v.exit_code for v in self.verdicts.values() if v.status != "unchecked"]
        return max([*codes, 1 if self.chain_problems else 0])

    def lines(self) -> Iterator[str]:
        counts: dict[str, int] = {}
        for v in self.verdicts.values():
            counts[v.status] = counts.get(v.status, 0) + 1
        yield f"range: {self.since or 'start'} .. {self.until or 'now'}"
        yield f"checkpoints: {self.checkpoints} ({'chain intact' if not self.chain_problems else 'PROBLEMS'})"
        yield from (f"  {p}" for p in self.chain_problems)
        yield f"sessions: {len(self.verdicts)} " + " ".join(f"{k}={n}" for k, n in sorted(counts.items()))
        for session, v in sorted(self.verdicts.items()):
            if v.status != "intact" or v.notes:
                yield f"  {session}: {v}"


def _named(records: list[dict[str, Any]], names: list[str]) -> str:
    for r in records:
        for s in r.get("sessions", ()):
            if s["session_id"] in names:
                return str(s["session_id"])
    return names[0]


def verify_session(es: Elasticsearch, settings: Settings, session_id: str) -> SessionVerdict:
    return Verifier(es, settings).session(session_id)
