"""What every command of these groups shares: settings read once, a client, the actor, JSON output.

Heavy imports (the Elasticsearch client) happen when a command runs, not when the parser is built,
so ``agent-audit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, wraps
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from agent_audit.core.redaction import Redactor
    from agent_audit.core.settings import Settings
    from agent_audit.sinks.access_log import AccessLog

__all__ = ["Context", "Handler", "actor_parent", "emit", "reports_errors"]

Handler = Callable[[argparse.Namespace], int]


def actor_parent() -> argparse.ArgumentParser:
    """``--actor`` for every command that reads or changes the trail (recorded with what it did)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--actor", help="who is asking (default: $AUDIT_ACTOR, else the OS user)")
    return parent


@dataclass
class Context:
    args: argparse.Namespace
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        from agent_audit.core.settings import Settings  # noqa: PLC0415 - keep parser construction light

        self.settings = Settings.from_env()

    @property
    def prefix(self) -> str:
        return self.settings.index_prefix

    @property
    def actor(self) -> str:
        from agent_audit.sinks.access_log import resolve_actor  # noqa: PLC0415

        return resolve_actor(getattr(self.args, "actor", None))

    @cached_property
    def es(self) -> Elasticsearch:
        from agent_audit.sinks.worker import build_es  # noqa: PLC0415

        return build_es(self.settings)

    @cached_property
    def redactor(self) -> Redactor:
        from agent_audit.sinks.compliance.identifiers import redactor_for  # noqa: PLC0415

        return redactor_for(self.settings)

    @cached_property
    def access_log(self) -> AccessLog:
        """The access log, its index ensured first: a read that cannot be logged never starts."""
        from agent_audit.sinks.access_log import AccessLog, kafka_publisher  # noqa: PLC0415

        # Signed like the events (through the stream) unless integrity is off (development only).
        publish = kafka_publisher(self.settings) if self.settings.integrity else None
        log = AccessLog(self.es, self.prefix, self.redactor, publish)
        log.ensure()
        return log


def emit(value: Any) -> None:
    """One JSON document per line on stdout (NDJSON: pipes into jq, files, other tools)."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() + "\n")


def reports_errors(handler: Handler) -> Handler:
    """Turn the failures a user can act on into one line on stderr and their exit code
    (``cli/output.py``: 3 unreachable, 4 configuration, 5 refused)."""
    return _reporting(handler, None)


def reports_failures_as_2(handler: Handler) -> Handler:
    """``reports_errors`` for the verify commands, whose codes 3-5 are tampering verdicts: a
    failure (unreachable, configuration, refused) is reported the same way but exits 2."""
    return _reporting(handler, 2)


def _reporting(handler: Handler, exit_code: int | None) -> Handler:
    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from agent_audit.cli.output import failure_exit  # noqa: PLC0415

        try:
            return handler(args)
        except Exception as exc:
            code = failure_exit(args.command, exc, es_url=os.environ.get("ES_URL", "http://127.0.0.1:9200"),
                                kafka=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
            return code if exit_code is None else exit_code

    return run
