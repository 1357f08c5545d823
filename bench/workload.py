"""A realistic raw-topic workload: the demo's simulated sessions, cut into NDJSON envelopes.

Events are recorded through the real client API (``AuditTrail`` on an in-memory transport) by the
demo's agents: PII in inputs and some tool parameters (so redaction does real work), tool calls of
log-normal latency with failures (so metrics do real work), reasoning, outputs and errors. Envelopes
hold up to ``per_envelope`` events of one partition in recording order, as the client cuts them.
"""

from __future__ import annotations

import random

from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.demo.scenario import AGENTS, simulate_session
from agent_audit.producers import AuditTrail
from agent_audit.producers.memory import MemoryTransport

__all__ = ["envelopes", "record_events"]


def record_events(n: int, seed: int = 7, sessions_at_once: int = 400) -> list[tuple[str, bytes]]:
    """At least ``n`` encoded events as ``(session_id, line)``, sessions interleaved in rounds."""
    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    round_no = 0
    while len(out) < n:
        for i in range(sessions_at_once):
            session = f"bench-{round_no}-{i}"
            transport = MemoryTransport()
            trail = AuditTrail(session_id=session, user_id=f"user-{rng.randrange(5000)}",
                               agent=AGENTS[i % len(AGENTS)].name, transport=transport)
            simulate_session(trail, AGENTS[i % len(AGENTS)], rng)
            out += ((session, line) for line in transport.events)
        round_no += 1
    return out


def envelopes(events: list[tuple[str, bytes]], partitions: int, per_envelope: int = 500
              ) -> list[tuple[int, bytes, int]]:
    """``(partition, envelope, events in it)``: each partition's events in order, cut every
    ``per_envelope`` events."""
    by_partition: dict[int, list[bytes]] = {}
    for session, line in events:
        by_partition.setdefault(partition_for(session, partitions), []).append(line)
    return [(p, join_envelope(lines[k:k + per_envelope]), len(lines[k:k + per_envelope]))
            for p, lines in sorted(by_partition.items())
            for k in range(0, len(lines), per_envelope)]
