"""Alert rules over finalized metric records: fire once per episode, resolve once, never flap.

Rules come from a TOML file (``AUDIT_ALERT_RULES``), for example::

    [[rule]]
    name = "tool-error-rate"
    kind = "error_rate"       # errors / calls of a tool in a window
    threshold = 0.2
    min_calls = 20            # fewer calls than this say nothing

    [[rule]]
    name = "tool-p95"
    kind = "p95_latency"      # milliseconds
    threshold = 5000
    tools = ["run_tests"]     # omitted: every tool

    [[rule]]
    name = "volume-spike"
    kind = "volume_spike"     # events in a window against the trailing mean of the previous ones
    factor = 3.0
    trailing_windows = 10
    min_calls = 50

An alert fires on the first breaching window and resolves after ``clear_after`` windows in a row
within bounds; between the two nothing is emitted, whatever the windows do.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError

__all__ = ["AlertEvaluator", "Rule", "default_rules", "load_rules"]

KINDS = ("error_rate", "p95_latency", "volume_spike")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    threshold: float = 0.0
    factor: float = 3.0
    min_calls: int = 20
    trailing_windows: int = 10
    clear_after: int = 2
    tools: tuple[str, ...] = ()


def load_rules(text: str) -> list[Rule]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"alert rules: {exc}") from None
    rules = []
    for raw in data.get("rule", []):
        if raw.get("kind") not in KINDS:
            raise ConfigError(f"alert rule {raw.get('name')!r}: kind must be one of {KINDS}")
        rules.append(Rule(**{**raw, "tools": tuple(raw.get("tools", ()))}))
    return rules


def default_rules() -> list[Rule]:
    return [Rule("tool-error-rate", "error_rate", threshold=0.2),
            Rule("tool-p95-latency", "p95_latency", threshold=10_000),
            Rule("volume-spike", "volume_spike", factor=3.0, min_calls=50)]


@dataclass
class _Episode:
    firing_since: str | None = None
    ok_streak: int = 0
    last_window: str = ""
    trailing: deque[float] = field(default_factory=deque)


class AlertEvaluator:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.episodes: dict[str, _Episode] = {}

    def evaluate(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for rule in self.rules:
            measured = _measure(rule, record)
            if measured is None:
                continue
            subject = record.get("tool") or "all"
            key = f"{rule.name}|{subject}"
            episode = self.episodes.setdefault(key, _Episode())
            if record["window_start"] <= episode.last_window:
                continue  # a revision or a replay of a window already judged
            episode.last_window = record["window_start"]
            breach, value, bound = self._judge(rule, measured, episode)
            alert = self._transition(rule, subject, episode, breach, record)
            if alert is not None:
                out.append({**alert, "value": value, "threshold": bound})
        return out

    def _judge(self, rule: Rule, measured: tuple[float, int], ep: _Episode) -> tuple[bool, float, float]:
        value, calls = measured
        if rule.kind != "volume_spike":
            return calls >= rule.min_calls and value > rule.threshold, value, rule.threshold
        mean = sum(ep.trailing) / len(ep.trailing) if ep.trailing else 0.0
        bound = rule.factor * mean
        warmed_up = len(ep.trailing) >= min(3, rule.trailing_windows)  # a mean of what came before
        breach = warmed_up and value >= rule.min_calls and value > bound
        ep.trailing.append(value)
        while len(ep.trailing) > rule.trailing_windows:
            ep.trailing.popleft()
        return breach, value, bound

    def _transition(self, rule: Rule, subject: str, ep: _Episode, breach: bool,
                    record: dict[str, Any]) -> dict[str, Any] | None:
        if breach:
            ep.ok_streak = 0
            if ep.firing_since is None:
                ep.firing_since = record["window_start"]
                return _alert(rule, subject, ep.firing_since, "firing", record)
            return None
        if ep.firing_since is None:
            return None
        ep.ok_streak += 1
        if ep.ok_streak < rule.clear_after:
            return None
        since, ep.firing_since, ep.ok_streak = ep.firing_since, None, 0
        return _alert(rule, subject, since, "resolved", record)

    def to_json(self) -> dict[str, Any]:
        return {k: {"since": e.firing_since, "ok": e.ok_streak, "last": e.last_window,
                    "trailing": list(e.trailing)} for k, e in self.episodes.items()}

    def restore(self, data: dict[str, Any]) -> None:
        self.episodes = {k: _Episode(v["since"], v["ok"], v["last"], deque(v["trailing"]))
                         for k, v in data.items()}


def _measure(rule: Rule, record: dict[str, Any]) -> tuple[float, int] | None:
    if rule.kind == "volume_spike":
        return (float(record["events"]), int(record["events"])) if record["type"] == "volume" else None
    if record["type"] != "tool" or (rule.tools and record["tool"] not in rule.tools):
        return None
    if rule.kind == "error_rate":
        return float(record["error_rate"]), int(record["calls"])
    p95 = record["latency_ms"].get("p95")
    return (float(p95), int(record["calls"])) if p95 is not None else None


def _alert(rule: Rule, subject: str, since: str, status: str, record: dict[str, Any]) -> dict[str, Any]:
    episode_id = hashlib.sha256(f"{rule.name}|{subject}|{since}".encode()).hexdigest()[:24]
    return {"alert_id": f"{episode_id}-{status}", "episode_id": episode_id, "rule": rule.name,
            "kind": rule.kind, "subject": subject, "status": status, "since": since,
            "window_start": record["window_start"], "window_end": record["window_end"]}
