"""docker-compose.yml is valid for the users who run the pipeline with Docker, checked without Docker.

The file is interpolated the way Compose does (``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``,
``$$``) and validated against the Compose Specification's JSON Schema, vendored in
``tests/unit/schemas/compose-spec.json``: taken unchanged from github.com/compose-spec/compose-spec,
commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23), ``schema/compose-spec.json``,
Apache-2.0 (see ``tests/unit/schemas/NOTICE``). Where a Compose CLI exists (``docker compose`` or
``docker-compose``), it must accept the file too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "compose-spec.json"
SECRETS = dict.fromkeys(
    ("ELASTIC_PASSWORD", "KIBANA_PASSWORD", "AUDIT_REDACTION_KEY", "AUDIT_INTEGRITY_KEY", "AUDIT_MASTER_KEY",
     "AUDIT_SIGNING_KEY", "KAFKA_BROKER_PASSWORD", "KAFKA_ADMIN_PASSWORD", "KAFKA_AGENT_PASSWORD",
     "KAFKA_STREAM_PASSWORD", "KAFKA_SINK_PASSWORD"), "test-only")

# $$ | $NAME | ${NAME} | ${NAME<op>word} with op one of :- - :? ? :+ +
_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|(?P<plain>[A-Za-z_]\w*)|"
                       r"\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<word>[^}]*))?\})")


class MissingVariable(Exception):
    """A ``${NAME:?message}`` whose variable is unset (or empty): Compose refuses the file."""


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["plain"] or match["name"]
        op, word, value = match["op"], match["word"] or "", env.get(name)
        unset_or_empty = value is None or (value == "" and (op or "").startswith(":"))
        if op in (":-", "-"):
            return word if unset_or_empty else value or ""
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"required variable {name} is missing a value: {word}")
            return value or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else word
        return value or ""
    return _VARIABLE.sub(one, text)


def _interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [_interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate(value, env) for key, value in node.items()}
    return node


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """The file as Compose sees it: YAML (anchors and merge keys resolved), then interpolated."""
    return _interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), env)  # type: ignore[no-any-return]


def test_the_file_follows_the_compose_specification() -> None:
    """With its secrets given, the file validates against the Compose Specification's JSON Schema."""
    schema = orjson.loads(SCHEMA_FILE.read_bytes())
    errors = sorted(Draft7Validator(schema).iter_errors(load_compose(SECRETS)), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_every_service_of_the_design_is_there() -> None:
    """Kafka, Elasticsearch, Kibana, the stream and the sink are services; the workers get their keys,
    talk TLS to Elasticsearch and SASL_SSL to Kafka, and only the stream holds the signing key."""
    services = load_compose(SECRETS)["services"]
    assert {"kafka", "elasticsearch", "kibana", "stream", "sink"} <= set(services)
    for worker in ("stream", "sink"):
        env = services[worker]["environment"]
        assert env["ES_URL"].startswith("https://") and "elastic:" not in env["ES_URL"]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["AUDIT_REDACTION_KEY"] and env["AUDIT_MASTER_KEY"]
    assert services["stream"]["environment"]["AUDIT_SIGNING_KEY"]
    assert "AUDIT_SIGNING_KEY" not in services["sink"]["environment"]


def test_workers_never_log_in_as_elastic_and_kafka_is_never_plaintext() -> None:
    """No PLAINTEXT listener and no `elastic` login anywhere in the file."""
    text = COMPOSE_FILE.read_text()
    assert "PLAINTEXT" not in text.replace("SASL_PLAINTEXT", "")
    assert "ES_URL: http://" not in text and "elastic:${ELASTIC_PASSWORD" not in text


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_the_file_refuses_to_resolve_without_its_secrets(missing: str) -> None:
    """No default password is baked in: without one of the secrets the file does not resolve."""
    env = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(MissingVariable, match=missing):
        load_compose(env)


def test_interpolation_follows_compose_rules() -> None:
    """The checker itself: defaults, required values, alternatives and ``$$`` as Compose reads them."""
    env = {"SET": "v", "EMPTY": ""}
    cases = {"${SET}": "v", "$SET/x": "v/x", "${UNSET:-d}": "d", "${EMPTY:-d}": "d", "${EMPTY-d}": "",
             "${SET:+alt}": "alt", "${UNSET:+alt}": "", "$$SET": "$SET", "${UNSET}": ""}
    assert {text: _substitute(text, env) for text in cases} == cases
    with pytest.raises(MissingVariable):
        _substitute("${EMPTY:?needed}", env)
    assert _substitute("${EMPTY?needed}", env) == ""


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30,
                                 check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_a_compose_cli_accepts_the_file_where_one_is_installed() -> None:
    """Where `docker compose` or `docker-compose` exists, it resolves the file with the secrets given
    and refuses it without them (the schema tests above hold on every machine)."""
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Compose CLI on this machine: the file was checked against the schema only")
    base = {k: v for k, v in os.environ.items() if k not in SECRETS}
    done = subprocess.run([*cli, "-f", str(COMPOSE_FILE), "config", "--services"], env={**base, **SECRETS},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert {"kafka", "elasticsearch", "kibana", "stream", "sink"} <= set(done.stdout.split())
    refused = subprocess.run([*cli, "-f", str(COMPOSE_FILE), "config", "-q"], env=base,
                             capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0 and any(name in refused.stderr for name in SECRETS)
