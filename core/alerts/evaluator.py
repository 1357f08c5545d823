"""Alert state machine over finalized metric records: one firing and one resolved alert per episode.

Per (rule, subject) — subject is the tool, or "all" for volume — an episode goes quiet -> firing
after ``fire_after`` breaching windows in a row, and firing -> quiet after ``clear_after`` fine
windows in a row; only those two transitions emit. Windows are judged once each, in order:
a record for a window older than the newest one seen (a revision, a replay) is not judged again.

A subject with no record in a window (the tool was not called) has no data there, which counts
as fine: when records of a newer window arrive, the windows a firing subject missed count toward
its ``clear_after``, so an alert on a tool that stopped being called still resolves (with
``value`` None). Only windows that saw events feed the volume rule's trailing mean.

Alert records (the alerts index mapping is strict)::

    {"alert_id": "<episode_id>-firing" | "<episode_id>-resolved", "episode_id", "rule", "kind",
     "subject", "status": "firing" | "resolved", "since", "window_start", "window_end",
     "value", "threshold"}

``episode_id`` = sha256(rule | subject | since)[:24], ``since`` being the first breaching window:
replaying the same records gives the same ids, so duplicates are harmless downstream.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent_audit.core.alerts.rules import Rule

__all__ = ["AlertEvaluator"]

SNAPSHOT_VERSION = 2
VOLUME_SUBJECT = "all"


@dataclass
class _Episode:
    since: float | None = None  # start of the first breaching window of the current streak/episode
    firing: bool = False
    breaches: int = 0  # breaching windows in a row
    fine: int = 0  # fine windows in a row while firing
    last: float = -math.inf  # start of the last window judged
    trailing: deque[float] = field(default_factory=deque)

    def quiet(self) -> bool:
        return not self.firing and self.breaches == 0 and not self.trailing


class AlertEvaluator:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = {r.name: r for r in rules}
        self.episodes: dict[tuple[str, str], _Episode] = {}
        self.newest = -math.inf  # start of the newest window seen

    def evaluate(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Judge one metric record (records of a window arrive together, windows in order)."""
        start, end = _epoch(record["window_start"]), _epoch(record["window_end"])
        if start < self.newest:
            return []
        out = self._close_gaps(start, end - start) if start > self.newest else []
        self.newest = start
        for rule in self.rules.values():
            measured = _measure(rule, record)
            if measured is None:
                continue
            value, size = measured
            subject = VOLUME_SUBJECT if rule.kind == "volume_spike" else str(record["tool"])
            episode = self.episodes.setdefault((rule.name, subject), _Episode())
            if start <= episode.last:
                continue  # this window was judged already
            episode.last = start
            breach, bound = _judge(rule, value, size, episode)
            alert = _step(rule, episode, breach, start)
            if alert is not None:
                out.append(_alert(rule, subject, episode, alert, start, end, value, bound))
        return out

    def _close_gaps(self, start: float, size: float) -> list[dict[str, Any]]:
        # Every window before ``start`` is complete now: subjects missing from them had no data.
        out = []
        for (name, subject), episode in list(self.episodes.items()):
            rule = self.rules.get(name)
            missed = round((start - episode.last) / size) - 1 if size > 0 else 0
            if rule is None or (episode.quiet() and missed > 0):
                del self.episodes[(name, subject)]  # nothing to remember
                continue
            for k in range(1, min(missed, rule.clear_after + rule.fire_after) + 1):
                gap = episode.last + k * size if math.isfinite(episode.last) else start - size
                alert = _step(rule, episode, False, gap)
                if alert is not None:
                    out.append(_alert(rule, subject, episode, alert, gap, gap + size, None,
                                      _bound(rule, episode)))
            if missed > 0:
                episode.last = start - size
        return out

    def to_json(self) -> dict[str, Any]:
        return {"v": SNAPSHOT_VERSION, "newest": None if math.isinf(self.newest) else self.newest,
                "episodes": [[name, subject, e.since, e.firing, e.breaches, e.fine,
                              None if math.isinf(e.last) else e.last, list(e.trailing)]
                             for (name, subject), e in sorted(self.episodes.items())]}

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from ``to_json`` output (episodes of rules no longer configured are dropped)."""
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"alert snapshot version {data.get('v')!r}, expected {SNAPSHOT_VERSION}")
        self.newest = -math.inf if data["newest"] is None else float(data["newest"])
        self.episodes = {
            (name, subject): _Episode(since, bool(firing), int(breaches), int(fine),
                                      -math.inf if last is None else float(last), deque(trailing))
            for name, subject, since, firing, breaches, fine, last, trailing in data["episodes"]
            if name in self.rules}

    @classmethod
    def from_json(cls, rules: list[Rule], data: dict[str, Any]) -> AlertEvaluator:
        evaluator = cls(rules)
        evaluator.restore(data)
        return evaluator


def _measure(rule: Rule, record: dict[str, Any]) -> tuple[float, int] | None:
    """(value, size) of what ``rule`` watches in ``record``; None when it does not apply."""
    if rule.kind == "volume_spike":
        return (float(record["events"]), int(record["events"])) if record["type"] == "volume" else None
    if record["type"] != "tool" or (rule.tools and record["tool"] not in rule.tools):
        return None
    if rule.kind == "error_rate":
        return float(record["error_rate"]), int(record["calls"])
    p95 = record["latency_ms"].get("p95")
    return (float(p95), int(record["calls"])) if p95 is not None else None


def _judge(rule: Rule, value: float, size: int, episode: _Episode) -> tuple[bool, float]:
    if rule.kind != "volume_spike":
        return size >= rule.min_calls and value > rule.threshold, rule.threshold
    bound = _bound(rule, episode)
    warmed_up = len(episode.trailing) >= min(3, rule.trailing_windows)
    episode.trailing.append(value)
    while len(episode.trailing) > rule.trailing_windows:
        episode.trailing.popleft()
    return warmed_up and size >= rule.min_calls and value > bound, bound


def _bound(rule: Rule, episode: _Episode) -> float:
    if rule.kind != "volume_spike":
        return rule.threshold
    return rule.factor * (sum(episode.trailing) / len(episode.trailing) if episode.trailing else 0.0)


def _step(rule: Rule, ep: _Episode, breach: bool, window: float) -> str | None:
    """Advance the episode by one judged window; the transition it makes, if any."""
    if breach:
        ep.fine = 0
        ep.breaches += 1
        if ep.breaches == 1 and not ep.firing:
            ep.since = window
        if not ep.firing and ep.breaches >= rule.fire_after:
            ep.firing = True
            return "firing"
        return None
    ep.breaches = 0
    if not ep.firing:
        ep.since = None
        return None
    ep.fine += 1
    if ep.fine < rule.clear_after:
        return None
    ep.firing, ep.fine = False, 0
    return "resolved"


def _alert(rule: Rule, subject: str, ep: _Episode, status: str, start: float, end: float,
           value: float | None, bound: float) -> dict[str, Any]:
    since = _iso(ep.since if ep.since is not None else start)
    if status == "resolved":
        ep.since = None
    episode_id = hashlib.sha256(f"{rule.name}|{subject}|{since}".encode()).hexdigest()[:24]
    return {"alert_id": f"{episode_id}-{status}", "episode_id": episode_id, "rule": rule.name,
            "kind": rule.kind, "subject": subject, "status": status, "since": since,
            "window_start": _iso(start), "window_end": _iso(end), "value": value, "threshold": bound}


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
