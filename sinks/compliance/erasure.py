"""The right to erasure: a user's data becomes unreadable in every copy, and the receipt says so per store.

In order, each step safe to repeat:
1. A ``running`` receipt is stored (a crashed run resumes under it; tombstones name a receipt
   that exists).
2. The user's data keys are destroyed (every form of the id under every redaction-key version):
   from then on every sealed copy on ``agent.events`` and the DLQ is unreadable, and the sink turns
   late copies into tombstones. Forget then waits out the workers' key cache, so nothing decrypted
   with a cached key is indexed after the next step.
3. The raw topic: every record the stream has processed is deleted (the rest expires).
4. The archive: its sealed rows are already shredded by step 2; rows of the unsealed layout are
   rewritten as tombstones (``archive_store``), held ones kept.
5. Elasticsearch: in every daily index (sealed ones reopened, closed ones opened), the user's events
   become tombstones (sessions stay verifiable) and other documents are deleted; documents under an
   active legal hold are kept. The access log and released holds keep the user only as a keyed digest.
6. The ids of every event erased under the subject's receipts and not signed yet are published for
   the stream to sign (``signed_erasures``): ``verify`` accepts a tombstone only when a signed erasure
   lists it, so an insider cannot pass off a blanked event under a genuine receipt.
7. The receipt replaces the running one: every store with its status; ``complete`` only when every
   store is done, else ``pending`` with the date (the raw topic's expiry), or without one (a hold).

``dry_run`` changes nothing and lists what would go.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from agent_audit.core.datakeys import DataKeys, KeyRecord
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.archive_store import archive_store
from agent_audit.sinks.compliance.deletion import count_by_index
from agent_audit.sinks.compliance.families import daily_indices, indices_with_field, sealed_indices
from agent_audit.sinks.compliance.holds import HoldStore, held_query
from agent_audit.sinks.compliance.identifiers import (
    identifier_query,
    redactor_for,
    stored_form,
    subject_digest,
)
from agent_audit.sinks.compliance.inplace import closed_indices, erase_in_index, opened, unerased
from agent_audit.sinks.compliance.pseudonyms import (
    access_log_name,
    active_holds_on,
    erase_access_copies,
    pseudonymize_access_log,
    pseudonymize_released_holds,
)
from agent_audit.sinks.compliance.rawtopic import truncate_processed_raw
from agent_audit.sinks.compliance.reach import kafka_stores, spool_store
from agent_audit.sinks.compliance.receipts import Receipt, per_index, store_receipt
from agent_audit.sinks.compliance.signed_erasures import ERASURE_SESSION_PREFIX, Publish, sign_erasures
from agent_audit.sinks.compliance.store import holds_index, receipts_index, utc_now
from agent_audit.sinks.keystore import ElasticKeyStore, build_data_keys, keys_index
from agent_audit.sinks.queries import scan

__all__ = ["forget"]

Progress = Callable[[str], None]
_MARGIN_S = 5  # beyond the key cache: a bulk request the sink had in flight when its cache expired


class _Run:
    """One forget: the subject in every stored form, the keys, the receipt id, what was done."""

    def __init__(self, es: Elasticsearch, settings: Settings, user_id: str, keys: DataKeys | None,
                 progress: Progress | None) -> None:
        self.es, self.settings, self.prefix = es, settings, settings.index_prefix
        self.form = stored_form(user_id, redactor_for(settings))
        self.names = self.form.lookup_values()
        self.digest = subject_digest(user_id, settings)
        self.keys = keys or build_data_keys(settings, es)
        self.subjects = sorted({self.keys.subject(n) for n in self.names})
        self.say = progress or (lambda _msg: None)
        self.user_q = identifier_query("user_id", self.names)
        self.holds = HoldStore(es, self.prefix, redactor_for(settings)).list()
        self.held_q = held_query(self.holds)
        self.erase_q = {"bool": {"filter": [self.user_q], "must_not": [self.held_q] if self.held_q else []}}

    def candidates(self) -> set[str]:
        return {d.name for d in daily_indices(self.es, self.prefix)} & indices_with_field(
            self.es, self.prefix, "user_id")

    def counts(self, names: set[str]) -> tuple[dict[str, int], dict[str, int]]:
        """Documents to erase, and documents kept under a hold, per index."""
        kept = (count_by_index(self.es, self.prefix, {"bool": {"filter": [self.user_q, self.held_q]}}, names)
                if self.held_q else {})
        return count_by_index(self.es, self.prefix, unerased(self.erase_q), names), kept


def forget(es: Elasticsearch, settings: Settings, user_id: str, actor: str, *, dry_run: bool = False,
           progress: Progress | None = None, keys: DataKeys | None = None,
           archive: Any | None = None, publish: Publish | None = None) -> Receipt | dict[str, Any]:
    """Erase ``user_id`` everywhere; store and return the receipt (``dry_run``: what would go).
    ``archive``: (ArchiveSettings, store) of the cold tier, default the one configured in the env;
    ``publish``: to the raw topic, for the stream to sign the erased ids (default: Kafka, unless
    integrity is off)."""
    run = _Run(es, settings, user_id, keys, progress)
    if dry_run:
        plan = _plan(run)
        plan["archive"] = archive_store(settings, run.keys, run.names, run.holds, "(dry run)",
                                        datetime.now(UTC), utc_now(), dry_run=True, archive=archive)
        return plan
    receipt_id, started = _resume(run) or (uuid.uuid4().hex, utc_now())
    _store(run, receipt_id, started, actor, running=True)
    destroyed_at = _destroy_keys(run, receipt_id)
    _wait_for_caches(run, destroyed_at)
    removed, kept, stores = _erase_indices(run, receipt_id)
    stores += _records(run, receipt_id)
    stores.append({"store": keys_index(run.prefix), "kind": "elasticsearch", "status": "erased",
                   "documents": len(run.subjects), "detail": "the user's data keys destroyed (tombstones "
                   "keep only when and by which receipt); overwritten versions expunged"})
    archived: set[str] = set()
    stores.append(archive_store(settings, run.keys, run.names, run.holds, receipt_id, destroyed_at, utc_now(),
                                archive=archive, erased_ids=archived))
    run.say("archive: sealed rows shredded with the keys, rows of the unsealed layout rewritten")
    raw = truncate_processed_raw(settings)
    stores += [*kafka_stores(settings, destroyed_at, len(run.subjects), raw), spool_store()]
    signed = _sign(run, receipt_id, actor, publish, archived)  # after the raw topic: no data of the user
    return _store(run, receipt_id, started, actor, running=False, removed=removed, kept=kept, stores=stores,
                  signed=signed)


def _sign(run: _Run, receipt_id: str, actor: str, publish: Publish | None, archived: set[str]) -> int | None:
    """Publish the erased ids not signed yet, under this receipt and the subject's earlier ones."""
    if publish is None and not run.settings.integrity:
        return None  # development without integrity: nothing signs anything
    from agent_audit.sinks.access_log import kafka_publisher  # noqa: PLC0415 - it imports this package

    receipts = {receipt_id, *_receipts_of(run)}
    send = publish or kafka_publisher(run.settings)
    count = sign_erasures(run.es, run.prefix, sorted(receipts), actor, send, also={receipt_id: archived})
    run.say(f"published {count} erased event id(s) for the stream to sign")
    return count


