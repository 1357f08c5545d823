"""``agent-audit retention apply | seal``: drop expired daily indices (legal holds win); seal old ones."""

from __future__ import annotations

import argparse

from agent_audit.cli.commands.context import Context, actor_parent, emit, reports_errors

__all__ = ["register"]


@reports_errors
def _apply(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.holds import HoldStore  # noqa: PLC0415
    from agent_audit.sinks.compliance.retention import RetentionPolicy, apply_retention  # noqa: PLC0415

    ctx = Context(args)
    policy = RetentionPolicy.parse(args.days, args.family)
    holds = HoldStore(ctx.es, ctx.prefix, ctx.redactor).list()
    run = apply_retention(ctx.es, ctx.prefix, policy, holds, ctx.actor, dry_run=args.dry_run)
    emit({"actor": ctx.actor, "dry_run": args.dry_run, "default_days": policy.default_days,
          "family_days": dict(policy.family_days), "active_holds": len(holds), **run.to_json()})
    return 0


@reports_errors
def _seal(args: argparse.Namespace) -> int:
    from agent_audit.sinks.compliance.retention import seal  # noqa: PLC0415

    ctx = Context(args)
    sealed = seal(ctx.es, ctx.prefix, args.after_days, dry_run=args.dry_run)
    emit({"actor": ctx.actor, "dry_run": args.dry_run, "after_days": args.after_days, "sealed": sealed})
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parent = actor_parent()
    retention = subparsers.add_parser("retention", help="retention of the daily indices")
    sub = retention.add_subparsers(dest="action", required=True)
    p = sub.add_parser("apply", parents=[parent],
                       help="delete daily indices older than N days (day from the index name); an "
                            "expired index holding held sessions/users keeps only those documents")
    p.add_argument("--days", type=int, default=90, help="default limit for every family (default 90)")
    p.add_argument("--family", help="per-family limits, e.g. events=90,metrics=30")
    p.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")
    p.set_defaults(func=_apply)
    p = sub.add_parser("seal", parents=[parent],
                       help="make daily indices read-only (index.blocks.write) once older than N days")
    p.add_argument("--after-days", type=int, default=2,
                   help="days after the index's day before sealing, so late events still land (default 2)")
    p.add_argument("--dry-run", action="store_true", help="list what would be sealed, change nothing")
    p.set_defaults(func=_seal)
