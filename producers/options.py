"""Every option of the agent client, read once from the environment (beside ``core.settings``).

==========================  ===============================  ==========================================
variable                    default                          meaning
==========================  ===============================  ==========================================
AUDIT_SPOOL_DIR             $XDG_STATE_HOME/agent-audit/     disk spools: one folder per topic, one
                            spool (else ~/.local/state/...)  sub-folder per process (locked while alive);
                                                             private: folders 0700, files 0600
AUDIT_SPOOL_KEY             (none)                           32-byte key (64 hex digits or base64):
                                                             the spool is encrypted at rest (AES-GCM;
                                                             needs agent-audit[secure])
AUDIT_SPOOL_MAX_BYTES       1073741824 (1 GiB)               bound of one process's spool; past it new
                                                             envelopes are dropped and counted
AUDIT_SPOOL_FSYNC           batch                            always (per envelope) | batch (once per
                                                             background tick) | never
AUDIT_QUEUE_EVENTS          100000                           bound of the in-memory queue, in events
AUDIT_QUEUE_BYTES           67108864 (64 MiB)                bound of the in-memory queue, in bytes
AUDIT_LINGER_MS             200                              how long events gather into envelopes
                                                             (the stream's cost is per envelope: one
                                                             envelope per raw partition per linger;
                                                             at 100 ms, 6 partitions made ~55 a second,
                                                             all one stream worker could finish, and
                                                             the pipeline held 3.5k events/s; 200 ms:
                                                             27 a second, 4.4-5.4k events/s)
AUDIT_ENVELOPE_EVENTS       500                              events per envelope at most
AUDIT_ENVELOPE_BYTES        524288 (512 KiB)                 bytes per envelope at most (Kafka's
                                                             default message bound is 1 MB)
AUDIT_COMPRESSION           lz4                              lz4 | zstd | gzip | snappy | none (the
                                                             stream reads lz4/zstd through cramjam)
AUDIT_EXIT_TIMEOUT_S        5                                how long the exit hook waits for delivery
                                                             before it moves the rest to the spool
==========================  ===============================  ==========================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent_audit.core.envvars import env_int
from agent_audit.core.errors import ConfigError

if TYPE_CHECKING:
    from agent_audit.producers.spool_cipher import SpoolCipher

__all__ = ["ClientOptions", "FsyncPolicy", "default_spool_dir"]

FsyncPolicy = Literal["always", "batch", "never"]
_COMPRESSIONS = ("lz4", "zstd", "gzip", "snappy", "none")


def default_spool_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's own state folder (XDG), never a shared one like /tmp: spools hold raw events."""
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "agent-audit" / "spool"


@dataclass(frozen=True)
class ClientOptions:
    spool_dir: Path = field(default_factory=default_spool_dir)
    spool_max_bytes: int = 1024**3
    spool_fsync: FsyncPolicy = "batch"
    queue_events: int = 100_000
    queue_bytes: int = 64 * 1024 * 1024
    linger_ms: int = 200
    envelope_events: int = 500
    envelope_bytes: int = 512 * 1024
    compression: str = "lz4"
    exit_timeout_s: float = 5.0
    spool_key: bytes | None = field(default=None, repr=False)

    def spool_cipher(self) -> SpoolCipher | None:
        """The spool's cipher when a key is configured (ConfigError if cryptography is missing)."""
        from agent_audit.producers.spool_cipher import SpoolCipher  # noqa: PLC0415

        return SpoolCipher(self.spool_key) if self.spool_key else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientOptions:
        """Read the variables above; a malformed value is a ``ConfigError`` naming the variable."""
        env = os.environ if env is None else env
        d = cls(spool_dir=default_spool_dir(env))
        fsync = env.get("AUDIT_SPOOL_FSYNC", d.spool_fsync)
        if fsync not in ("always", "batch", "never"):
            raise ConfigError(f"AUDIT_SPOOL_FSYNC must be always, batch or never, got {fsync!r}")
        compression = env.get("AUDIT_COMPRESSION", d.compression)
        if compression not in _COMPRESSIONS:
            raise ConfigError(f"AUDIT_COMPRESSION must be one of {', '.join(_COMPRESSIONS)}")
        return cls(
            spool_dir=Path(env.get("AUDIT_SPOOL_DIR") or d.spool_dir),
            spool_max_bytes=env_int(env, "AUDIT_SPOOL_MAX_BYTES", d.spool_max_bytes),
            spool_fsync=fsync,  # type: ignore[arg-type]  # checked just above
            queue_events=env_int(env, "AUDIT_QUEUE_EVENTS", d.queue_events),
            queue_bytes=env_int(env, "AUDIT_QUEUE_BYTES", d.queue_bytes),
            linger_ms=env_int(env, "AUDIT_LINGER_MS", d.linger_ms),
            envelope_events=env_int(env, "AUDIT_ENVELOPE_EVENTS", d.envelope_events),
            envelope_bytes=env_int(env, "AUDIT_ENVELOPE_BYTES", d.envelope_bytes),
            compression=compression,
            exit_timeout_s=float(env_int(env, "AUDIT_EXIT_TIMEOUT_S", int(d.exit_timeout_s))),
            spool_key=_spool_key(env),
        )


def _spool_key(env: Mapping[str, str]) -> bytes | None:
    from agent_audit.producers.spool_cipher import parse_spool_key  # noqa: PLC0415

    raw = env.get("AUDIT_SPOOL_KEY")
    return parse_spool_key(raw) if raw else None

