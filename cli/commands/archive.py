"""``agent-audit archive query | restore | verify | compact | retention``: the cold tier on object storage.

``query`` runs SQL (DuckDB) over the view ``events`` of the archive, or one of the named audit
questions (``--named``), and prints NDJSON; each read is recorded in the access log like
``agent-audit query``. ``restore`` re-indexes an archived range into Elasticsearch (idempotent).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent_audit.cli.commands.context import (
    Context,
    actor_parent,
    emit,
    reports_errors,
    reports_failures_as_2,
)

if TYPE_CHECKING:
    from agent_audit.sinks.archive.config import ArchiveSettings
    from agent_audit.sinks.archive.store import ObjectStore

__all__ = ["register"]

NAMED = {
    "timeline": "a session's events in seq order (--session)",
    "user": "a user's events in a time range (--user, --since, --until)",
    "tools": "calls, errors, average and p95 duration per tool",
    "errors": "events, errors and error rate per UTC day (--since, --until)",
}


def _archive(ctx: Context) -> tuple[ArchiveSettings, ObjectStore]:
    from agent_audit.sinks.archive.config import ArchiveSettings  # noqa: PLC0415
    from agent_audit.sinks.archive.store import build_store  # noqa: PLC0415

    settings = ArchiveSettings.from_env(base=ctx.settings)
    return settings, build_store(settings)


def _stored(ctx: Context, identifier: str) -> list[str]:
    from agent_audit.sinks.compliance.identifiers import stored_form  # noqa: PLC0415

    return stored_form(identifier, ctx.redactor).lookup_values()


def _day(value: str | None) -> date | None:
    return datetime.fromisoformat(value).date() if value else None


def _rows(ctx: Context, args: argparse.Namespace) -> list[Any]:
    from agent_audit.sinks.archive import queries  # noqa: PLC0415
    from agent_audit.sinks.archive.reader import open_archive  # noqa: PLC0415
    from agent_audit.sinks.archive.unsealing import build_row_opener  # noqa: PLC0415

    _settings, store = _archive(ctx)
    con = open_archive(store, _day(args.since), _day(args.until))
    if args.named is None:
        cursor = con.execute(args.sql)
        names = [d[0] for d in cursor.description or []]
        return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    if args.named == "timeline":
        return queries.session_timeline(con, _stored(ctx, _required(args.session, "--session")),
                                        build_row_opener(ctx.settings), args.limit)
    if args.named == "user":
        return queries.user_events(con, _stored(ctx, _required(args.user, "--user")),
                                   build_row_opener(ctx.settings), args.since, args.until, args.limit)
    if args.named == "tools":
        return queries.tool_usage(con)
    return queries.errors_per_day(con, args.since, args.until)


def _plain(value: Any) -> Any:
    """What JSON can hold: DuckDB gives DECIMAL as Decimal and INTERVAL as timedelta."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _required(value: str | None, flag: str) -> str:
    if not value:
        raise ValueError(f"this named query needs {flag}")
    return value


@reports_errors
def _query(args: argparse.Namespace) -> int:
    import duckdb  # noqa: PLC0415

    from agent_audit.sinks.compliance.identifiers import subject_digest  # noqa: PLC0415

    if (args.sql is None) == (args.named is None):
        raise ValueError('give either SQL ("SELECT ... FROM events") or --named')
    ctx = Context(args)
    log = ctx.access_log  # a read that cannot be logged never starts
    name = f"archive:{args.named or 'sql'}"
    # The user as the keyed subject digest, as `query user` logs it: erasure never has to find it here.
    user = subject_digest(args.user, ctx.settings) if args.user else None
    params = {"sql": args.sql, "session_id": args.session, "user_id": user, "since": args.since,
              "until": args.until, "limit": args.limit}
    start = time.monotonic()
    try:
        rows = _rows(ctx, args)
    except duckdb.Error as exc:
        log.record(ctx.actor, name, params, 0, "error", type(exc).__name__, _ms(start))
        raise ValueError(f"SQL: {exc}") from None
    log.record(ctx.actor, name, params, len(rows), duration_ms=_ms(start))
    for row in rows:
        emit(row)
    return 0


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


@reports_errors
def _restore(args: argparse.Namespace) -> int:
    from agent_audit.sinks.archive.restore import restore  # noqa: PLC0415
    from agent_audit.sinks.archive.unsealing import build_row_opener  # noqa: PLC0415

    ctx = Context(args)
    _settings, store = _archive(ctx)
    result = restore(store, ctx.es, ctx.prefix, args.since, args.until, build_row_opener(ctx.settings))
    emit({"actor": ctx.actor, "since": args.since, "until": args.until, **result.to_json()})
    return 1 if result.refused else 0


