"""Run the pipeline's own workers (stream, sink, archive) as child processes: for the demo and the tests.

In production they are separate deployments (docker-compose.yml, or any process supervisor); here
one call starts both against the given environment and one call stops them gracefully.
Several workers of one kind run side by side under names like ``sink-2`` (the kind before the dash):
same group, as scaled-out deployments are.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agent_audit.stack.process import log_tail

__all__ = ["Workers", "running_workers"]

COMMANDS = {
    "stream": [sys.executable, "-m", "agent_audit.stream", "worker", "-l", "info", "--without-web"],
    "sink": [sys.executable, "-m", "agent_audit.sinks"],
    "archive": [sys.executable, "-m", "agent_audit.sinks.archive"],
}


@dataclass
class Workers:
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, env: Mapping[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen(COMMANDS[name.partition("-")[0]], env=dict(env), stdout=out,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def kill(self, name: str) -> None:
        """SIGKILL: what a crash looks like (tests use it to prove nothing is lost)."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(10)

    def pause(self, name: str) -> None:
        """SIGSTOP: a worker frozen (a long GC, a stalled VM) misses its heartbeats and loses its group."""
        self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)

    def stop(self, name: str, timeout: float = 30.0) -> int | None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            return None

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = log_tail(self.log_dir / f"{name}.log")
                raise RuntimeError(f"{name} worker exited with {proc.returncode}:\n{tail}")


@contextmanager
def running_workers(env: Mapping[str, str], log_dir: Path,
                    names: tuple[str, ...] = ("stream", "sink")) -> Iterator[Workers]:
    workers = Workers(log_dir)
    full_env = {**os.environ, **env}
    try:
        for name in names:
            workers.start(name, full_env)
        yield workers
    finally:
        workers.stop_all()
