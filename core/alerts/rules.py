"""Alert rules and their TOML file, validated at start-up (a bad file is a ``ConfigError``).

Example (``AUDIT_ALERT_RULES``)::

    [[rule]]
    name = "tool-error-rate"
    kind = "error_rate"       # errors / calls of a tool in a window, 0..1
    threshold = 0.2
    min_calls = 20            # windows with fewer calls say nothing (they count as fine)

    [[rule]]
    name = "tool-p95"
    kind = "p95_latency"      # milliseconds
    threshold = 5000
    tools = ["run_tests"]     # omitted: every tool
    fire_after = 2            # two breaching windows in a row before it fires

    [[rule]]
    name = "volume-spike"
    kind = "volume_spike"     # events in a window > factor x the mean of the previous windows
    factor = 3.0
    trailing_windows = 10
    min_calls = 50            # a window needs at least this many events to be a spike
    clear_after = 3           # three fine windows in a row before it resolves
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from typing import Any

from agent_audit.core.errors import ConfigError

__all__ = ["KINDS", "Rule", "default_rules", "load_rules"]

KINDS = ("error_rate", "p95_latency", "volume_spike")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    threshold: float = 0.0  # error_rate: a fraction; p95_latency: ms; unused by volume_spike
    factor: float = 3.0  # volume_spike: how many times the trailing mean is a spike
    min_calls: int = 20  # the guard: fewer calls (events, for volume) than this never breach
    trailing_windows: int = 10  # volume_spike: how many previous windows make the mean
    fire_after: int = 1  # consecutive breaching windows before it fires
    clear_after: int = 2  # consecutive fine windows before it resolves
    tools: tuple[str, ...] = ()  # error_rate / p95_latency: only these tools (empty: all)


_INTS = {"min_calls": 0, "trailing_windows": 1, "fire_after": 1, "clear_after": 1}  # name -> least


def load_rules(text: str) -> list[Rule]:
    """Rules from TOML text: a ``[[rule]]`` table per rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"alert rules: {exc}") from None
    unknown = set(data) - {"rule"}
    if unknown:
        raise ConfigError(f"alert rules: unknown top-level keys {sorted(unknown)}; use [[rule]] tables")
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError("alert rules: each rule is a [[rule]] table")
    rules = [_rule(raw) for raw in tables]
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"alert rules: duplicate names {duplicates}")
    return rules


def _rule(raw: dict[str, Any]) -> Rule:
    name = raw.get("name")
    where = f"alert rule {name!r}"
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: name must be a non-empty string")
    unknown = set(raw) - {f.name for f in fields(Rule)}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {KINDS}")
    for key, least in _INTS.items():
        value = raw.get(key, least)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ConfigError(f"{where}: {key} must be an integer >= {least}")
    for key in ("threshold", "factor"):
        value = raw.get(key, 1.0)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{where}: {key} must be a number > 0")
    if kind != "volume_spike" and "threshold" not in raw:
        raise ConfigError(f"{where}: {kind} needs a threshold")
    if kind == "error_rate" and raw["threshold"] > 1:
        raise ConfigError(f"{where}: an error_rate threshold is a fraction (0..1)")
    tools = raw.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise ConfigError(f"{where}: tools must be a list of tool names")
    return Rule(**{**raw, "threshold": float(raw.get("threshold", 0.0)),
                   "factor": float(raw.get("factor", 3.0)), "tools": tuple(tools)})


def default_rules() -> list[Rule]:
    """The rules used when no file is given."""
    return [Rule("tool-error-rate", "error_rate", threshold=0.2),
            Rule("tool-p95-latency", "p95_latency", threshold=10_000),
            Rule("volume-spike", "volume_spike", factor=3.0, min_calls=50)]
