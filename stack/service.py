"""What the stack's two servers share: a pidfile, a port, a log, and the up/down life cycle.

A subclass says how to launch itself (``_launch``) and how to tell it is ready (``_ready``); the
checks around them (already running, port taken by a stranger, wait with the log tail on failure)
are the same for Kafka and Elasticsearch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from agent_audit.stack.process import StackError, alive, port_open, stop, wait_until

__all__ = ["HOST", "LocalService"]

HOST = "127.0.0.1"


class LocalService(ABC):
    name: str  # as users know it, in messages
    takeover_hint: str  # the setting that points the project at someone else's server instead
    stop_timeout: float = 30.0

    def __init__(self, state_dir: Path, port: int, heap: str, pidfile: str, log: str) -> None:
        self.port = port
        self.heap = heap
        self.dir = state_dir
        self.pidfile = state_dir / pidfile
        self.log = state_dir / log

    def running(self) -> bool:
        return alive(self.pidfile) is not None

    def up(self, timeout: float = 120.0) -> str:
        """Start the server unless ours already runs; return 'started' or 'already running'."""
        if self.running() and port_open(HOST, self.port):
            return "already running"
        if port_open(HOST, self.port):
            raise StackError(f"port {self.port} is taken by a process that is not this stack's {self.name}; "
                             f"stop it or set {self.takeover_hint} to use it instead")
        self._launch()
        wait_until(self._ready, timeout=timeout, what=self.name, log=self._wait_log(), pidfile=self.pidfile)
        return "started"

    def down(self, timeout: float | None = None) -> bool:
        """Stop the server; ``timeout=0`` kills it at once (what a crash or power loss looks like)."""
        return stop(self.pidfile, timeout=self.stop_timeout if timeout is None else timeout)

    @abstractmethod
    def _launch(self) -> None:
        """Install if needed, write the config and start the process detached."""

    @abstractmethod
    def _ready(self) -> bool:
        """True once the server answers requests."""

    def _wait_log(self) -> Path:
        """The log whose tail explains a start that failed."""
        return self.log
