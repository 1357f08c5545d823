"""``agent-audit``: the one command-line entry point. Each subcommand lives beside its component;
``cli/output.py`` holds what they share (tables or NDJSON, progress, exit codes)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from agent_audit.cli.commands import register_all
from agent_audit.cli.output import EXIT_CODES, EXIT_FAILED, EXIT_OK, failure_exit, output_parent, progress

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Record, redact, measure and search what your AI agents do.

Agents record through the Python client (pip install agent-audit) or any OpenTelemetry SDK
(agent-audit otlp); a stream worker validates, redacts and hash-chains the events and computes
per-tool metrics and alerts; a sink worker indexes them in Elasticsearch. These commands run the
pipeline's pieces, ask the trail questions (every read is access-logged) and keep it compliant.

Query commands print a table on a terminal and one JSON object per line when piped (--json / --table
choose). Settings come from the environment (KAFKA_BOOTSTRAP, ES_URL, AUDIT_*): docs/settings.md.
"""


def _epilog() -> str:
    codes = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    return ("exit codes:\n" + codes + "\n\n"
            "examples:\n"
            "  agent-audit stack up                   start Kafka + Elasticsearch locally (no Docker)\n"
            "  agent-audit demo --sessions 200        the whole pipeline with simulated agents\n"
            "  agent-audit query timeline s-42        a session's events in order\n"
            "  agent-audit query tools --json | jq .  per-tool calls, errors and latency, for scripts\n"
            "  agent-audit COMMAND --help             the options of one command")


def _version() -> str:
    from agent_audit.version import __version__  # noqa: PLC0415 - reads installed metadata

    return __version__


def _stack(args: argparse.Namespace) -> int:
    from agent_audit.stack import LocalStack, StackError  # noqa: PLC0415 - keep CLI start-up light

    local = LocalStack.from_env(secure=args.secure)
    label = {"up": "starting Kafka, Elasticsearch and S3 (the first run downloads about 140 MB with mvn "
                   "and builds SeaweedFS with go)",
             "down": "stopping the local stack", "status": "checking the local stack"}[args.action]
    try:
        with progress(label):
            outcome = getattr(local, args.action)()
    except StackError as exc:
        print(f"agent-audit stack {args.action}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for service, state in outcome.items():
        print(f"{service:14} {state}")
    if args.action == "up":
        print(local.shell_setup())
    return EXIT_OK


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
    return EXIT_OK


def _schema(_args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from agent_audit.core.contract import json_schema  # noqa: PLC0415

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


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
    return 1 if failed else EXIT_OK


def _otlp(args: argparse.Namespace) -> int:
    from agent_audit.cli.otlp import serve  # noqa: PLC0415

    return serve(args)


def _kibana(args: argparse.Namespace) -> int:
    from agent_audit.cli.kibana import run  # noqa: PLC0415

    return run(args)


def _settings(args: argparse.Namespace) -> int:
    from agent_audit.cli.output import rows_out  # noqa: PLC0415
    from agent_audit.cli.settings_table import markdown, settings  # noqa: PLC0415

    if args.markdown:
        sys.stdout.write(markdown())
        return EXIT_OK
    out = rows_out(args, columns=("variable", "component", "default", "meaning"), title="settings")
    for setting in settings():
        out.write(vars(setting))
    out.close()
    return EXIT_OK


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
             **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose own --help starts with the line the command list shows."""
    return sub.add_parser(name, help=help, description=help, **kwargs)


def _add_builtin(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stack = _command(sub, "stack", help="the local Kafka + Elasticsearch + S3 stack (no Docker needed)")
    stack.add_argument("action", choices=("up", "down", "status"),
                       help="up: start (downloads on first use) | down: stop | status: what runs")
    stack.add_argument("--secure", action="store_true",
                       help="Kafka with SASL_SSL, SCRAM and ACLs, own ports (README: Production security)")
    stack.set_defaults(func=_stack)
    topics = _command(sub, "topics", help="create the pipeline's topics (idempotent)")
    topics.add_argument("action", choices=("create",),
                        help="create: the topics with their partitions and retention (AUDIT_* settings)")
    topics.set_defaults(func=_topics)
    schema = _command(sub, "schema", help="print the JSON Schema of the v1 event contract")
    schema.set_defaults(func=_schema)
    redact = _command(sub, "redact", help="redact NDJSON objects from stdin to stdout (same rules "
                            "as the stream; AUDIT_REDACTION_KEY gives keyed tokens)")
    redact.set_defaults(func=_redact)
    demo = _command(sub, "demo", help="run the pipeline end to end with simulated agents")
    demo.add_argument("--sessions", type=int, default=2000, help="sessions to simulate (default 2000)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the simulation (default 7)")
    demo.set_defaults(func=_demo)
    otlp = _command(sub, "otlp", help="receive OpenTelemetry GenAI spans over OTLP/HTTP (protobuf or "
                          "JSON) and record them on the raw topic (needs agent-audit[otlp])")
    otlp.add_argument("--host", help="listen address (default $AUDIT_OTLP_HOST, else 127.0.0.1)")
    otlp.add_argument("--port", type=int, help="port (default $AUDIT_OTLP_PORT, else 4318)")
    otlp.set_defaults(func=_otlp)
    kibana = _command(sub, "kibana", help="the dashboards: export the saved objects or import them")
    kibana.add_argument("action", choices=("export", "import"),
                        help="export: print the saved objects (NDJSON) for AUDIT_INDEX_PREFIX | "
                             "import: load them into Kibana, overwriting older versions")
    kibana.add_argument("--url", default=os.environ.get("KIBANA_URL", "http://127.0.0.1:5601"),
                        help="Kibana's URL for import (default $KIBANA_URL, else http://127.0.0.1:5601)")
    kibana.set_defaults(func=_kibana)
    settings = _command(sub, "settings", parents=[output_parent()],
                              help="every environment variable of every component, its default and meaning")
    settings.add_argument("--markdown", action="store_true", help="the table of docs/settings.md")
    settings.set_defaults(func=_settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-audit", description=DESCRIPTION, epilog=_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"agent-audit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_builtin(sub)
    register_all(sub)  # query, verify, forget, retention, hold, dlq: one module each in cli/commands
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from agent_audit.core.settings import Settings  # noqa: PLC0415

        defaults = Settings()
        return failure_exit(args.command, exc, es_url=os.environ.get("ES_URL", defaults.es_url),
                            kafka=os.environ.get("KAFKA_BOOTSTRAP", defaults.kafka_bootstrap))


if __name__ == "__main__":
    sys.exit(main())
