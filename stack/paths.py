"""Where the local stack keeps its downloads (cache) and its running state (data, logs, pids).

Both live outside the repository. As root they go under /var/cache, which the unprivileged
Elasticsearch user can traverse (/root cannot be).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StackPaths"]

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
