"""The exit hook: an agent that exits while the broker is away neither hangs nor loses its events."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport
from tests.integration.test_producer_kafka import read_events

AGENT = textwrap.dedent("""
    import sys
    from agent_audit.producers import AuditTrail
    trail = AuditTrail(session_id=sys.argv[1], user_id="u", agent="bot")   # the shared default transport
    for i in range(100):
        trail.input("text", content=f"message {i}")
""")


def test_an_agent_exiting_during_an_outage_leaves_its_events_for_the_next_process(
        settings: Settings, tmp_path: Path) -> None:
    """Exit with the broker away: the hook waits AUDIT_EXIT_TIMEOUT_S, spools the rest; the next process
    (on the reachable broker) adopts that spool and delivers every event in order."""
    session = f"exit-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **settings.to_env(), "KAFKA_BOOTSTRAP": "127.0.0.1:1",
           "AUDIT_SPOOL_DIR": str(tmp_path), "AUDIT_EXIT_TIMEOUT_S": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", AGENT, session], env=env, capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert time.monotonic() - started < 15  # bounded: never message.timeout.ms, never forever
    assert any(tmp_path.rglob("*.seg"))

    transport = KafkaTransport(settings, options=ClientOptions(spool_dir=tmp_path), exit_hook=False)
    trail = AuditTrail(session_id=f"other-{session}", user_id="u", agent="bot", transport=transport)
    trail.input(content="the next process records too")
    deadline = time.monotonic() + 30
    while transport.counters.recovered < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert transport.flush(30) and transport.shutdown(5)
    assert transport.counters.recovered == 100
    events, _ = read_events(settings, 101)
    assert [e["seq"] for e in events if e["session_id"] == session] == list(range(100))
