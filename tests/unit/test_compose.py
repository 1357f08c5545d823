"""docker-compose.yml is valid for the users who run the pipeline with Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_docker_compose_accepts_the_file() -> None:
    """`docker-compose config` parses it with the secrets given; every service of the design is there."""
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is needed for this check (.ci/run installs Debian's docker-compose)"
    env = dict(os.environ, ELASTIC_PASSWORD="test-only", KIBANA_PASSWORD="test-only",
               AUDIT_REDACTION_KEY="test-only", AUDIT_MASTER_KEY="test-only-master-key")
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
    done = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "ELASTIC_PASSWORD" in done.stderr
