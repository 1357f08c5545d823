"""``agent-audit hold add | list | release``: legal holds that exempt sessions or users from retention."""

from __future__ import annotations

import argparse
import sys

from agent_audit.cli.commands.context import Context, actor_parent, emit, reports_errors

__all__ = ["register"]


@reports_errors
def _add(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.holds import HoldStore  # noqa: PLC0415

    ctx = Context(args)
    scope, identifier = ("session", args.session) if args.session else ("user", args.user)
    hold = HoldStore(ctx.es, ctx.prefix, ctx.redactor).add(scope, identifier, args.reason, ctx.actor)
    if not hold.specific:
        print(f"agent-audit hold add: this id is stored as the shared placeholder {hold.value}; the hold "
              "covers every subject stored that way (set AUDIT_REDACTION_KEY for keyed tokens)",
              file=sys.stderr)
    emit(hold.to_json())
    return 0


@reports_errors
def _list(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.holds import HoldStore  # noqa: PLC0415

    ctx = Context(args)
    for hold in HoldStore(ctx.es, ctx.prefix, ctx.redactor).list(include_released=args.all):
        emit(hold.to_json())
    return 0


@reports_errors
def _release(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.holds import HoldStore  # noqa: PLC0415

    ctx = Context(args)
    hold = HoldStore(ctx.es, ctx.prefix, ctx.redactor).release(args.hold_id, ctx.actor)
    if hold is None:
        print(f"agent-audit hold release: no hold {args.hold_id}")
        return 1
    emit(hold.to_json())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parent = actor_parent()
    hold = subparsers.add_parser("hold", help="legal holds: held sessions/users survive retention")
    sub = hold.add_subparsers(dest="action", required=True)
    p = sub.add_parser("add", parents=[parent], help="hold a session's or a user's events")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--session", help="session id to hold")
    who.add_argument("--user", help="user id to hold")
    p.add_argument("--reason", required=True, help="why (a case or ticket reference)")
    p.set_defaults(func=_add)
    p = sub.add_parser("list", parents=[parent], help="active holds (NDJSON)")
    p.add_argument("--all", action="store_true", help="released ones too")
    p.set_defaults(func=_list)
    p = sub.add_parser("release", parents=[parent], help="release a hold (it stays on record)")
    p.add_argument("hold_id", help="the hold's id, as `hold list` prints it")
    p.set_defaults(func=_release)