def _receipts_of(run: _Run) -> list[str]:
    index = receipts_index(run.prefix)
    if not run.es.indices.exists(index=index):
        return []
    query = {"bool": {"filter": [{"term": {"subject_digest": run.digest}}, {"term": {"action": "erasure"}}]}}
    with closing(scan(run.es, index, query)) as hits:
        return [str(h["_id"]) for h in hits]


def _store(run: _Run, receipt_id: str, started: str, actor: str, running: bool,
           removed: dict[str, int] | None = None, kept: dict[str, int] | None = None,
           stores: list[dict[str, Any]] | None = None, signed: int | None = None) -> Receipt:
    notes = []
    if not run.form.specific:
        notes.append(f"user ids like this one were stored as the shared placeholder {run.form.stored} before "
                     "ids were kept as keyed tokens: such documents cannot be attributed to this user and "
                     "were left alone")
    if kept:
        notes.append("documents under an active legal hold were kept; run forget again once it is released")
    if signed is not None:
        notes.append(f"{signed} erased event id(s) published for the stream to sign (sessions "
                     f"{ERASURE_SESSION_PREFIX}<receipt>-*): verify accepts a tombstone only when a signed "
                     "erasure lists it")
    receipt = Receipt(
        action="erasure", requested_by=actor, started_at=started, finished_at=utc_now(),
        families_checked=sorted({d.family for d in daily_indices(run.es, run.prefix)}),
        indices_checked=len(run.candidates()), removed=per_index(removed or {}),
        kept_under_hold=per_index(kept or {}), subject_digest=run.digest,
        subject_stored_form=run.form.stored if run.form.redacted else None, notes=notes,
        receipt_id=receipt_id, stores=stores or [], running=running)
    store_receipt(run.es, run.prefix, receipt, replace=True)
    return receipt


def _resume(run: _Run) -> tuple[str, str] | None:
    """The receipt of an earlier run of this forget that did not finish, if any."""
    index = receipts_index(run.prefix)
    if not run.es.indices.exists(index=index):
        return None
    resp = run.es.search(index=index, size=1, query={"bool": {"filter": [
        {"term": {"subject_digest": run.digest}}, {"term": {"running": True}}]}})
    hits = resp["hits"]["hits"]
    if not hits:
        return None
    run.say(f"resuming the unfinished erasure {hits[0]['_id']}")
    return hits[0]["_id"], hits[0]["_source"]["started_at"]


