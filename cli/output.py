"""What every ``agent-audit`` command shares for talking to people and scripts: rows as a table on
a terminal and as NDJSON otherwise (``--json`` / ``--table`` force one), a spinner for long steps,
and one translation of failures into a line on stderr and a documented exit code.

Exit codes (``EXIT_CODES``): 0 done; 1 the command ran and found a problem (a broken chain, missing
seqs, lines it could not redact); 2 usage (bad arguments: argparse's own); 3 a service could not be
reached (the message names the URL and what to try); 4 configuration or installation (a malformed
setting, a missing extra); 5 a service refused the request, or another runtime failure.

For command authors: add ``parents=[output_parent()]`` to a parser, write rows through
``rows_out(args)``, wrap long steps in ``progress("...")``; ``main`` turns the failures above into
their exit codes for every command (``failure_exit`` is the same, for a handler run on its own).
Credentials in a URL are never printed (``safe_url``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import orjson

__all__ = [
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_FOUND_PROBLEM",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "RowWriter",
    "describe_failure",
    "failure_exit",
    "output_parent",
    "progress",
    "rows_out",
    "safe_url",
]

EXIT_OK, EXIT_FOUND_PROBLEM, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3, 4, 5
EXIT_CODES: Mapping[int, str] = {
    EXIT_OK: "done",
    EXIT_FOUND_PROBLEM: "the command ran and found a problem (broken chain, missing seqs, bad lines)",
    EXIT_USAGE: "usage error (unknown command, bad or missing arguments)",
    EXIT_UNREACHABLE: "a service (Kafka, Elasticsearch, Kibana) could not be reached",
    EXIT_CONFIG: "configuration or installation error (a malformed setting, a missing extra)",
    EXIT_FAILED: "a service refused the request, or another runtime failure",
}
_SERVER_MODULES = ("faust", "elasticsearch", "elastic_transport", "pydantic", "rich", "prometheus_client")


# --- rows ----------------------------------------------------------------------------------------
def output_parent() -> argparse.ArgumentParser:
    """``--json`` / ``--table`` for a command that prints rows."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument("--json", dest="output", action="store_const", const="json",
                       help="one JSON object per line (the default when stdout is not a terminal)")
    group.add_argument("--table", dest="output", action="store_const", const="table",
                       help="a table (the default on a terminal)")
    return parent


class RowWriter:
    """NDJSON rows are written as they come (pipes stream); table rows are gathered and drawn on
    ``close()``, columns from the rows' keys, nested values as compact JSON."""

    def __init__(self, table: bool, stream: TextIO | None = None, columns: Sequence[str] | None = None,
                 title: str | None = None) -> None:
        self.table, self.columns, self.title = table, columns, title
        self.stream = stream if stream is not None else sys.stdout
        self.count = 0
        self._rows: list[Mapping[str, Any]] = []

    def write(self, row: Mapping[str, Any]) -> None:
        self.count += 1
        if self.table:
            self._rows.append(row)
        else:
            self.stream.write(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str).decode() + "\n")

    def close(self) -> None:
        if not self.table:
            return
        from rich.console import Console  # noqa: PLC0415 - only tables need rich (server extra)
        from rich.table import Table  # noqa: PLC0415

        columns = list(self.columns or _columns(self._rows))
        table = Table(title=self.title, show_lines=False, header_style="bold")
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in self._rows:
            table.add_row(*(_cell(row.get(name)) for name in columns))
        console = Console(file=self.stream)
        console.print(table if self._rows else "(no rows)")


def rows_out(args: argparse.Namespace, columns: Sequence[str] | None = None,
             title: str | None = None) -> RowWriter:
    """The writer ``--json`` / ``--table`` (or the terminal) asks for."""
    mode = getattr(args, "output", None)
    table = mode == "table" or (mode is None and sys.stdout.isatty())
    return RowWriter(table, columns=columns, title=title)


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        text = orjson.dumps(value, default=str).decode()
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


# --- progress ------------------------------------------------------------------------------------
@contextmanager
def progress(label: str, stream: TextIO | None = None) -> Iterator[None]:
    """A spinner with ``label`` on a terminal while the block runs; one line otherwise (logs, CI)."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        stream.write(f"{label} ...\n")
        yield
        return
    from rich.console import Console  # noqa: PLC0415

    with Console(file=stream).status(label):
        yield


# --- failures ------------------------------------------------------------------------------------
def safe_url(url: str) -> str:
    """The URL without ``user:password@``: error messages never carry credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_failure(exc: BaseException, es_url: str | None = None,
                     kafka: str | None = None) -> tuple[int, str] | None:
    """(exit code, message) for failures a user can act on; None for a bug (let it show). An
    unreachable service is found anywhere in the chain of causes (``raise ... from exc``)."""
    for cause in _causes(exc):
        for reach in (_unreachable_es, _unreachable_kafka, _timed_out):
            found = reach(cause, es_url, kafka)
            if found is not None:
                return found
    for check in (_missing_extra, _config, _kafka_refused, _es_refused, _audit):
        found = check(exc, es_url, kafka)
        if found is not None:
            return found
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__
    return chain