@reports_failures_as_2
def _verify(args: argparse.Namespace) -> int:
    from agent_audit.sinks.archive.verification import sweep_archive, verify_archived_session  # noqa: PLC0415

    ctx = Context(args)
    if not args.session and not (args.since or args.until):
        print("agent-audit archive verify: give --session, or --since/--until to sweep a range", flush=True)
        return 2
    _settings, store = _archive(ctx)
    if args.session:
        verdict = verify_archived_session(store, ctx.es, ctx.settings, args.session)
        emit({"session_id": args.session, **verdict.to_json()})
        return verdict.exit_code  # the codes of ``agent-audit verify``
    report = sweep_archive(store, ctx.es, ctx.settings, args.since, args.until)
    emit({"since": args.since, "until": args.until, "checkpoints": report.checkpoints,
          "chain_problems": report.chain_problems, "exit_code": report.exit_code,
          "sessions": {s: v.to_json() for s, v in report.verdicts.items()}})
    return report.exit_code


@reports_errors
def _compact(args: argparse.Namespace) -> int:
    from agent_audit.sinks.archive.compaction import compact  # noqa: PLC0415

    _settings, store = _archive(Context(args))
    days = [date.fromisoformat(d) for d in args.day] if args.day else None
    emit({"written": compact(store, days)})
    return 0


@reports_errors
def _retention(args: argparse.Namespace) -> int:
    from agent_audit.sinks.archive.retention import apply_archive_retention  # noqa: PLC0415
    from agent_audit.sinks.compliance.holds import HoldStore  # noqa: PLC0415

    ctx = Context(args)
    settings, store = _archive(ctx)
    days = args.days or settings.retention_days
    holds = HoldStore(ctx.es, ctx.prefix, ctx.redactor).list()
    from agent_audit.sinks.archive.unsealing import build_row_opener  # noqa: PLC0415

    actions = apply_archive_retention(store, days, holds, dry_run=args.dry_run,
                                      subjects=build_row_opener(ctx.settings).subjects)
    emit({"actor": ctx.actor, "dry_run": args.dry_run, "days": days, "active_holds": len(holds),
          "actions": [a.to_json() for a in actions]})
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parent = actor_parent()
    archive = subparsers.add_parser("archive", help="the archive on object storage (cold tier, SQL)")
    sub = archive.add_subparsers(dest="action", required=True)
    p = sub.add_parser("query", parents=[parent],
                       help="SQL over the view `events`, or a named query (NDJSON)")
    p.add_argument("sql", nargs="?", help='e.g. "SELECT kind, count(*) FROM events GROUP BY kind"')
    p.add_argument("--named", choices=sorted(NAMED), help="; ".join(f"{k}: {v}" for k, v in NAMED.items()))
    p.add_argument("--session", help="session id (timeline)")
    p.add_argument("--user", help="user id (user)")
    p.add_argument("--since", help="ISO 8601 time, inclusive (also limits the days read)")
    p.add_argument("--until", help="ISO 8601 time, exclusive (also limits the days read)")
    p.add_argument("--limit", type=int)
    p.set_defaults(func=_query)
    p = sub.add_parser("restore", parents=[parent], help="re-index an archived range into Elasticsearch")
    p.add_argument("--since", required=True, help="ISO 8601 time, inclusive")
    p.add_argument("--until", required=True, help="ISO 8601 time, exclusive")
    p.set_defaults(func=_restore)
    p = sub.add_parser("verify", parents=[parent], help="verify an archived session, or sweep every session "
                       "signed in a range: chain, signed checkpoints, erasures (exit codes of "
                       "`agent-audit verify`)")
    p.add_argument("--session", help="the session, as the agent recorded it")
    p.add_argument("--since", help="sweep: sessions named by checkpoints closed at or after this time")
    p.add_argument("--until", help="sweep: ... closed at or before this time")
    p.set_defaults(func=_verify)
    p = sub.add_parser("compact", parents=[parent], help="merge each closed day's small objects")
    p.add_argument("--day", action="append",
                   help="YYYY-MM-DD to compact (repeatable; default: days before today)")
    p.set_defaults(func=_compact)
    p = sub.add_parser("retention", parents=[parent], help="delete archived days past cold retention "
                       "(legal holds win)")
    p.add_argument("--days", type=int, help="limit in days (default AUDIT_ARCHIVE_RETENTION_DAYS)")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=_retention)
