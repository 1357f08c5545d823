"""``agent-audit verify``: a session's evidence as stored, checked with the stream's public key only.

``verify <session>`` prints one verdict and exits with its code; ``verify --since/--until`` sweeps
every session named by a checkpoint closed in the range and prints a summary an auditor can file
(``--json`` for machines). ``--checkpoints FILE`` (a ``checkpoints export``) or ``--checkpoints
kafka`` (the stream's topic) adds a copy of the signed checkpoints kept outside Elasticsearch, so
the newest checkpoints deleted from the index together with their events show as truncated or
deleted instead of as a shorter session. Exit codes:

====  ==========================================================================================
0     intact: every event is on the signed chain (complete when closed with seqs 0..n, else open);
      erased events count as intact when their receipt exists
1     modified at seq N (content, digest or link changed, a re-chained edit, a bad signature)
2     the command failed (configuration, connection)
3     truncated after seq N (events signed by a checkpoint are gone from the end)
4     deleted (checkpointed but absent: an event, the whole session, or a checkpoint)
5     inserted (a stored event no signed chain accounts for)
6     not yet checkpointed (events newer than the last checkpoint; verify again in a few seconds)
7     unknown (no event and no checkpoint names this session)
====  ==========================================================================================
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_audit.cli.commands.context import Context, actor_parent, emit, reports_failures_as_2

if TYPE_CHECKING:
    from agent_audit.sinks.compliance.verification import Verifier

__all__ = ["register"]


@reports_failures_as_2
def _verify(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.verification import Verifier  # noqa: PLC0415

    ctx = Context(args)
    log = ctx.access_log
    verifier = Verifier(ctx.es, ctx.settings, trusted=_trusted(args.checkpoints, ctx))
    if not verifier.keys.keys:
        print("agent-audit verify: no public key: set AUDIT_PUBLIC_KEYS", flush=True)
        return 2
    start = time.monotonic()
    if args.access_log:
        return _access(ctx, verifier, start)
    if args.session_id is None:
        return _sweep(args, ctx, verifier, start)
    verdict = verifier.session(args.session_id)
    log.record(ctx.actor, "verify", {"session_id": args.session_id, "verdict": verdict.status},
               verdict.events, duration_ms=int((time.monotonic() - start) * 1000))
    if args.json:
        emit({"session_id": args.session_id, **verdict.to_json()})
    else:
        print(verdict)
    return verdict.exit_code


def _trusted(source: str | None, ctx: Context) -> list[dict[str, Any]] | None:
    if source is None:
        return None
    if source == "kafka":
        from agent_audit.stream.checkpoint_export import read_checkpoints  # noqa: PLC0415

        return read_checkpoints(ctx.settings)
    from agent_audit.sinks.compliance.verification import read_export  # noqa: PLC0415

    return read_export(Path(source))


def _access(ctx: Context, verifier: Verifier, start: float) -> int:
    from agent_audit.sinks.compliance.verification import access_log_report  # noqa: PLC0415

    report = access_log_report(verifier)
    ctx.access_log.record(ctx.actor, "verify-access-log", {}, report.entries,
                          duration_ms=int((time.monotonic() - start) * 1000))
    for line in report.lines():
        print(line)
    return report.exit_code


def _sweep(args: argparse.Namespace, ctx: Context, verifier: Verifier, start: float) -> int:
    report = verifier.sweep(args.since, args.until)
    ctx.access_log.record(ctx.actor, "verify-sweep", {"since": args.since, "until": args.until},
                          len(report.verdicts), duration_ms=int((time.monotonic() - start) * 1000))
    if args.json:
        emit({"since": args.since, "until": args.until, "checkpoints": report.checkpoints,
              "chain_problems": report.chain_problems, "exit_code": report.exit_code,
              "sessions": {s: v.to_json() for s, v in report.verdicts.items()}})
    else:
        for line in report.lines():
            print(line)
    return report.exit_code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "verify", parents=[actor_parent()],
        help="check a session's evidence with the public key (AUDIT_PUBLIC_KEYS): intact, modified, "
             "truncated, deleted, inserted, not yet checkpointed; --since/--until sweeps a range",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("session_id", nargs="?",
                   help="the session, as the agent recorded it (omit it to sweep with --since/--until)")
    p.add_argument("--since", help="sweep: checkpoints closed at or after this time (RFC 3339 or date)")
    p.add_argument("--until", help="sweep: checkpoints closed at or before this time")
    p.add_argument("--json", action="store_true", help="one JSON document instead of text")
    p.add_argument("--checkpoints", metavar="FILE|kafka",
                   help="also use this copy of the signed checkpoints: a `checkpoints export` file, or "
                        "`kafka` for the stream's topic (catches checkpoints deleted from the index)")
    p.add_argument("--access-log", action="store_true",
                   help="check every access-log entry against its signed copy (edits, deletions)")
    p.set_defaults(func=_verify)
