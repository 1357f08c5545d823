"""The compliance records keep the forgotten user only as a keyed digest (the receipt's subject).

The access log (who read whose trail) and released legal holds are evidence that must outlive an
erasure, so they are pseudonymized rather than deleted: every value naming the user (as given or
in any stored form) becomes the subject digest. An active hold still names the user's stored form:
it must keep covering their documents until released, and the receipt says so.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.sinks.compliance.store import holds_index
from agent_audit.sinks.queries import scan

__all__ = ["access_log_name", "active_holds_on", "pseudonymize_access_log", "pseudonymize_released_holds"]


def access_log_name(prefix: str) -> str:
    # Imported here: sinks.access_log imports this package (its store), so not at module level.
    from agent_audit.sinks.access_log import access_log_index  # noqa: PLC0415

    return access_log_index(prefix)


def _replace(value: Any, names: frozenset[str], digest: str) -> Any:
    if isinstance(value, str):
        return digest if value in names else value
    if isinstance(value, dict):
        return {k: _replace(v, names, digest) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, names, digest) for v in value]
    return value


def pseudonymize_access_log(es: Elasticsearch, prefix: str, names: list[str], digest: str,
                            dry_run: bool = False) -> int:
    """Entries whose parameters name the user, rewritten with the digest; returns how many."""
    index = access_log_name(prefix)
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    query = {"terms": {"params": names}}  # a flattened field: any leaf value matches
    hits = list(scan(es, index, query))
    if hits and not dry_run:
        ops: list[dict[str, Any]] = []
        for hit in hits:
            src = hit["_source"]
            ops += [{"index": {"_index": index, "_id": hit["_id"]}},
                    {**src, "params": _replace(src["params"], frozenset(names), digest)}]
        es.bulk(operations=ops, refresh=True)
    return len(hits)


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
            es.update(index=holds_index(prefix), id=hit["_id"], doc={"value": digest, "also": []})
        es.indices.refresh(index=holds_index(prefix))
    return len(hits)
