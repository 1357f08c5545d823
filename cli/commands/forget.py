"""``agent-audit forget <user_id>``: erase a user's documents everywhere, print the stored receipt."""

from __future__ import annotations

import argparse

from agent_audit.cli.commands.context import Context, actor_parent, emit, reports_errors

__all__ = ["register"]


@reports_errors
def _forget(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.erasure import forget  # noqa: PLC0415

    ctx = Context(args)
    receipt = forget(ctx.es, ctx.settings, args.user_id, ctx.actor)
    emit(receipt.to_json())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "forget", parents=[actor_parent()],
        help="erase a user's documents from every daily index (the id as given and as redacted); "
             "documents under a legal hold are kept; prints the receipt stored in {prefix}-erasure-receipts",
    )
    p.add_argument("user_id", help="the user to erase, as the agent recorded it")
    p.set_defaults(func=_forget)
