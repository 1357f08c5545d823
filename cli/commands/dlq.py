"""``agent-audit dlq list | replay``: inspect dead letters by reason; replay them after a fix.

Dead letters are redacted copies of what was rejected: a replay re-publishes the redacted line, so
whatever redaction replaced stays replaced. The stream's rejects go back to the raw topic; documents
Elasticsearch refused go back, unchanged, to the sink's topic (ids make that idempotent). Nothing
is deleted from the dead-letter topic.
"""

from __future__ import annotations

import argparse

from agent_audit.cli.commands.context import Context, actor_parent, emit, reports_errors

__all__ = ["register"]


@reports_errors
def _list(args: argparse.Namespace) -> int:
    from agent_audit.sinks.dlq import read_dead_letters, summarize  # noqa: PLC0415

    ctx = Context(args)
    log = ctx.access_log
    summary = summarize(read_dead_letters(ctx.settings), ctx.settings.topics.raw, args.reason_prefix,
                        args.limit)
    log.record(ctx.actor, "dlq-list", {"reason_prefix": args.reason_prefix, "limit": args.limit},
               summary.matching)
    emit(summary.to_json())
    return 0


@reports_errors
def _replay(args: argparse.Namespace) -> int:
    from agent_audit.sinks.dlq import replay  # noqa: PLC0415

    ctx = Context(args)
    log = ctx.access_log
    report = replay(ctx.settings, args.reason_prefix, args.group)
    log.record(ctx.actor, "dlq-replay", {"reason_prefix": args.reason_prefix, "group": report.group},
               report.replayed)
    emit(report.to_json())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = subparsers.add_parser("dlq", help="dead letters: list by reason, replay after a fix")
    sub = dlq.add_subparsers(dest="action", required=True)
    parent = actor_parent()
    p = sub.add_parser("list", parents=[parent],
                       help="counts by reason header and the first few records' headers "
                            "(reads everything present, commits nothing)")
    p.add_argument("--limit", type=int, default=5, help="records to show (default 5)")
    p.add_argument("--reason-prefix", help="only reasons starting with this, e.g. 'schema'")
    p.set_defaults(func=_list)
    p = sub.add_parser(
        "replay", parents=[parent],
        help="re-publish the stream's dead letters (source header on the raw topic) to the raw topic, "
             "each to its original partition, and the documents Elasticsearch refused (reason 'es:...') "
             "unchanged to the topic the sink reads (same id: never stored twice). Dead letters are "
             "REDACTED copies: the replay carries the redacted text, not the original. Records stay in "
             "the dead-letter topic; the group commits its progress, so each record is replayed once per "
             "group. A sink reject that is not one of our documents is counted, not replayed.",
    )
    p.add_argument("--reason-prefix", help="only reasons starting with this")
    p.add_argument("--group", help="replay consumer group (default: one per topic prefix and reason prefix)")
    p.set_defaults(func=_replay)
