"""Numbers read from environment variables: one parser, so every component words its errors alike.

A missing or empty variable gives the default; anything else must parse and be in range, or a
``ConfigError`` names the variable and the value it got (settings are never secrets' numbers).
"""

from __future__ import annotations

from collections.abc import Mapping

from agent_audit.core.errors import ConfigError

__all__ = ["env_float", "env_int"]


def env_int(env: Mapping[str, str], name: str, default: int, allow_zero: bool = False) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:  # NaN included
        raise ConfigError(f"{name} must be positive, got {value}")
    return value