def _destroy_keys(run: _Run, receipt_id: str) -> datetime:
    """Destroy every data key of the subject; returns when (the earliest, if already destroyed)."""
    now = utc_now()
    when = []
    for subject in run.subjects:
        current = run.keys.store.get(subject)
        if current is not None and current.destroyed and current.destroyed_at:
            when.append(current.destroyed_at)
            continue
        generation = current.generation if current else 0
        stored = run.keys.store.put(KeyRecord(subject, generation, None, now, receipt_id))
        run.keys.forget_cached(subject)
        when.append(stored.destroyed_at or now)
    if isinstance(run.keys.store, ElasticKeyStore):
        run.keys.store.expunge()
    run.say(f"destroyed {len(run.subjects)} data key(s): every sealed copy on Kafka is unreadable")
    return min(datetime.fromisoformat(w.replace("Z", "+00:00")) for w in when)


def _wait_for_caches(run: _Run, destroyed_at: datetime) -> None:
    cache_s = run.settings.key_cache_s
    wait = destroyed_at.timestamp() + cache_s + (_MARGIN_S if cache_s else 0) - time.time()
    if wait > 0:
        run.say(f"waiting {wait:.0f}s for the workers' key caches to expire")
        time.sleep(wait)


def _erase_indices(run: _Run, receipt_id: str) -> tuple[dict[str, int], dict[str, int], list[dict[str, Any]]]:
    at, es = utc_now(), run.es
    to_erase, kept = run.counts(run.candidates())
    sealed = sealed_indices(es, run.prefix)
    removed: dict[str, int] = {}
    for n, name in enumerate(sorted(to_erase), start=1):
        run.say(f"[{n}/{len(to_erase)}] {name}: {to_erase[name]} document(s)")
        done = erase_in_index(es, name, run.erase_q, receipt_id, at, sealed=name in sealed, progress=run.say)
        removed[name] = done.tombstoned + done.deleted
    stores = [{"store": name, "kind": "elasticsearch", "status": "erased", "documents": count}
              for name, count in sorted(removed.items())]
    stores += [{"store": name, "kind": "elasticsearch", "status": "held", "documents": count,
                "detail": "kept under an active legal hold; run forget again once it is released"}
               for name, count in sorted(kept.items()) if count]
    for name in closed_indices(es, run.prefix):
        stores.append(_erase_closed(run, name, receipt_id, at, removed, kept))
    stores.append({"store": f"{run.prefix}-* daily indices", "kind": "elasticsearch",
                   "status": "erased" if not kept else "held", "documents": sum(removed.values()),
                   "detail": "every open, sealed and closed daily index checked; events became "
                             "tombstones, other documents were deleted"})
    return removed, kept, stores


def _erase_closed(run: _Run, name: str, receipt_id: str, at: str, removed: dict[str, int],
                  kept: dict[str, int]) -> dict[str, Any]:
    try:
        with opened(run.es, name):
            to_erase, held = run.counts({name})
            done = (erase_in_index(run.es, name, run.erase_q, receipt_id, at, sealed=name in sealed_indices(
                run.es, run.prefix)) if to_erase else None)
    except ApiError as exc:
        return {"store": name, "kind": "elasticsearch", "status": "pending",
                "detail": f"closed index could not be opened (http {exc.meta.status}): run forget again"}
    count = done.tombstoned + done.deleted if done else 0
    removed[name] = count
    kept.update(held)
    return {"store": name, "kind": "elasticsearch", "status": "held" if held.get(name) else "erased",
            "documents": count, "detail": "closed index: opened for the erasure and closed again"}


def _records(run: _Run, receipt_id: str) -> list[dict[str, Any]]:
    copies = erase_access_copies(run.es, run.prefix, run.names, receipt_id, utc_now())
    logged = pseudonymize_access_log(run.es, run.prefix, run.names, run.digest)
    released = pseudonymize_released_holds(run.es, run.prefix, run.names, run.digest)
    active = active_holds_on(run.es, run.prefix, run.names)
    return [
        {"store": access_log_name(run.prefix), "kind": "elasticsearch", "status": "pseudonymized",
         "documents": logged, "detail": "reads of this user's trail now name them by the subject digest; "
                                        f"{copies} signed copies of those entries erased under the receipt"},
        {"store": holds_index(run.prefix), "kind": "elasticsearch",
         "status": "held" if active else "pseudonymized", "documents": released + active,
         "detail": (f"{active} active hold(s) still name the user: kept until released" if active
                    else "released holds now name the user by the subject digest")},
    ]


def _plan(run: _Run) -> dict[str, Any]:
    to_erase, kept = run.counts(run.candidates())
    existing = [r for r in (run.keys.store.get(s) for s in run.subjects) if r is not None]
    return {
        "dry_run": True, "subject_digest": run.digest, "looked_up_as": len(run.names),
        "would_erase": per_index(to_erase), "kept_under_hold": per_index(kept),
        "closed_indices_to_open": closed_indices(run.es, run.prefix),
        "data_keys_to_destroy": sum(1 for r in existing if not r.destroyed),
        "data_keys_already_destroyed": sum(1 for r in existing if r.destroyed),
        "access_log_entries_to_pseudonymize": pseudonymize_access_log(
            run.es, run.prefix, run.names, run.digest, dry_run=True),
        "released_holds_to_pseudonymize": pseudonymize_released_holds(
            run.es, run.prefix, run.names, run.digest, dry_run=True),
        "active_holds": active_holds_on(run.es, run.prefix, run.names),
        "planned_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
