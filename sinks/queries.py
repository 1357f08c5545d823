"""The questions people ask of the audit trail, as plain functions over an Elasticsearch client.

Listings that can be long (a session's timeline, a user's events) page with a point in time and
``search_after`` (``scan``), so they are complete and consistent past the 10k ``from/size`` limit.
Identifiers may be given as one value or as several forms of it (as typed, as the stream stored it
after redaction: see ``sinks.compliance.identifiers``); they are matched with ``terms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from elasticsearch import ApiError, Elasticsearch

from agent_audit.sinks.indices import events_alias

__all__ = [
    "ERROR_QUERY",
    "SEARCH_FIELDS",
    "SeqCompleteness",
    "count_searchable",
    "counts_by_kind",
    "errors_per_day",
    "scan",
    "search_text",
    "seq_completeness",
    "session_events",
    "session_seqs",
    "session_timeline",
    "settled",
    "time_range",
    "tool_usage",
    "user_events",
]

Ids = str | Sequence[str]
T = TypeVar("T")

# An event counts as an error if it is an error event or was logged at error level.
ERROR_QUERY: dict[str, Any] = {"bool": {"should": [{"term": {"kind": "error"}}, {"term": {"level": "error"}}],
                                        "minimum_should_match": 1}}
# Free-text fields of the payloads (the flattened ones match whole leaf values).
SEARCH_FIELDS = ("payload.content", "payload.thought", "payload.plan", "payload.message",
                 "payload.recovery_action", "payload.parameters", "payload.result")


def _search_events(es: Elasticsearch, prefix: str, **body: Any) -> dict[str, Any]:
    """Search the events alias; before the first event is stored it answers empty, not 404."""
    resp = es.search(index=events_alias(prefix), ignore_unavailable=True, allow_no_indices=True, **body)
    return dict(resp.body)


def _buckets(resp: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return list(resp.get("aggregations", {}).get(name, {}).get("buckets", []))


def _terms(field: str, ids: Ids) -> dict[str, Any]:
    values = [ids] if isinstance(ids, str) else list(dict.fromkeys(ids))
    return {"terms": {field: values}}


def time_range(since: str | None = None, until: str | None = None,
               field: str = "timestamp") -> list[dict[str, Any]]:
    """A range filter (``since`` inclusive, ``until`` exclusive), or none when both are open."""
    bounds = {k: v for k, v in (("gte", since), ("lt", until)) if v}
    return [{"range": {field: bounds}}] if bounds else []


def scan(es: Elasticsearch, index: str, query: dict[str, Any], sort: Sequence[dict[str, Any]] = (),
         *, source: bool = True, page: int = 1000, limit: int | None = None,
         keep_alive: str = "2m") -> Generator[dict[str, Any], None, None]:
    """Every hit of ``query`` in ``sort`` order (ties by ``_shard_doc``): PIT + search_after.

    A missing index yields nothing. The point in time is closed when the iteration ends or is
    abandoned (the generator's ``finally``).
    """
    pit_id = _open_point_in_time(es, index, keep_alive)
    full_sort = [*sort, {"_shard_doc": "asc"}]
    after: list[Any] | None = None
    seen = 0
    try:
        while limit is None or seen < limit:
            size = page if limit is None else min(page, limit - seen)
            resp = es.search(pit={"id": pit_id, "keep_alive": keep_alive}, query=query, sort=full_sort,
                             size=size, source=source, search_after=after, track_total_hits=False)
            pit_id = resp.get("pit_id", pit_id)
            hits = resp["hits"]["hits"]
            yield from hits
            seen += len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit_id)


def _open_point_in_time(es: Elasticsearch, index: str, keep_alive: str) -> str:
    pit = settled(es, index, lambda: es.open_point_in_time(index=index, keep_alive=keep_alive,
                                                           ignore_unavailable=True))
    return str(pit["id"])


def settled(es: Elasticsearch, index: str, read: Callable[[], T], patience_s: float = 60.0) -> T:
    """``read`` over ``index``, retried while Elasticsearch answers 503: a daily index the pattern
    covers is being created and its primary shard is not active yet. Waits for health yellow and a
    growing pause (the alias may not name the new index yet), for ``patience_s`` at most."""
    deadline, pause = time.monotonic() + patience_s, 0.25
    while True:
        try:
            return read()
        except ApiError as exc:
            if exc.meta.status != 503 or time.monotonic() >= deadline:
                raise
        es.options(ignore_status=(408, 404)).cluster.health(index=index, wait_for_status="yellow",
                                                            timeout="10s")
        time.sleep(pause)
        pause = min(pause * 2, 4.0)


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


def session_events(es: Elasticsearch, prefix: str, session_id: Ids,
                   limit: int | None = None) -> Iterator[dict[str, Any]]:
    """A session's events in ``seq`` order (the order the agent recorded them), lazily."""
    hits = scan(es, events_alias(prefix), {"bool": {"filter": [_terms("session_id", session_id)]}},
                [{"seq": "asc"}], limit=limit)
    return (hit["_source"] for hit in hits)


def session_timeline(es: Elasticsearch, prefix: str, session_id: Ids,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """A session's events in ``seq`` order, all of them (or ``limit``) in one list."""
    return list(session_events(es, prefix, session_id, limit))


def session_seqs(es: Elasticsearch, prefix: str, session_id: Ids) -> Iterator[int]:
    """The stored ``seq`` values of a session, ascending, without fetching the documents."""
    hits = scan(es, events_alias(prefix), {"bool": {"filter": [_terms("session_id", session_id)]}},
                [{"seq": "asc"}], source=False, page=5000)
    return (int(hit["sort"][0]) for hit in hits)


@dataclass(frozen=True)
class SeqCompleteness:
    """What the stored seqs of a session prove: 0..last with no hole, or where the holes are."""

    events: int
    last_seq: int | None
    gaps: tuple[tuple[int, int], ...]  # missing seqs as inclusive ranges
    duplicates: tuple[int, ...]  # seqs stored more than once (at most the first 100)

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.duplicates

    @property
    def missing(self) -> int:
        return sum(end - start + 1 for start, end in self.gaps)

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "last_seq": self.last_seq, "complete": self.complete,
                "missing": self.missing, "gaps": [list(g) for g in self.gaps],
                "duplicates": list(self.duplicates)}


def seq_completeness(seqs: Iterable[int]) -> SeqCompleteness:
    """Holes in ascending ``seqs`` starting from 0. Events lost after the last stored one are
    invisible here: only the producer knows how many it sent."""
    gaps: list[tuple[int, int]] = []
    duplicates: list[int] = []
    expected, n, last = 0, 0, None
    for seq in seqs:
        n += 1
        if seq < expected:
            if len(duplicates) < 100 and (not duplicates or duplicates[-1] != seq):
                duplicates.append(seq)
            continue
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected, last = seq + 1, seq
    return SeqCompleteness(n, last, tuple(gaps), tuple(duplicates))


def user_events(es: Elasticsearch, prefix: str, user_id: Ids, since: str | None = None,
                until: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """A user's events in time order (``since`` inclusive, ``until`` exclusive), lazily."""
    query = {"bool": {"filter": [_terms("user_id", user_id), *time_range(since, until)]}}
    hits = scan(es, events_alias(prefix), query, [{"timestamp": "asc"}, {"seq": "asc"}], limit=limit)
    return (hit["_source"] for hit in hits)


def counts_by_kind(es: Elasticsearch, prefix: str, query: dict[str, Any] | None = None) -> dict[str, int]:
    resp = _search_events(es, prefix, size=0, query=query or {"match_all": {}},
                          aggs={"kinds": {"terms": {"field": "kind", "size": 10}}})
    return {b["key"]: b["doc_count"] for b in _buckets(resp, "kinds")}


def tool_usage(es: Elasticsearch, prefix: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per tool: calls, errors, average and p95 duration (ms)."""
    base = {"term": {"kind": "tool_call"}}
    filters = [base, query] if query else [base]
    resp = _search_events(es, prefix, size=0, query={"bool": {"filter": filters}}, aggs={
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
    } for b in _buckets(resp, "tools")]


def errors_per_day(es: Elasticsearch, prefix: str, since: str | None = None,
                   until: str | None = None) -> list[dict[str, Any]]:
    """Per UTC day: events, errors (``ERROR_QUERY``) and their ratio; days without events omitted."""
    resp = _search_events(es, prefix, size=0, query={"bool": {"filter": time_range(since, until)}}, aggs={
        "days": {"date_histogram": {"field": "timestamp", "calendar_interval": "day",
                                    "format": "yyyy-MM-dd", "min_doc_count": 1},
                 "aggs": {"errors": {"filter": ERROR_QUERY}}},
    })
    return [{
        "day": b["key_as_string"],
        "events": b["doc_count"],
        "errors": b["errors"]["doc_count"],
        "error_rate": b["errors"]["doc_count"] / b["doc_count"],
    } for b in _buckets(resp, "days")]


def search_text(es: Elasticsearch, prefix: str, text: str, size: int = 20,
                query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Events whose free text matches ``text``, best first; each with its ``_score``."""
    match = {"multi_match": {"query": text, "fields": list(SEARCH_FIELDS), "lenient": True}}
    filters = [query] if query else []
    resp = _search_events(es, prefix, size=size, query={"bool": {"must": [match], "filter": filters}})
    return [{"_score": hit["_score"], **hit["_source"]} for hit in resp["hits"]["hits"]]