def failure_exit(command: str, exc: BaseException, es_url: str | None = None,
                 kafka: str | None = None) -> int:
    """Print the failure as one line on stderr and return its exit code; re-raise a bug."""
    found = describe_failure(exc, es_url, kafka)
    if found is None:
        raise exc
    code, message = found
    print(f"agent-audit {command}: {message}", file=sys.stderr)
    return code


def _missing_extra(exc: BaseException, _es: str | None, _kafka: str | None) -> tuple[int, str] | None:
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in _SERVER_MODULES:
        return EXIT_CONFIG, (f"this command needs the server components ({exc.name} is not installed): "
                             "pip install 'agent-audit[server]'")
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("opentelemetry"):
        return EXIT_CONFIG, f"{exc.name} is not installed: pip install 'agent-audit[otlp]'"
    return None


def _config(exc: BaseException, _es: str | None, _kafka: str | None) -> tuple[int, str] | None:
    from agent_audit.core.errors import ConfigError  # noqa: PLC0415

    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, f"configuration: {exc} (every setting: docs/settings.md)"
    return None


def _unreachable_es(exc: BaseException, es_url: str | None, _kafka: str | None) -> tuple[int, str] | None:
    transport = sys.modules.get("elastic_transport")
    if transport is None or not isinstance(exc, transport.ConnectionError | transport.ConnectionTimeout):
        return None
    where = safe_url(es_url) if es_url else "ES_URL"
    return EXIT_UNREACHABLE, (f"cannot reach Elasticsearch at {where} ({type(exc).__name__}). Is it running? "
                              "For the local stack try `agent-audit stack status` / `agent-audit stack up`; "
                              "otherwise set ES_URL (and ES_API_KEY) to your cluster")


def _kafka_error(exc: BaseException) -> Any:
    confluent = sys.modules.get("confluent_kafka")
    if confluent is None or not isinstance(exc, confluent.KafkaException) or not exc.args:
        return None
    return exc.args[0]


def _unreachable_kafka(exc: BaseException, _es: str | None, kafka: str | None) -> tuple[int, str] | None:
    error = _kafka_error(exc)
    if error is None or not hasattr(error, "code"):
        return None
    confluent = sys.modules["confluent_kafka"]
    unreachable = {confluent.KafkaError._TRANSPORT, confluent.KafkaError._TIMED_OUT,
                   confluent.KafkaError._ALL_BROKERS_DOWN}
    if error.code() not in unreachable:
        return None
    return EXIT_UNREACHABLE, (f"cannot reach Kafka at {kafka or 'KAFKA_BOOTSTRAP'} ({error.name()}). "
                              "Is it running? For the local stack try `agent-audit stack status`; "
                              "otherwise set KAFKA_BOOTSTRAP to your brokers")


def _timed_out(exc: BaseException, es_url: str | None, kafka: str | None) -> tuple[int, str] | None:
    if type(exc) is not TimeoutError:  # a future or socket that waited in vain, service unknown
        return None
    es = safe_url(es_url) if es_url else "ES_URL"
    where = f"Kafka at {kafka or 'KAFKA_BOOTSTRAP'} or Elasticsearch at {es}"
    return EXIT_UNREACHABLE, (f"timed out waiting for {where}. Is it running? For the local stack try "
                              "`agent-audit stack status`")


def _kafka_refused(exc: BaseException, _es: str | None, _kafka: str | None) -> tuple[int, str] | None:
    error = _kafka_error(exc)
    return None if error is None else (EXIT_FAILED, f"Kafka refused: {error}")


def _es_refused(exc: BaseException, _es: str | None, _kafka: str | None) -> tuple[int, str] | None:
    es = sys.modules.get("elasticsearch")
    transport = sys.modules.get("elastic_transport")
    kinds = tuple(k for k in (getattr(es, "ApiError", None), getattr(transport, "TransportError", None)) if k)
    if kinds and isinstance(exc, kinds):
        return EXIT_FAILED, f"Elasticsearch refused the request: {type(exc).__name__}: {exc}"
    return None


def _audit(exc: BaseException, _es: str | None, _kafka: str | None) -> tuple[int, str] | None:
    from agent_audit.core.errors import AuditError  # noqa: PLC0415

    if isinstance(exc, AuditError | ValueError | OSError):
        return EXIT_FAILED, f"{type(exc).__name__}: {exc}"
    return None
