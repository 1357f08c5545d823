"""Retention: drop daily indices older than N days per family; seal closed ones read-only.

The day comes from the index name (``{prefix}-{family}-YYYY.MM.DD``), so it is the day of the
records in it, not when the index was created. An index's age is ``today - day`` in whole days; it
expires when its age exceeds its family's limit.

Legal holds win over retention: an expired index holding documents of a held session or user is not
deleted whole; its other documents are deleted and it is kept (and reported as pruned) until the
hold is released. Sealing (``index.blocks.write: true``) comes a configurable number of days after
the day closed, so late events still land; erasure and pruning reopen a sealed index for the time
they need. Events that come even later are stored once in today's index, their timestamp unchanged
(``sinks.late``): sealing never sends a valid event to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from elasticsearch import Elasticsearch

from agent_audit.core.errors import ConfigError
from agent_audit.sinks.compliance.deletion import count_by_index, delete_matching
from agent_audit.sinks.compliance.families import DailyIndex, daily_indices, sealed_indices
from agent_audit.sinks.compliance.holds import Hold, held_query
from agent_audit.sinks.compliance.receipts import Receipt, per_index, store_receipt
from agent_audit.sinks.compliance.store import utc_now

__all__ = ["RetentionAction", "RetentionPolicy", "RetentionRun", "apply_retention", "due_for_seal",
           "expired", "seal"]


@dataclass(frozen=True)
class RetentionPolicy:
    default_days: int = 90
    family_days: Mapping[str, int] = field(default_factory=dict)

    def days_for(self, family: str) -> int:
        return self.family_days.get(family, self.default_days)

    @classmethod
    def parse(cls, default_days: int = 90, spec: str | None = None) -> RetentionPolicy:
        """``spec`` like ``events=90,metrics=30``; a malformed one is a ``ConfigError``."""
        if default_days < 1:
            raise ConfigError(f"retention days must be at least 1, got {default_days}")
        families: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, sep, days = part.partition("=")
            if not sep or not name.strip() or not days.strip().isdigit() or int(days) < 1:
                raise ConfigError(f"bad retention entry {part!r}: expected family=days, days >= 1")
            families[name.strip()] = int(days)
        return cls(default_days, families)


@dataclass(frozen=True)
class RetentionAction:
    index: str
    family: str
    day: str
    age_days: int
    action: str  # deleted | pruned | would delete | would prune
    documents_removed: int
    documents_held: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _today() -> date:
    return datetime.now(UTC).date()


def expired(indices: Iterable[DailyIndex], policy: RetentionPolicy, today: date) -> list[DailyIndex]:
    return [d for d in indices if d.age_days(today) > policy.days_for(d.family)]


def due_for_seal(indices: Iterable[DailyIndex], after_days: int, today: date,
                 sealed: Iterable[str] = ()) -> list[DailyIndex]:
    done = set(sealed)
    return [d for d in indices if d.age_days(today) > after_days and d.name not in done]


@dataclass(frozen=True)
class RetentionRun:
    actions: list[RetentionAction]
    receipt: Receipt | None  # stored when something was removed (never on a dry run)

    def to_json(self) -> dict[str, object]:
        return {"actions": [a.to_json() for a in self.actions],
                "receipt_id": self.receipt.receipt_id if self.receipt else None}


def apply_retention(es: Elasticsearch, prefix: str, policy: RetentionPolicy, holds: Sequence[Hold],
                    actor: str, today: date | None = None, dry_run: bool = False) -> RetentionRun:
    """Delete (or prune, under a hold) every expired daily index; what was done goes into a receipt."""
    started, today = utc_now(), today or _today()
    indices = daily_indices(es, prefix)
    old = expired(indices, policy, today)
    if not old:
        return RetentionRun([], None)
    held_q = held_query(holds)
    held = count_by_index(es, prefix, held_q, (d.name for d in old)) if held_q else {}
    sealed = sealed_indices(es, prefix)
    actions = [_retire(es, d, held.get(d.name, 0), held_q, today, dry_run, d.name in sealed) for d in old]
    if dry_run:
        return RetentionRun(actions, None)
    receipt = Receipt(
        action="retention", requested_by=actor, started_at=started, finished_at=utc_now(),
        families_checked=sorted({d.family for d in indices}), indices_checked=len(indices),
        removed=per_index({a.index: a.documents_removed for a in actions}),
        kept_under_hold=per_index({a.index: a.documents_held for a in actions}),
        indices_deleted=[a.index for a in actions if a.action == "deleted"],
        notes=[f"limits in days: default {policy.default_days}, per family {dict(policy.family_days)}"])
    store_receipt(es, prefix, receipt)
    return RetentionRun(actions, receipt)


def _retire(es: Elasticsearch, d: DailyIndex, held: int, held_q: dict[str, object] | None, today: date,
            dry_run: bool, sealed: bool) -> RetentionAction:
    def action(verb: str, removed: int) -> RetentionAction:
        return RetentionAction(d.name, d.family, d.day.isoformat(), d.age_days(today), verb, removed, held)

    if not held or held_q is None:
        total = int(es.count(index=d.name)["count"])
        if dry_run:
            return action("would delete", total)
        es.indices.delete(index=d.name)
        return action("deleted", total)
    not_held = {"bool": {"must_not": [held_q]}}
    if dry_run:
        return action("would prune", int(es.count(index=d.name, query=not_held)["count"]))
    return action("pruned", delete_matching(es, d.name, not_held, sealed=sealed))


def seal(es: Elasticsearch, prefix: str, after_days: int = 2, today: date | None = None,
         dry_run: bool = False) -> list[str]:
    """Make daily indices older than ``after_days`` read-only; returns the ones sealed now.

    With 0, every closed day is sealed (today's index never is: it still takes writes)."""
    if after_days < 0:
        raise ConfigError(f"seal after 0 days or more, got {after_days}")
    due = due_for_seal(daily_indices(es, prefix), after_days, today or _today(), sealed_indices(es, prefix))
    names = [d.name for d in due]
    if names and not dry_run:
        for name in names:  # one at a time: a list of names could overflow the request line
            es.indices.put_settings(index=name, settings={"index.blocks.write": True})
    return names
