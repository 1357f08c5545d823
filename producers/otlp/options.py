"""Every option of the OTLP receiver (``agent-audit otlp``), read once from the environment.

==========================  ===============================  ==========================================
variable                    default                          meaning
==========================  ===============================  ==========================================
AUDIT_OTLP_HOST             127.0.0.1                        address the receiver listens on
AUDIT_OTLP_PORT             4318                             its port (OTLP/HTTP's usual one)
AUDIT_OTLP_MAX_BYTES        16777216 (16 MiB)                bound of one request body, decompressed
AUDIT_OTLP_TOKEN            (none)                           bearer token senders must present;
                                                             required in production when the host is
                                                             not a loopback address
AUDIT_OTLP_AGENT            otlp                             agent name of spans with neither
                                                             gen_ai.agent.name nor service.name
==========================  ===============================  ==========================================

The events go out through the client's Kafka transport, so ``KAFKA_BOOTSTRAP``, the topic prefix
and every ``AUDIT_*`` client option (linger, spool, ...) apply as for any agent.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent_audit.core.envvars import env_int
from agent_audit.core.errors import ConfigError

__all__ = ["OtlpOptions"]


@dataclass(frozen=True)
class OtlpOptions:
    host: str = "127.0.0.1"
    port: int = 4318
    max_bytes: int = 16 * 1024 * 1024
    token: str | None = field(default=None, repr=False)
    agent: str = "otlp"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OtlpOptions:
        """Read the variables above; a malformed number is a ``ConfigError`` naming the variable."""
        env = os.environ if env is None else env
        d = cls()
        return cls(host=env.get("AUDIT_OTLP_HOST") or d.host,
                   port=env_int(env, "AUDIT_OTLP_PORT", d.port, allow_zero=True),
                   max_bytes=env_int(env, "AUDIT_OTLP_MAX_BYTES", d.max_bytes),
                   token=env.get("AUDIT_OTLP_TOKEN") or None,
                   agent=env.get("AUDIT_OTLP_AGENT") or d.agent)

    def check(self, production: bool) -> None:
        """In production a receiver reachable from other hosts must ask for a token."""
        if production and self.token is None and not _loopback(self.host):
            raise ConfigError(f"AUDIT_OTLP_TOKEN is required to listen on {self.host} in production "
                              "(or listen on 127.0.0.1 behind a collector)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

