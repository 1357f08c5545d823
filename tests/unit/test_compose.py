"""docker-compose.yml is valid for the users who run the pipeline with Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
SECRETS = ("ELASTIC_PASSWORD", "KIBANA_PASSWORD", "AUDIT_REDACTION_KEY", "AUDIT_INTEGRITY_KEY",
           "KAFKA_BROKER_PASSWORD", "KAFKA_ADMIN_PASSWORD", "KAFKA_AGENT_PASSWORD", "KAFKA_STREAM_PASSWORD",
           "KAFKA_SINK_PASSWORD")


def test_docker_compose_accepts_the_file() -> None:
    """`docker-compose config` parses it with the secrets given; every service of the design is there."""
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is needed for this check (.ci/run installs Debian's docker-compose)"
    env = dict(os.environ, **dict.fromkeys(SECRETS, "test-only"))
    done = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    services = set(done.stdout.split())
    assert {"kafka", "elasticsearch", "kibana", "stream", "sink"} <= services


def test_docker_compose_refuses_to_start_without_secrets() -> None:
    """No default password is baked in: without ELASTIC_PASSWORD the file does not resolve."""
    exe = shutil.which("docker-compose")
    assert exe
    env = {k: v for k, v in os.environ.items() if k not in ("ELASTIC_PASSWORD", "KIBANA_PASSWORD")}
    env |= {k: "test-only" for k in SECRETS if k not in ("ELASTIC_PASSWORD", "KIBANA_PASSWORD")}
    done = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "ELASTIC_PASSWORD" in done.stderr


def test_docker_compose_refuses_to_start_without_any_key_or_password() -> None:
    """Each key and password is required: missing any one, the file does not resolve, naming it."""
    exe = shutil.which("docker-compose")
    assert exe
    for missing in SECRETS:
        env = {**{k: v for k, v in os.environ.items() if k not in SECRETS},
               **{k: "test-only" for k in SECRETS if k != missing}}
        done = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                              env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode != 0 and missing in done.stderr, missing


def test_workers_never_log_in_as_elastic_and_kafka_is_never_plaintext() -> None:
    """The sink uses its API key, every client SASL_SSL with its own user; no PLAINTEXT listener."""
    text = (ROOT / "docker-compose.yml").read_text()
    assert "PLAINTEXT" not in text.replace("SASL_PLAINTEXT", "")
    assert "ES_URL: http://" not in text and "elastic:${ELASTIC_PASSWORD" not in text
