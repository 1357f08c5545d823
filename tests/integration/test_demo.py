"""`agent-audit demo` runs end to end and prints what it read back from Elasticsearch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_audit.core.settings import Settings

ROOT = Path(__file__).parents[2]


@pytest.mark.timeout(300)
def test_the_demo_prints_a_redacted_timeline_and_counts(settings: Settings, tmp_path: Path) -> None:
    """The demo's own output: all events searchable, a timeline in seq order, no raw email in it; the
    stream's windowed metrics per tool, and the error-rate alert the flaky payment tool fired."""
    env = {**os.environ, **settings.to_env(), "AUDIT_DEMO_LOGS": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "agent_audit.cli.main", "demo", "--sessions", "60"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "5/5 read back from Elasticsearch" in out
    assert "Session timeline of demo-" in out
    timeline = out.split("Session timeline")[1].split("Events by kind")[0].splitlines()[1:]
    seqs = [int(line.split()[0]) for line in timeline if line.strip()]
    assert seqs == list(range(len(seqs)))
    assert "@example.com" not in out
    assert "[EMAIL]" in out or "[PHONE]" in out or "[CARD]" in out
    assert "Tool usage" in out
    windows = out.split("What the stream computed per tool")[1].split("Alerts the stream raised")[0]
    assert "charge_card" in windows and "(no window closed yet)" not in windows
    alerts = out.split("Alerts the stream raised")[1].split("Where to look next")[0]
    assert "firing" in alerts and "tool-error-rate" in alerts and "charge_card" in alerts
