"""The compliance records keep the forgotten user only as a keyed digest (the receipt's subject).

The access log (who read whose trail) and released legal holds are evidence that must outlive an
erasure, so they are pseudonymized rather than deleted: every value naming the user (as given or
in any stored form) becomes the subject digest. The signed copy of such an entry (an event of an
``access-*`` session) cannot be rewritten without breaking its chain: it becomes a tombstone under
the receipt, as the user's own events do, so ``verify --access-log`` accepts the rewritten entry.
A released hold's free-text reason loses every mention of the user too. An active hold still
names the user's stored form: it must keep covering their documents until released, and the
receipt says so.
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.sinks.compliance.families import sealed_indices
from agent_audit.sinks.compliance.inplace import erase_in_index
from agent_audit.sinks.compliance.store import holds_index
from agent_audit.sinks.queries import scan

__all__ = ["access_log_name", "active_holds_on", "erase_access_copies", "pseudonymize_access_log",
           "pseudonymize_released_holds"]


ID_SLICE = 5_000  # event ids per search and per erasure request


def access_log_name(prefix: str) -> str:
    # Imported here: sinks.access_log imports this package (its store), so not at module level.
    from agent_audit.sinks.access_log import access_log_index  # noqa: PLC0415

    return access_log_index(prefix)


def _mentions(names: list[str]) -> re.Pattern[str]:
    """Each form of the id as a whole token: in ``bob-10`` or ``xbob-1`` there is no ``bob-1``."""
    forms = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.@+-])(?:{forms})(?![\w@+-]|\.\w)")


def _replace(value: Any, mention: re.Pattern[str], digest: str) -> Any:
    if isinstance(value, str):
        return mention.sub(digest, value)
    if isinstance(value, dict):
        return {k: _replace(v, mention, digest) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, mention, digest) for v in value]
    return value


def _without(text: str, names: list[str], digest: str) -> str:
    """Free text (a hold's reason) with every mention of the user replaced by the digest."""
    return str(_replace(text, _mentions(names), digest))


def _naming_entries(es: Elasticsearch, index: str, names: list[str]) -> list[dict[str, Any]]:
    """Access-log entries whose parameters mention the user anywhere, also inside free text (a
    search for "bob-1 refund"): a full read of the log, which only erasures do."""
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    mention = _mentions(names)
    return [h for h in scan(es, index, {"match_all": {}})
            if _replace(h["_source"].get("params"), mention, "") != h["_source"].get("params")]


def pseudonymize_access_log(es: Elasticsearch, prefix: str, names: list[str], digest: str,
                            dry_run: bool = False) -> int:
    """Entries whose parameters name the user, rewritten with the digest; returns how many."""
    index = access_log_name(prefix)
    hits = _naming_entries(es, index, names)
    if hits and not dry_run:
        ops: list[dict[str, Any]] = []
        for hit in hits:
            src = hit["_source"]
            ops += [{"index": {"_index": index, "_id": hit["_id"]}},
                    {**src, "params": _replace(src["params"], _mentions(names), digest)}]
        es.bulk(operations=ops, refresh=True)
    return len(hits)


def erase_access_copies(es: Elasticsearch, prefix: str, names: list[str], receipt: str, at: str) -> int:
    """Tombstone the signed copies of the access-log entries naming the user (run before they are
    pseudonymized, which would stop them matching); returns how many copies were erased."""
    entries = _naming_entries(es, access_log_name(prefix), names)
    ids = [str(h["_source"].get("event_id", h["_id"])) for h in entries]
    if not ids:
        return 0
    pattern = f"{prefix}-events-*"
    es.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    sealed = sealed_indices(es, prefix)
    done = 0
    # In slices, and the indices holding them by aggregation, not by hits: a user named by more
    # entries than one search may return (10,000) still has every copy erased.
    for start in range(0, len(ids), ID_SLICE):
        query = {"ids": {"values": ids[start:start + ID_SLICE]}}
        answer = es.search(index=pattern, size=0, query=query, aggs={"at": {"terms": {"field": "_index",
                           "size": 10_000}}}, ignore_unavailable=True, allow_no_indices=True)
        buckets = answer.get("aggregations", {}).get("at", {}).get("buckets", [])
        for name in sorted(b["key"] for b in buckets):
            erased = erase_in_index(es, name, query, receipt, at, sealed=name in sealed)
            done += erased.tombstoned
    return done


def _user_holds(es: Elasticsearch, prefix: str, names: list[str], status: str) -> list[dict[str, Any]]:
    index = holds_index(prefix)
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    named = {"bool": {"should": [{"terms": {"value": names}}, {"terms": {"also": names}}],
                      "minimum_should_match": 1}}
    query = {"bool": {"filter": [{"term": {"scope": "user"}}, {"term": {"status": status}}, named]}}
    return list(scan(es, index, query))


def active_holds_on(es: Elasticsearch, prefix: str, names: list[str]) -> int:
    return len(_user_holds(es, prefix, names, "active"))


def pseudonymize_released_holds(es: Elasticsearch, prefix: str, names: list[str], digest: str,
                                dry_run: bool = False) -> int:
    hits = _user_holds(es, prefix, names, "released")
    if hits and not dry_run:
        for hit in hits:
            reason = _without(str(hit["_source"].get("reason", "")), names, digest)
            es.update(index=holds_index(prefix), id=hit["_id"], doc={"value": digest, "also": [],
                                                                    "reason": reason})
        es.indices.refresh(index=holds_index(prefix))
    return len(hits)
