"""The command line reads as user help and fails usefully: --version, help on every positional,
tables for people and NDJSON for scripts, connection errors that name the URL (never its password)
and say what to try, and distinct exit codes for usage, unreachable services, configuration and
refusals."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from agent_audit.cli.main import build_parser, main
from agent_audit.cli.output import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    RowWriter,
    describe_failure,
    safe_url,
)
from agent_audit.core.errors import ConfigError
from agent_audit.version import __version__


def _walk(parser: argparse.ArgumentParser, path: str = "agent-audit") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _walk(sub, f"{path} {name}")
        elif not action.option_strings:
            found.append((path, action))
    return found


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``agent-audit --version`` prints 'agent-audit <version>' and exits 0."""
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"agent-audit {__version__}"


def test_the_top_level_help_is_for_users_and_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """--help explains what the tool does, lists every exit code and gives examples."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert text.index("Record, redact, measure and search") < text.index("exit codes:")
    for code, meaning in EXIT_CODES.items():
        assert f"{code}  {meaning}" in text
    assert "examples:" in text and "agent-audit query timeline" in text


def test_every_positional_argument_has_help() -> None:
    """No positional of any command (ours or another module's) is left without a help text."""
    missing = [f"{path}: {action.dest}" for path, action in _walk(build_parser()) if not action.help]
    assert missing == []


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command or a missing argument is argparse's exit 2, distinct from runtime failures."""
    with pytest.raises(SystemExit) as done:
        main(["query", "timeline"])
    assert done.value.code == EXIT_USAGE
    assert "session_id" in capsys.readouterr().err


def test_an_unreachable_elasticsearch_names_the_url_without_credentials(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """ES_URL with a password pointing nowhere: exit 3, the URL without the password, what to try."""
    monkeypatch.setenv("ES_URL", "http://elastic:hunter2@127.0.0.1:1")
    monkeypatch.setenv("AUDIT_MODE", "development")
    assert main(["query", "tools", "--json"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert "cannot reach Elasticsearch at http://127.0.0.1:1" in err
    assert "agent-audit stack status" in err and "ES_URL" in err
    assert "hunter2" not in err and "elastic:" not in err


def test_a_malformed_setting_exits_4_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """AUDIT_RAW_PARTITIONS=many: exit 4 and the variable named."""
    monkeypatch.setenv("AUDIT_RAW_PARTITIONS", "many")
    assert main(["topics", "create"]) == EXIT_CONFIG
    assert "AUDIT_RAW_PARTITIONS" in capsys.readouterr().err


def test_failures_map_to_their_exit_codes() -> None:
    """A missing server package (or opentelemetry-proto) is 4 with the install line; ConfigError 4; a
    refusal 5; a bug is None."""
    missing = ModuleNotFoundError("No module named 'faust'", name="faust")
    assert describe_failure(missing) == (
        EXIT_CONFIG, "this command needs the server components (faust is not installed): "
                     "pip install 'agent-audit[server]'")
    proto = ModuleNotFoundError("No module named 'opentelemetry.proto'", name="opentelemetry.proto")
    assert "pip install 'agent-audit[otlp]'" in describe_failure(proto)[1]  # type: ignore[index]
    assert describe_failure(ConfigError("AUDIT_X must be an integer"))[0] == EXIT_CONFIG  # type: ignore[index]
    assert describe_failure(ValueError("bad time"))[0] == EXIT_FAILED  # type: ignore[index]
    assert describe_failure(ZeroDivisionError()) is None


def test_rows_are_ndjson_for_scripts_and_a_table_for_people() -> None:
    """The JSON writer streams one sorted object per line; the table writer draws every column."""
    rows = [{"tool": "search_kb", "calls": 3, "p95_ms": 12.3456, "extra": {"a": 1}},
            {"tool": "pay", "calls": 1}]
    out = io.StringIO()
    writer = RowWriter(table=False, stream=out)
    for row in rows:
        writer.write(row)
    writer.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == rows
    out = io.StringIO()
    writer = RowWriter(table=True, stream=out, title="query tools")
    for row in rows:
        writer.write(row)
    writer.close()
    text = out.getvalue()
    assert all(word in text for word in ("query tools", "tool", "calls", "search_kb", "12.35", '{"a":1}'))
    assert writer.count == 2


def test_an_unreachable_kafka_is_found_behind_our_own_errors() -> None:
    """A TransientError raised from a KafkaException(_TRANSPORT) is 'cannot reach Kafka at <bootstrap>'
    (exit 3); a Kafka error that is a refusal (topic authorization) is exit 5."""
    from confluent_kafka import KafkaError, KafkaException  # noqa: PLC0415

    from agent_audit.core.errors import TransientError  # noqa: PLC0415

    try:
        try:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        except KafkaException as exc:
            raise TransientError("creating topic failed") from exc
    except TransientError as wrapped:
        code, message = describe_failure(wrapped, kafka="k1:9092") or (0, "")
    assert code == EXIT_UNREACHABLE and "cannot reach Kafka at k1:9092" in message
    refused = KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    assert describe_failure(refused)[0] == EXIT_FAILED  # type: ignore[index]


@pytest.mark.parametrize(("url", "shown"), [
    ("http://elastic:s3cret@es.internal:9200/", "http://es.internal:9200/"),
    ("https://es.example.com", "https://es.example.com"),
])
def test_urls_lose_their_credentials(url: str, shown: str) -> None:
    """safe_url keeps scheme, host, port and path, and drops user, password and query."""
    assert safe_url(url) == shown
