"""The audit questions as SQL over the archive, with the answers ``sinks.queries`` gives from
Elasticsearch: same rows, same order, same field names (so either tier answers an investigation).

Differences that remain by design: Elasticsearch's p95 is a t-digest estimate, the archive's is
exact (``quantile_cont``); ties in a user's events at the same timestamp and seq are ordered by
``event_id`` here.

Events are opened at read time (``unsealing.RowOpener``): a forgotten user's come back as their
erasure tombstones, as Elasticsearch gives them. A user is found by the data-key subject of each
stored form of their id (sealed rows) or by the id itself (rows of the unsealed layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import duckdb

from agent_audit.sinks.archive.unsealing import RowOpener

__all__ = ["errors_per_day", "session_timeline", "tool_usage", "user_events"]

Ids = str | Sequence[str]

ERROR = "(kind = 'error' OR level = 'error')"


def _ids(ids: Ids) -> list[str]:
    return [ids] if isinstance(ids, str) else list(dict.fromkeys(ids))


def _range(since: str | None, until: str | None) -> tuple[str, list[Any]]:
    sql, params = "", []
    if since:
        sql += " AND timestamp >= ?"
        params.append(datetime.fromisoformat(since))
    if until:
        sql += " AND timestamp < ?"
        params.append(datetime.fromisoformat(until))
    return sql, params


def session_timeline(con: duckdb.DuckDBPyConnection, session_id: Ids, opener: RowOpener,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """A session's events in ``seq`` order, as published (erased ones as tombstones)."""
    sql = "SELECT event FROM events WHERE list_contains(?, session_id) ORDER BY seq, event_id"
    rows = con.execute(sql + (" LIMIT ?" if limit else ""),
                       [_ids(session_id), *([int(limit)] if limit else [])]).fetchall()
    return opener.open_all([r[0] for r in rows])


def user_events(con: duckdb.DuckDBPyConnection, user_id: Ids, opener: RowOpener, since: str | None = None,
                until: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """A user's events in time order (``since`` inclusive, ``until`` exclusive)."""
    where, params = _range(since, until)
    ids = _ids(user_id)
    who = "(list_contains(?, subject) OR list_contains(?, user_id))"
    rows = con.execute(f"SELECT event FROM events WHERE {who}{where} ORDER BY"  # noqa: S608 - placeholders only
                       " timestamp, seq, event_id" + (" LIMIT ?" if limit else ""),
                       [opener.subjects(ids), ids, *params, *([int(limit)] if limit else [])]).fetchall()
    return opener.open_all([r[0] for r in rows])


def tool_usage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per tool: calls, errors, average and p95 duration (ms); most called first."""
    rows = con.execute(
        "SELECT tool_name, count(*), count(*) FILTER (WHERE status = 'error'), avg(duration_ms), "
        "quantile_cont(duration_ms, 0.95) FROM events WHERE kind = 'tool_call' "
        "GROUP BY tool_name ORDER BY 2 DESC, 1").fetchall()
    return [{"tool": t, "calls": c, "errors": e, "avg_ms": a, "p95_ms": p} for t, c, e, a, p in rows]


def errors_per_day(con: duckdb.DuckDBPyConnection, since: str | None = None,
                   until: str | None = None) -> list[dict[str, Any]]:
    """Per UTC day: events, errors (error events or error level) and their ratio."""
    where, params = _range(since, until)
    rows = con.execute(
        f"SELECT CAST(timestamp AS DATE) AS day, count(*), count(*) FILTER (WHERE {ERROR}) "  # noqa: S608 - constants
        f"FROM events WHERE TRUE{where} GROUP BY day ORDER BY day", params).fetchall()
    return [{"day": d.isoformat() if isinstance(d, date) else str(d), "events": n, "errors": e,
             "error_rate": e / n} for d, n, e in rows]

