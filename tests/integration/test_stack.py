"""The local stack starts from nothing, a second `stack up` is a no-op, and `stack down` stops it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

ROOT = Path(__file__).parents[2]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_audit.cli.main", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.timeout(400)
def test_a_second_stack_starts_from_nothing_and_up_is_idempotent(tmp_path: Path) -> None:
    """A fresh state folder on other ports: up starts both, up again starts nothing, down stops both."""
    env = dict(os.environ, AUDIT_STACK_DIR=str(tmp_path / "stack"), AUDIT_KAFKA_PORT="19092",
               AUDIT_ES_PORT="19200", AUDIT_S3_PORT="28333")
    env.pop("KAFKA_BOOTSTRAP", None)
    env.pop("ES_URL", None)
    try:
        first = _cli(env, "stack", "up")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "kafka          started" in first.stdout
        assert "elasticsearch  started" in first.stdout
        assert "s3             started" in first.stdout
        # The broker answers metadata requests: it is really up, not just listening.
        assert AdminClient({"bootstrap.servers": "127.0.0.1:19092"}).list_topics(timeout=10).brokers

        second = _cli(env, "stack", "up")
        assert second.returncode == 0
        assert "kafka          already running" in second.stdout
        assert "elasticsearch  already running" in second.stdout

        status = _cli(env, "stack", "status")
        assert "running at 127.0.0.1:19092" in status.stdout
    finally:
        down = _cli(env, "stack", "down")
    assert "kafka          stopped" in down.stdout
    assert "elasticsearch  stopped" in down.stdout
    assert "s3             stopped" in down.stdout
    assert "stopped" in _cli(env, "stack", "status").stdout
