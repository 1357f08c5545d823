"""``agent-audit query``: the questions people ask of the trail, each one recorded in the access log.

Output is a table on a terminal and NDJSON otherwise (``--json`` / ``--table`` choose).
Identifiers are looked up as given and as the stream stored them (redacted, under every
redaction-key version); the access log keeps the parameters redacted (a user id as its keyed
subject digest) and the number of results, never the results.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from typing import Any

from agent_audit.cli.commands.context import Context, actor_parent, reports_errors
from agent_audit.cli.output import output_parent, rows_out

__all__ = ["register"]


def _stored(ctx: Context, identifier: str) -> list[str]:
    from agent_audit.sinks.compliance.identifiers import stored_form  # noqa: PLC0415

    return stored_form(identifier, ctx.redactor).lookup_values()


def _pseudonym(ctx: Context, user_id: str) -> str:
    """The access log names a user by the keyed subject digest: erasure must not have to rewrite it."""
    from agent_audit.sinks.compliance.identifiers import subject_digest  # noqa: PLC0415

    return subject_digest(user_id, ctx.settings)


# Events on a terminal: the fields a reader scans first (NDJSON keeps every field).
EVENT_COLUMNS = ("seq", "timestamp", "session_id", "kind", "level", "agent", "payload")


def _log(ctx: Context, query: str, params: dict[str, Any], rows: Iterable[Any],
         columns: tuple[str, ...] | None = None) -> int:
    """Record the read as started, print every row, then record it with its count."""
    log = ctx.access_log
    start, out = time.monotonic(), rows_out(ctx.args, columns=columns, title=f"query {query}")
    log.record(ctx.actor, query, params, 0, "started")  # before any row is shown
    try:
        for row in rows:
            out.write(row)
    except BaseException as exc:  # Ctrl-C included: the log says the read was cut short
        log.record(ctx.actor, query, params, out.count, "error", type(exc).__name__, _ms(start))
        raise
    log.record(ctx.actor, query, params, out.count, duration_ms=_ms(start))
    out.close()
    return out.count


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


@reports_errors
def _timeline(args: argparse.Namespace) -> int:
    from agent_audit.sinks.queries import session_events  # noqa: PLC0415

    ctx = Context(args)
    rows = session_events(ctx.es, ctx.prefix, _stored(ctx, args.session_id), limit=args.limit)
    _log(ctx, "timeline", {"session_id": args.session_id, "limit": args.limit}, rows, EVENT_COLUMNS)
    return 0


@reports_errors
def _user(args: argparse.Namespace) -> int:
    from agent_audit.sinks.queries import user_events  # noqa: PLC0415

    ctx = Context(args)
    rows = user_events(ctx.es, ctx.prefix, _stored(ctx, args.user_id), args.since, args.until, args.limit)
    _log(ctx, "user", {"user_id": _pseudonym(ctx, args.user_id), "since": args.since, "until": args.until,
                       "limit": args.limit}, rows, EVENT_COLUMNS)
    return 0


@reports_errors
def _tools(args: argparse.Namespace) -> int:
    from agent_audit.sinks.queries import time_range, tool_usage  # noqa: PLC0415

    ctx = Context(args)
    window = time_range(args.since, args.until)
    rows = tool_usage(ctx.es, ctx.prefix, {"bool": {"filter": window}} if window else None)
    _log(ctx, "tools", {"since": args.since, "until": args.until}, rows)
    return 0


@reports_errors
def _errors_per_day(args: argparse.Namespace) -> int:
    from agent_audit.sinks.queries import errors_per_day  # noqa: PLC0415

    ctx = Context(args)
    rows = errors_per_day(ctx.es, ctx.prefix, args.since, args.until)
    _log(ctx, "errors-per-day", {"since": args.since, "until": args.until}, rows)
    return 0


@reports_errors
def _search(args: argparse.Namespace) -> int:
    from agent_audit.sinks.queries import search_text  # noqa: PLC0415

    ctx = Context(args)
    # Stored text is redacted: search for what the stream would have stored for these words.
    text, _ = ctx.redactor.redact_text(args.text)
    rows = search_text(ctx.es, ctx.prefix, text, size=args.size)
    _log(ctx, "search", {"text": args.text, "size": args.size}, rows)
    return 0


@reports_errors
def _gaps(args: argparse.Namespace) -> int:
    from agent_audit.sinks.queries import seq_completeness, session_seqs  # noqa: PLC0415

    ctx = Context(args)
    report = seq_completeness(session_seqs(ctx.es, ctx.prefix, _stored(ctx, args.session_id)))
    _log(ctx, "gaps", {"session_id": args.session_id}, [{"session_id": args.session_id, **report.to_json()}])
    return 0 if report.complete else 1


@reports_errors
def _access_log(args: argparse.Namespace) -> int:
    ctx = Context(args)
    rows = ctx.access_log.entries(args.by, args.limit)
    _log(ctx, "access-log", {"by": args.by, "limit": args.limit}, rows)
    return 0


def _time_window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="from this time, inclusive (RFC 3339 or date math: now-7d)")
    parser.add_argument("--until", help="up to this time, exclusive")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parent, output = actor_parent(), output_parent()
    query = subparsers.add_parser("query", help="ask the audit trail (every query is access-logged)")
    sub = query.add_subparsers(dest="query", required=True)

    p = sub.add_parser("timeline", parents=[parent, output], help="a session's events in seq order (NDJSON)")
    p.add_argument("session_id", help="the session, as the agent recorded it")
    p.add_argument("--limit", type=int, help="at most this many events (default: all)")
    p.set_defaults(func=_timeline)

    p = sub.add_parser("user", parents=[parent, output], help="a user's events in time order (NDJSON)")
    p.add_argument("user_id", help="the user, as the agent recorded it (looked up redacted too)")
    _time_window(p)
    p.add_argument("--limit", type=int, help="at most this many events (default: all)")
    p.set_defaults(func=_user)

    p = sub.add_parser("tools", parents=[parent, output],
                       help="per tool: calls, errors, avg and p95 duration (ms)")
    _time_window(p)
    p.set_defaults(func=_tools)

    p = sub.add_parser("errors-per-day", parents=[parent, output],
                       help="per UTC day: events, errors (kind or level error) and error rate")
    _time_window(p)
    p.set_defaults(func=_errors_per_day)

    p = sub.add_parser("search", parents=[parent, output],
                       help="full-text search of the payloads, best first")
    p.add_argument("text", help="words to find (redacted first, as the stored text is)")
    p.add_argument("--size", type=int, default=20, help="results (default 20)")
    p.set_defaults(func=_search)

    p = sub.add_parser("gaps", parents=[parent, output],
                       help="completeness: missing seq ranges of a session (exit 1 if any)")
    p.add_argument("session_id", help="the session, as the agent recorded it")
    p.set_defaults(func=_gaps)

    p = sub.add_parser("access-log", parents=[parent, output], help="the newest access-log entries")
    p.add_argument("--by", help="only this actor's reads")
    p.add_argument("--limit", type=int, default=50, help="entries (default 50)")
    p.set_defaults(func=_access_log)
