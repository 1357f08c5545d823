"""``agent-audit``: the one command-line entry point. Each subcommand lives beside its component."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_audit.cli.commands import register_all

__all__ = ["main"]


def _stack(args: argparse.Namespace) -> int:
    from agent_audit.stack import LocalStack, StackError  # noqa: PLC0415 - keep CLI start-up light

    local = LocalStack.from_env(secure=args.secure)
    try:
        outcome = getattr(local, args.action)()
    except StackError as exc:
        print(f"stack {args.action} failed: {exc}", file=sys.stderr)
        return 1
    for service, state in outcome.items():
        print(f"{service:14} {state}")
    if args.action == "up":
        print(local.shell_setup())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from agent_audit.demo.run import run_demo  # noqa: PLC0415

    return run_demo(sessions=args.sessions, seed=args.seed)


def _topics(_args: argparse.Namespace) -> int:
    from agent_audit.core.settings import Settings  # noqa: PLC0415
    from agent_audit.stream.topics import create_topics  # noqa: PLC0415

    settings = Settings.from_env()
    created = create_topics(settings)
    for topic in settings.topics.all():
        print(f"{topic:30} {'created' if topic in created else 'exists'}")
    return 0


def _schema(_args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from agent_audit.core.contract import json_schema  # noqa: PLC0415

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def _redact(_args: argparse.Namespace) -> int:
    from agent_audit.core.redaction import Redactor  # noqa: PLC0415
    from agent_audit.core.redaction.ndjson import LineError, redact_ndjson_lines  # noqa: PLC0415
    from agent_audit.core.settings import Settings  # noqa: PLC0415

    redactor = Redactor.from_settings(Settings.from_env())
    failed = 0
    for out in redact_ndjson_lines(sys.stdin.buffer, redactor):
        if isinstance(out, LineError):
            failed += 1
            print(f"agent-audit redact: {out}", file=sys.stderr)
        else:
            sys.stdout.write(out + "\n")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    stack = sub.add_parser("stack", help="the local Kafka + Elasticsearch stack (no Docker needed)")
    stack.add_argument("action", choices=("up", "down", "status"))
    stack.add_argument("--secure", action="store_true",
                       help="Kafka with SASL_SSL, SCRAM and ACLs, own ports (README: Production security)")
    stack.set_defaults(func=_stack)
    topics = sub.add_parser("topics", help="create the pipeline's topics (idempotent)")
    topics.add_argument("action", choices=("create",))
    topics.set_defaults(func=_topics)
    schema = sub.add_parser("schema", help="print the JSON Schema of the v1 event contract")
    schema.set_defaults(func=_schema)
    redact = sub.add_parser("redact", help="redact NDJSON objects from stdin to stdout (same rules "
                            "as the stream; AUDIT_REDACTION_KEY gives keyed tokens)")
    redact.set_defaults(func=_redact)
    demo = sub.add_parser("demo", help="run the pipeline end to end with simulated agents")
    demo.add_argument("--sessions", type=int, default=2000, help="sessions to simulate (default 2000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_demo)
    register_all(sub)  # query, verify, forget, retention, hold, dlq: one module each in cli/commands
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
