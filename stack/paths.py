"""Where the local stack keeps its downloads (cache) and its running state (data, logs, pids).

Both live outside the repository. As root they go under /var/cache, which the unprivileged
Elasticsearch user can traverse (/root cannot be).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StackPaths", "write_private_env"]

KAFKA_VERSION = "4.1.1"
ES_VERSION = "8.19.8"


@dataclass(frozen=True)
class StackPaths:
    cache: Path
    state: Path

    @classmethod
    def from_env(cls) -> StackPaths:
        default = Path("/var/cache/agent-audit") if os.geteuid() == 0 else Path.home() / ".cache/agent-audit"
        cache = Path(os.environ.get("AUDIT_CACHE_DIR", default))
        state = Path(os.environ.get("AUDIT_STACK_DIR", cache / "stack"))
        return cls(cache=cache, state=state)

    @property
    def kafka_libs(self) -> Path:
        return self.cache / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def es_zip_dir(self) -> Path:
        return self.cache / "downloads"

    @property
    def es_home(self) -> Path:
        return self.cache / f"elasticsearch-{ES_VERSION}"

    @property
    def kafka_state(self) -> Path:
        return self.state / "kafka"

    @property
    def es_state(self) -> Path:
        return self.state / "elasticsearch"


def write_private_env(path: Path, env: dict[str, str]) -> Path:
    """``env`` as a shell file only its owner can read: it holds credentials, which a terminal,
    a CI log or a screen share would otherwise show."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{k}={shlex.quote(v)}\n" for k, v in env.items())
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
    return path
