"""The questions people ask of the audit trail, as plain functions over an Elasticsearch client."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch

from sinks.indices import events_alias

__all__ = ["count_searchable", "counts_by_kind", "session_timeline", "tool_usage"]


def count_searchable(es: Elasticsearch, index: str, query: dict[str, Any] | None = None) -> int:
    """Documents searchable now; 0 while the index does not exist or its shards are starting."""
    if not es.indices.exists_alias(name=index) and not es.indices.exists(index=index):
        return 0
    try:
        return int(es.count(index=index, query=query or {"match_all": {}})["count"])
    except ApiError as exc:
        if exc.meta.status == 503:  # a just-created index whose primary shard is not active yet
            return 0
        raise


def session_timeline(es: Elasticsearch, prefix: str, session_id: str,
                     page: int = 1000) -> list[dict[str, Any]]:
    """A session's events in ``seq`` order (the order the agent recorded them), all of them."""
    events: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        resp = es.search(index=events_alias(prefix), size=page, sort=[{"seq": "asc"}, {"event_id": "asc"}],
                         query={"term": {"session_id": session_id}}, search_after=after)
        hits = resp["hits"]["hits"]
        events += [hit["_source"] for hit in hits]
        if len(hits) < page:
            return events
        after = hits[-1]["sort"]


def counts_by_kind(es: Elasticsearch, prefix: str, query: dict[str, Any] | None = None) -> dict[str, int]:
    resp = es.search(index=events_alias(prefix), size=0, query=query or {"match_all": {}},
                     aggs={"kinds": {"terms": {"field": "kind", "size": 10}}})
    return {b["key"]: b["doc_count"] for b in resp["aggregations"]["kinds"]["buckets"]}


def tool_usage(es: Elasticsearch, prefix: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per tool: calls, errors, average and p95 duration (ms)."""
    base = {"term": {"kind": "tool_call"}}
    filters = [base, query] if query else [base]
    resp = es.search(index=events_alias(prefix), size=0, query={"bool": {"filter": filters}}, aggs={
        "tools": {"terms": {"field": "payload.tool_name", "size": 100}, "aggs": {
            "avg_ms": {"avg": {"field": "payload.duration_ms"}},
            "p95_ms": {"percentiles": {"field": "payload.duration_ms", "percents": [95]}},
            "errors": {"filter": {"term": {"payload.status": "error"}}},
        }},
    })
    return [{
        "tool": b["key"],
        "calls": b["doc_count"],
        "errors": b["errors"]["doc_count"],
        "avg_ms": b["avg_ms"]["value"],
        "p95_ms": next(iter(b["p95_ms"]["values"].values())),
    } for b in resp["aggregations"]["tools"]["buckets"]]
