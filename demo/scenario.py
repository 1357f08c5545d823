"""Simulated agents with realistic sessions: PII in inputs, tool calls of varied latency, failures.

Deterministic for a seed. Latencies are drawn (log-normal per tool), not slept, so thousands of
sessions take seconds; everything else goes through the real client API an agent would use.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agent_audit.producers import AuditTrail

__all__ = ["AGENTS", "DEMO_AGENTS", "FLAKY_AGENT", "simulate_session"]


@dataclass(frozen=True)
class Tool:
    name: str
    median_ms: float
    error_rate: float


@dataclass(frozen=True)
class AgentProfile:
    name: str
    version: str
    tools: tuple[Tool, ...]
    model: str


AGENTS = (
    AgentProfile("support-bot", "2.3.1", (
        Tool("search_kb", 45, 0.01), Tool("lookup_order", 120, 0.03), Tool("issue_refund", 380, 0.08),
    ), "gpt-4o-mini"),
    AgentProfile("research-assistant", "0.9.0", (
        Tool("web_search", 650, 0.05), Tool("fetch_page", 900, 0.10), Tool("summarize", 1400, 0.02),
    ), "claude-sonnet"),
    AgentProfile("coding-agent", "1.4.0", (
        Tool("read_file", 8, 0.005), Tool("run_tests", 5200, 0.15), Tool("apply_patch", 30, 0.02),
    ), "gpt-4.1"),
)

# Only the demo runs this one (bench/ keeps AGENTS' mix): a payment tool failing half its calls, so
# the stream's default error-rate rule (20 % of at least 20 calls in a window) fires an alert.
FLAKY_AGENT = AgentProfile("billing-agent", "1.0.0", (Tool("charge_card", 250, 0.5),), "gpt-4o-mini")
DEMO_AGENTS = (*AGENTS, FLAKY_AGENT)

_NAMES = ["Jane Doe", "Ravi Patel", "Chen Wei", "Maria Garcia", "Lars Jensen", "Amara Okafor"]
_ASKS = [
    "Hi, I'm {name} ({email}). My order #{order} never arrived, call me on {phone}.",
    "Please refund the charge on card {card}; my email is {email}.",
    "Can you find recent papers on retrieval-augmented generation? Reply to {email}.",
    "The build fails on main since commit {sha}; ping me at {phone}.",
]
_CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"]
_PHONES = ["+44 20 7946 0958", "(415) 555-0132", "+49 30 901820", "+1-202-555-0173"]


def _pii_text(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    email = name.lower().replace(" ", ".") + "@example.com"
    return rng.choice(_ASKS).format(name=name, email=email, phone=rng.choice(_PHONES),
                                    card=rng.choice(_CARDS), order=rng.randint(10000, 99999),
                                    sha=f"{rng.getrandbits(40):010x}")


def simulate_session(trail: AuditTrail, agent: AgentProfile, rng: random.Random) -> int:
    """Record one realistic session through ``trail``; returns the number of events recorded."""
    n = 0
    trail.input("text", content=_pii_text(rng), metadata={"channel": rng.choice(["web", "slack", "api"])})
    n += 1
    trail.reasoning("Work out what the user needs, then call the tools.",
                    plan=[t.name for t in agent.tools], confidence=round(rng.uniform(0.5, 0.95), 2))
    n += 1
    for _ in range(rng.randint(2, 6)):
        tool = rng.choice(agent.tools)
        duration = rng.lognormvariate(0, 0.6) * tool.median_ms
        failed = rng.random() < tool.error_rate
        params = {"query": _pii_text(rng) if rng.random() < 0.3 else f"ticket {rng.randint(1, 999)}"}
        trail.record_tool_call(
            tool.name, parameters=params, duration_ms=round(duration, 3),
            status="error" if failed else "success",
            result=None if failed else {"items": rng.randint(0, 12), "cached": rng.random() < 0.4},
        )
        n += 1
        if failed:
            trail.error(type="ToolError", message=f"{tool.name} failed: upstream timeout",
                        tool_name=tool.name, recovery_action="retry with backoff")
            n += 1
    trail.output("text", content="Here is what I found and did.", tokens_used=rng.randint(200, 4000),
                 model=agent.model, cost=round(rng.uniform(0.0005, 0.05), 5))
    return n + 1
