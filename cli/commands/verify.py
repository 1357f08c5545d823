"""``agent-audit verify <session_id>``: re-check a session's hash chain as stored; exit 0 only if intact."""

from __future__ import annotations

import argparse
import time

from agent_audit.cli.commands.context import Context, actor_parent, reports_errors

__all__ = ["register"]


@reports_errors
def _verify(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.verification import verify_session  # noqa: PLC0415

    ctx = Context(args)
    log = ctx.access_log
    start = time.monotonic()
    verdict = verify_session(ctx.es, ctx.settings, args.session_id)
    log.record(ctx.actor, "verify", {"session_id": args.session_id, "verdict": verdict.status},
               verdict.events, duration_ms=int((time.monotonic() - start) * 1000))
    print(verdict)
    return 0 if verdict.status == "intact" else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "verify", parents=[actor_parent()],
        help="check a session's hash chain (AUDIT_INTEGRITY_KEY if the stream used one): prints "
             "'intact (N events)', or 'broken at seq N' / 'missing at seq N' and exits 1",
    )
    p.add_argument("session_id", help="the session, as the agent recorded it")
    p.set_defaults(func=_verify)
