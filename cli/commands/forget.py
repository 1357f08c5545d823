"""``agent-audit forget <user_id>``: erase a user everywhere, print the stored receipt.

``--dry-run`` lists what would go and changes nothing. Progress goes to stderr; the receipt (or the
plan) is the one JSON document on stdout. Safe to re-run: a run that crashed resumes under its
receipt, a finished one removes nothing more.
"""

from __future__ import annotations

import argparse
import sys

from agent_audit.cli.commands.context import Context, actor_parent, emit, reports_errors

__all__ = ["register"]


def _progress(message: str) -> None:
    print(f"agent-audit forget: {message}", file=sys.stderr, flush=True)


@reports_errors
def _forget(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.erasure import forget  # noqa: PLC0415
    from agent_audit.sinks.compliance.receipts import Receipt  # noqa: PLC0415

    ctx = Context(args)
    result = forget(ctx.es, ctx.settings, args.user_id, ctx.actor, dry_run=args.dry_run,
                    progress=None if args.quiet else _progress)
    emit(result.to_json() if isinstance(result, Receipt) else result)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "forget", parents=[actor_parent()],
        help="erase a user everywhere: destroy their data keys (every Kafka copy unreadable), turn their "
             "events into tombstones in every daily index, pseudonymize the access log and holds; "
             "prints the receipt stored in {prefix}-erasure-receipts, with each store's status",
    )
    p.add_argument("user_id", help="the user to erase, as the agent recorded it")
    p.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_forget)
